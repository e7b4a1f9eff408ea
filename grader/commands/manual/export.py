"""`grader manual export`: one CSV for tutors, question by question across all hand-ins, and the same as HTML.

Grading one question across all groups is faster and fairer than one group after another, so the rows are
ordered by question (rubric order), then by tutor check, then by hand-in; near-identical answers sit next to
each other and share a `similar_group` label, so a tutor scores them once (and sees possible copying). Each
row has the extracted answer, where it was found, why a human must look (a scan, margin notes, an unreadable
file), the hint (key points covered, words against the limit, citation) and empty `points` and `comment`
cells; a check already scored has its current points and comment filled in, with who scored it, when, and the
score's id, so exporting again after an import shows the state of the gradebook and a later import can tell
whether another tutor changed a score meanwhile. `grader manual import` reads the same file back.
"""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from grader.store.gradebook import Gradebook, GradebookError, ManualScore, StoredResult
from grader.commands.manual.page import write_tutor_page
from grader.commands.manual.questions import ManualError, ManualItem, load_answers, manual_items, prose_questions
from grader.commands.manual.reading import DEFAULT_LIMITS, ReadLimits, answer_files, many_hand_in_answers
from grader.prose.extract import UNASSIGNED, AnswerText
from grader.prose.hints import ProseHint, hint_for_answer
from grader.prose.similarity import group_similar_answers
from grader.execution.ran_notebook import Figure, read_figures
from grader.rubric.load import LoadedRubric, RubricError, load_sheet
from grader.text.safe import spreadsheet_inert

COLUMNS = ["sheet", "question", "check", "max_points", "hand_in", "team", "students", "answer", "source",
           "needs_human", "reasons", "margin_notes", "hint", "similar_group", "same_answer_as", "automatic",
           "points", "comment", "scored_by", "scored_at", "score_id"]
# Cells a spreadsheet would run as a formula get an apostrophe (grader.text.safe); import takes it off again.

# The rows of text that extraction assigned to no question: one per hand-in that has any, after the questions'
# rows, never scored (import refuses points on them). Nothing a hand-in wrote disappears from the export.
UNASSIGNED_ITEM = ManualItem(question_id=UNASSIGNED, title="text assigned to no question", check_id="",
                             max_points=0.0, description=("Text of the hand-in that the grader could not assign to "
                                                          "any question. Check whether it answers one, and score "
                                                          "it on that question's row."), model=None)


@dataclass
class TutorRow:
    """One tutor check of one hand-in, as the export shows it."""

    sheet: str
    item: ManualItem
    result: StoredResult
    answer: AnswerText
    hint: ProseHint | None
    similar_group: str = ""  # "1c-2": the second group of alike answers to 1c; "" when the answer is unlike all
    same_answer_as: str = ""  # the group's first hand-in, on the other members' rows
    automatic: str = ""  # the question's automatic checks, for context ("yes-no: passed 0.5/0.5")

    @property
    def hand_in(self) -> str:
        return self.result.record.file_name

    @property
    def unassigned(self) -> bool:
        """This row shows the hand-in's text that no question owns (nothing to score on it)."""
        return self.item is UNASSIGNED_ITEM

    @property
    def students(self) -> str:
        return "; ".join(f"{s.name or '(no name)'} ({s.student_id})" if s.student_id else (s.name or "(no name)")
                         for s in self.result.record.students)

    @property
    def current(self) -> tuple[float, str] | None:
        """The points and comment stored for this check, if a tutor scored it already."""
        score = self.stored
        return (score.points, score.comment) if score is not None else None

    @property
    def stored(self) -> ManualScore | None:
        return self.result.manual.get((self.item.question_id, self.item.check_id))

    def cells(self) -> dict[str, str]:
        record, answer, current, stored = self.result.record, self.answer, self.current, self.stored
        return {
            "sheet": self.sheet, "question": self.item.question_id, "check": self.item.check_id,
            "max_points": "" if self.unassigned else f"{self.item.max_points:g}", "hand_in": self.hand_in, "team": record.folder,
            "students": self.students, "answer": answer.text, "source": answer.source,
            "needs_human": "yes" if answer.needs_human else "no", "reasons": "; ".join(answer.reasons),
            "margin_notes": "\n---\n".join(answer.margin_notes), "hint": self.hint.summary if self.hint else "",
            "similar_group": self.similar_group, "same_answer_as": self.same_answer_as,
            "automatic": self.automatic,
            "points": f"{current[0]:g}" if current else "", "comment": current[1] if current else "",
            # Who scored it and which score this is: import refuses a row another tutor changed since.
            "scored_by": stored.tutor if stored else "",
            "scored_at": f"{stored.entered_at:%Y-%m-%d %H:%M} UTC" if stored else "",
            "score_id": str(stored.id) if stored and stored.id is not None else "",
        }


@dataclass
class ExportSummary:
    csv_path: Path
    html_path: Path
    rows: list[TutorRow] = field(default_factory=list)

    @property
    def hand_ins(self) -> int:
        return len({row.hand_in for row in self.rows})

    @property
    def needs_human(self) -> int:
        return sum(row.answer.needs_human for row in self.rows if not row.unassigned)

    @property
    def unassigned(self) -> int:
        """Hand-ins with text that no question owns."""
        return sum(row.unassigned for row in self.rows)

    @property
    def similar_groups(self) -> int:
        return len({(row.item.question_id, row.item.check_id, row.similar_group) for row in self.rows
                    if row.similar_group})


def export_manual(sheet: str, out_file: Path, *, results_dir: Path | None = None, course: Path = Path("."),
                  db: Path | None = None, workers: int | None = None,
                  limits: ReadLimits = DEFAULT_LIMITS) -> ExportSummary:
    """Write OUT_FILE (CSV) and OUT_FILE with .html for every tutor check of every graded hand-in of `sheet`.

    results_dir: the `grader grade --out` folder (default: the folder of out_file); it holds the unpacked
    hand-ins and, unless `db` says otherwise, gradebook.db. Raises ManualError for usage problems.
    """
    out_file = Path(out_file)
    html_path = out_file.with_suffix(".html")
    if html_path == out_file:
        raise ManualError(f"{out_file}: give the CSV file's name (e.g. manual-{sheet}.csv); the HTML page is "
                          "written beside it")
    results_dir = Path(results_dir) if results_dir is not None else out_file.parent
    loaded = load_course_rubric(sheet, course)
    items = manual_items(loaded, load_answers(loaded))
    results = stored_results(gradebook_path(results_dir, db), loaded.rubric.sheet)
    questions = prose_questions(items)
    jobs = [(results_dir / r.record.folder / "files", answer_files(r.record.main_file, r.record.written_answers))
            for r in results]
    answers = dict(zip((r.record.file_name for r in results), many_hand_in_answers(
        jobs, questions, workers=workers, limits=limits, unassigned=True)))
    rows = tutor_rows(loaded.rubric.sheet, items, results, answers)
    loose = without_shared_lines({r.record.file_name: answers[r.record.file_name][UNASSIGNED] for r in results
                                  if UNASSIGNED in answers[r.record.file_name]})
    rows += [TutorRow(sheet=loaded.rubric.sheet, item=UNASSIGNED_ITEM, result=r, answer=loose[r.record.file_name],
                      hint=None) for r in results if r.record.file_name in loose]
    out_file.parent.mkdir(parents=True, exist_ok=True)
    write_tutor_csv(rows, out_file)
    write_tutor_page(rows, items, html_path, title=f"{loaded.rubric.title}: written answers for tutors",
                     csv_name=out_file.name, figures=_figures_for_page(results, results_dir, html_path))
    return ExportSummary(csv_path=out_file, html_path=html_path, rows=rows)


def _figures_for_page(results: list[StoredResult], results_dir: Path, page: Path
                      ) -> dict[str, list[tuple[str, Figure]]]:
    """Per hand-in, the figures its run drew, each with its URL relative to the tutors' page."""
    found = {}
    for result in results:
        folder = Path(results_dir) / result.record.folder
        figures = read_figures(folder)
        if figures:
            base = Path(os.path.relpath(folder.resolve(), page.parent.resolve())).as_posix()
            found[result.record.file_name] = [(quote(f"{base}/{f.file}"), f) for f in figures]
    return found


def tutor_rows(sheet: str, items: list[ManualItem], results: list[StoredResult],
               answers: dict[str, dict[str, AnswerText]]) -> list[TutorRow]:
    """The export's rows: by question and check in rubric order; alike answers next to each other."""
    rows: list[TutorRow] = []
    groups_of: dict[str, list[list[str]]] = {}  # per question: the groups of alike answers
    for item in items:
        scorable = {r.record.file_name: r for r in results if _pending(r, item)}
        texts = {name: answers[name][item.question_id] for name in scorable}
        if item.question_id not in groups_of:
            groups_of[item.question_id] = group_similar_answers(
                {name: answer.text for name, answer in texts.items() if answer.found})
        groups = [[name for name in members if name in scorable] for members in groups_of[item.question_id]]
        group_of = {name: (number, members) for number, members in enumerate(groups, start=1) for name in members}
        placed: set[str] = set()
        for name in scorable:  # file-name order; a group is placed where its first member is
            if name in placed:
                continue
            number, members = group_of.get(name, (0, [name]))
            for member in members:
                placed.add(member)
                label = f"{item.question_id}-{number}" if number and len(members) > 1 else ""
                rows.append(TutorRow(
                    sheet=sheet, item=item, result=scorable[member], answer=texts[member],
                    hint=_hint(item, texts[member]), similar_group=label,
                    same_answer_as=members[0] if label and member != members[0] else "",
                    automatic=_automatic(scorable[member], item)))
    return rows


def without_shared_lines(texts: dict[str, AnswerText]) -> dict[str, AnswerText]:
    """Unassigned text without the lines that more than half of at least three hand-ins share: those are the
    sheet's own text (title, instructions) copied by everyone, not something a group wrote. Hand-ins left with
    nothing but piece headers are dropped."""
    if len(texts) < 3:
        return texts
    def key(line: str) -> str:
        return " ".join(line.casefold().split())
    counts = Counter(k for answer in texts.values() for k in {key(line) for line in answer.text.splitlines()
                                                            if line.strip() and not line.startswith("[")})
    shared = {k for k, n in counts.items() if n * 2 > len(texts)}
    kept = {}
    for name, answer in texts.items():
        pieces = [[header, *[line for line in body if key(line) not in shared]]
                  for header, *body in _pieces(answer.text)]
        pieces = [piece for piece in pieces if any(line.strip() for line in piece[1:])]
        if pieces:
            text = "\n\n".join("\n".join(piece).strip() for piece in pieces)
            kept[name] = answer.model_copy(update={"text": text, "source": "; ".join(
                piece[0].strip("[]") for piece in pieces if piece[0])})
    return kept


def _pieces(text: str) -> list[list[str]]:
    """Unassigned text split into its pieces: [header line, body lines...] ("[sheet02.ipynb, cell 4]" heads each)."""
    pieces: list[list[str]] = []
    previous = ""
    for line in text.splitlines():
        if re.fullmatch(r"\[[^\]\n]{1,200}\]", line) and not previous.strip():
            pieces.append([line])
        elif pieces:
            pieces[-1].append(line)
        else:
            pieces.append(["", line])
        previous = line
    return pieces


def write_tutor_csv(rows: list[TutorRow], path: Path) -> Path:
    """UTF-8 with a byte-order mark (so spreadsheets read umlauts right), comma-separated, one header row."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: spreadsheet_inert(value) for key, value in row.cells().items()})
    temporary.replace(path)
    return path


def load_course_rubric(sheet: str, course: Path) -> LoadedRubric:
    try:
        return load_sheet(sheet, Path(course))
    except (FileNotFoundError, RubricError) as exc:
        raise ManualError(str(exc)) from None


def gradebook_path(results_dir: Path, db: Path | None) -> Path:
    path = Path(db) if db is not None else Path(results_dir) / "gradebook.db"
    if not path.is_file():
        raise ManualError(f"{path}: no gradebook here; run `grader grade` first, or name the grading's output "
                          "folder with --results (or the gradebook with --db)")
    return path


def stored_results(path: Path, sheet: str) -> list[StoredResult]:
    try:
        with Gradebook.open(path) as book:
            results = book.results(sheet)
    except GradebookError as exc:
        raise ManualError(str(exc)) from None
    if not results:
        raise ManualError(f"{path}: no graded hand-ins for {sheet}")
    return results


def _pending(result: StoredResult, item: ManualItem) -> bool:
    return any(c.question_id == item.question_id and c.check_id == item.check_id and c.status == "pending"
               for q in result.record.questions for c in q.checks)


def _hint(item: ManualItem, answer: AnswerText) -> ProseHint | None:
    if item.model is None or not answer.found:
        return None
    model = item.model
    return hint_for_answer(answer.text, model.key_points, model.word_limit, model.cite_required,
                           sentence_limit=model.sentence_limit)


def _automatic(result: StoredResult, item: ManualItem) -> str:
    checks = [c for q in result.record.questions if q.question_id == item.question_id for c in q.checks
              if c.status != "pending"]
    return "; ".join(f"{c.check_id}: {c.status} {c.points:g}/{c.max_points:g}" for c in checks)

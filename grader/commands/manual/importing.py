"""`grader manual import`: the tutors' filled-in export back into the gradebook, all or nothing.

Everything is checked before anything is written: one sheet, known hand-ins, questions and checks, checks
that a tutor scores, points a number within 0 … the check's points (empty: not scored yet), no row twice.
Any problem is reported with its line in the file (and its spreadsheet row, when an answer spanning several
lines makes them differ) and nothing changes. Otherwise the new scores are stored in one transaction and the
outputs (gradebook.csv, results.json, feedback) are rebuilt. A row whose points and comment equal the stored
score is skipped, so importing the same file twice changes nothing, not even the gradebook's rows.

Two tutors: every score records who entered it and when, and the gradebook keeps every score ever entered.
The export's `score_id` column says which stored score each row showed. A row whose check another tutor has
scored since then is refused (the rest are stored) with a message naming both tutors, unless `overwrite`; a row
the tutor left as the export showed it is not a change, so a newer score by someone else stays.

Spreadsheets save CSV their own way: a byte-order mark, semicolons or tabs instead of commas, "0,5" for 0.5
and the apostrophe the export put before text starting with = + - @ are all understood.
"""

from __future__ import annotations

import csv
import getpass
import io
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from grader.store.gradebook import (UNKNOWN_BASE, Gradebook, GradebookError, ManualConflict, ManualScore, NewManualScore,
                              StoredResult)
from grader.commands.manual.export import gradebook_path, load_course_rubric
from grader.commands.manual.questions import ManualError
from grader.prose.extract import UNASSIGNED
from grader.reports.outputs import write_outputs
from grader.text.safe import spreadsheet_text

REQUIRED_COLUMNS = ("sheet", "question", "check", "hand_in", "points", "comment")
SCORE_ID = "score_id"  # optional: which stored score the export showed (files from older exports lack it)
_DECIMAL_COMMA = re.compile(r"^\d+,\d+$")
_SAME = 1e-9


class ManualImportError(ManualError):
    """The file has problems; nothing was written. `problems` are sentences naming a line each."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path, self.problems = Path(path), problems
        super().__init__(f"{path}: {len(problems)} problem(s), nothing was imported:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class ScoreLine:
    """One filled-in row of the file."""

    line: int  # first line of the row in the file (1 = header)
    row: int  # its row in a spreadsheet (1 = header)
    sheet: str
    hand_in: str
    question_id: str
    check_id: str
    points_text: str
    comment: str
    score_id_text: str | None = None  # None: the file has no score_id column

    @property
    def where(self) -> str:
        return f"line {self.line}" if self.line == self.row else f"line {self.line} (spreadsheet row {self.row})"


@dataclass
class ImportSummary:
    sheet: str
    scored: list[NewManualScore] = field(default_factory=list)  # new or changed scores, now stored
    unchanged: int = 0  # rows whose points and comment were already stored, or left as the export showed them
    open: int = 0  # rows without points: not scored yet
    refused: list[str] = field(default_factory=list)  # rows another tutor scored since the export, one sentence each
    outputs: list[Path] = field(default_factory=list)


def import_manual(path: Path, *, results_dir: Path | None = None, course: Path = Path("."), db: Path | None = None,
                  tutor: str | None = None, now: datetime | None = None, overwrite: bool = False) -> ImportSummary:
    """Store the scores of a filled-in export and rebuild the outputs of `results_dir` (default: the file's folder).

    Raises ManualImportError (every problem, with line numbers) and writes nothing when anything is wrong;
    ManualError for a missing gradebook or rubric. Rows another tutor scored since the export are left out
    and listed in `refused` (the others are stored), unless `overwrite`.
    """
    path = Path(path)
    results_dir = Path(results_dir) if results_dir is not None else path.parent
    lines = read_score_lines(path)
    sheet = _one_sheet(path, lines)
    loaded = load_course_rubric(sheet, course)
    db_path = gradebook_path(results_dir, db)
    try:
        book = Gradebook.open(db_path)
    except GradebookError as exc:
        raise ManualError(str(exc)) from None
    with book:
        results = book.results(sheet)
        if not results:
            raise ManualError(f"{db_path}: no graded hand-ins for {sheet}")
        question_ids = {q.id for q in loaded.rubric.questions}
        summary = ImportSummary(sheet=sheet)
        history = {score.id: score for score in book.manual_history(sheet)}
        line_of: dict[tuple[str, str, str], ScoreLine] = {}
        problems = _check(lines, {r.record.file_name: r for r in results}, question_ids, history, summary, line_of)
        if problems:
            raise ManualImportError(path, problems)
        if summary.scored:
            tutor = tutor or _default_tutor()
            conflicts = book.add_manual_scores(sheet, summary.scored, tutor=tutor, refuse_conflicts=not overwrite)
            for conflict in conflicts:
                score = conflict.score
                summary.scored.remove(score)
                summary.refused.append(_conflict_message(
                    line_of[(score.file_name, score.question_id, score.check_id)], conflict, history))
            if summary.scored:
                summary.outputs = write_outputs(book.results(sheet), loaded, results_dir,
                                                now=now or datetime.now(UTC), similarity=book.similarity(sheet))
    return summary


def read_score_lines(path: Path) -> list[ScoreLine]:
    """The file's rows with their line numbers. Raises ManualImportError for a file that is no such table."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ManualError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ManualImportError(path, [(f"byte {exc.start}: the file is not UTF-8 text; save it as "
                                        "\"CSV UTF-8\"")]) from None
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise ManualImportError(path, ["line 1: the file is empty; expected the export's header row"]) from None
    except csv.Error as exc:
        raise ManualImportError(path, [f"line 1: {exc}"]) from None
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise ManualImportError(path, [(f"line 1: the header lacks the column(s) {', '.join(missing)}; "
                                        "import the file `grader manual export` wrote")])
    index = {name: header.index(name) for name in REQUIRED_COLUMNS}
    score_id = header.index(SCORE_ID) if SCORE_ID in header else None
    rows: list[ScoreLine] = []
    problems: list[str] = []
    last_line, row_number = reader.line_num, 1
    while True:
        start = last_line + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(f"line {start}: {exc}")
            break
        last_line = reader.line_num
        row_number += 1
        if not any(cell.strip() for cell in cells):
            continue
        extra = [cell for cell in cells[len(header):] if cell.strip()]
        row = ScoreLine(line=start, row=row_number, **{
            key: _cell(cells, index[column]) for key, column in (
                ("sheet", "sheet"), ("hand_in", "hand_in"), ("question_id", "question"), ("check_id", "check"),
                ("points_text", "points"), ("comment", "comment"))},
            score_id_text=_cell(cells, score_id) if score_id is not None else None)
        if extra:
            problems.append(f"{row.where}: {len(extra)} more cell(s) than the header has columns")
        if row.question_id == UNASSIGNED:
            # The export's rows of text assigned to no question: shown to read, never scored.
            if row.points_text.strip():
                problems.append(f"{row.where}: the row of text assigned to no question takes no points; enter them "
                                "on the row of the question that text answers")
            continue
        rows.append(row)
    if problems:
        raise ManualImportError(path, problems)
    return rows


def parse_points(text: str) -> float | None:
    """None for an empty cell; the number otherwise ("0.5", "0,5", "1"). Raises ValueError for anything else."""
    text = spreadsheet_text(text.strip())
    if not text:
        return None
    if _DECIMAL_COMMA.match(text):
        text = text.replace(",", ".")
    value = float(text)  # ValueError for text
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _check(lines: list[ScoreLine], results: dict[str, StoredResult], question_ids: set[str],
           history: dict[int | None, ManualScore], summary: ImportSummary,
           line_of: dict[tuple[str, str, str], ScoreLine]) -> list[str]:
    problems: list[str] = []
    seen: dict[tuple[str, str, str], ScoreLine] = {}
    for line in lines:
        result = results.get(line.hand_in)
        if result is None:
            problems.append(f"{line.where}: unknown hand-in {line.hand_in!r}; the gradebook has no graded "
                            f"hand-in of that name for {line.sheet}")
            continue
        if line.question_id not in question_ids:
            problems.append(f"{line.where}: unknown question {line.question_id!r} (not in the rubric of {line.sheet})")
            continue
        check = next((c for q in result.record.questions for c in q.checks
                      if (c.question_id, c.check_id) == (line.question_id, line.check_id)), None)
        if check is None:
            problems.append(f"{line.where}: question {line.question_id} has no check {line.check_id!r}")
            continue
        if check.status != "pending":
            problems.append(f"{line.where}: {line.question_id}/{line.check_id} is graded automatically, not by a "
                            "tutor; leave it out")
            continue
        key = (line.hand_in, line.question_id, line.check_id)
        if key in seen:
            problems.append(f"{line.where}: {line.question_id}/{line.check_id} of {line.hand_in!r} is already on "
                            f"{seen[key].where}")
            continue
        seen[key] = line
        try:
            points = parse_points(line.points_text)
        except ValueError:
            problems.append(f"{line.where}: points {line.points_text.strip()!r} is not a number")
            continue
        comment = spreadsheet_text(line.comment.strip())
        if points is None:
            if comment:
                problems.append(f"{line.where}: a comment without points; enter the points too")
            else:
                summary.open += 1
            continue
        if not 0 <= points <= check.max_points:
            problems.append(f"{line.where}: {points:g} points is outside 0…{check.max_points:g} for "
                            f"{line.question_id}/{line.check_id}")
            continue
        try:
            based_on = _based_on(line.score_id_text, history, line)
        except ValueError as exc:
            problems.append(f"{line.where}: {exc}")
            continue
        stored = result.manual.get((line.question_id, line.check_id))
        shown = history.get(based_on) if based_on not in (None, UNKNOWN_BASE) else None
        if _same(stored, points, comment) or (shown is not None and _same(shown, points, comment)):
            summary.unchanged += 1  # already stored, or left as the export showed it (a newer score stays)
            continue
        summary.scored.append(NewManualScore(line.hand_in, line.question_id, line.check_id, points, comment,
                                             based_on=based_on))
        line_of[key] = line
    return problems


def _same(score: ManualScore | None, points: float, comment: str) -> bool:
    return score is not None and abs(score.points - points) < _SAME and score.comment == comment


def _based_on(text: str | None, history: dict[int | None, ManualScore], line: ScoreLine) -> int | None:
    """The stored score the export showed on this row: its id, None for none, UNKNOWN_BASE for a file without
    the column. Raises ValueError for a cell that is not one of the gradebook's scores of this check."""
    if text is None:
        return UNKNOWN_BASE
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or int(text) not in history:
        raise ValueError(f"{SCORE_ID} {text!r} is not a score in this gradebook; leave the column as the export "
                         "wrote it")
    shown = history[int(text)]
    if (shown.file_name, shown.question_id, shown.check_id) != (line.hand_in, line.question_id, line.check_id):
        raise ValueError(f"{SCORE_ID} {text} belongs to {shown.question_id}/{shown.check_id} of "
                         f"{shown.file_name!r}, not to this row; leave the column as the export wrote it")
    return int(text)


def _conflict_message(line: ScoreLine, conflict: ManualConflict, history: dict[int | None, ManualScore]) -> str:
    score, current = conflict.score, conflict.current
    shown = history.get(score.based_on) if score.based_on not in (None, UNKNOWN_BASE) else None
    if score.based_on == UNKNOWN_BASE:
        saw = "this file does not say which score it showed"
    elif shown is None:
        saw = "your export showed no score"
    else:
        saw = f"your export showed {_describe(shown)} by {shown.tutor}"
    return (f"{line.where}: {score.question_id}/{score.check_id} of {score.file_name!r}: {current.tutor} entered "
            f"{_describe(current)} on {current.entered_at:%Y-%m-%d %H:%M} UTC, after your export ({saw}); "
            f"your {score.points:g} ({conflict.tutor}) was not imported. Compare the two, then import again with "
            f"--overwrite to replace {current.tutor}'s score.")


def _describe(score: ManualScore) -> str:
    return f"{score.points:g} points" + (f" (\"{score.comment}\")" if score.comment else "")


def _one_sheet(path: Path, lines: list[ScoreLine]) -> str:
    sheets = [line.sheet for line in lines if line.sheet]
    if not sheets:
        raise ManualImportError(path, ["no row names a sheet; import the file `grader manual export` wrote"])
    first = sheets[0]
    others = [f"{line.where}: sheet {line.sheet!r}, but the file is for {first!r}; import one sheet at a time"
              for line in lines if line.sheet != first]
    if others:
        raise ManualImportError(path, others)
    return first


def _cell(cells: list[str], index: int) -> str:
    return cells[index].strip() if index < len(cells) else ""


def _default_tutor() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "tutor"

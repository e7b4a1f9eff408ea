"""`grader export`: the per-student grades of a graded sheet in a course system's import format.

    export_grades(Path("out/sheet02"), Path("moodle.csv"), fmt="moodle", roster=Path("participants.csv"))

Reads the gradebook (never changes it), refuses while points are not final unless told otherwise, matches the
roster, and writes the file in one go (same gradebook and options, same bytes). See docs/exports.md.
"""

from __future__ import annotations

import csv
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from grader.commands.export.formats import FORMATS, ExportSettings, Table
from grader.commands.export.matching import StudentConflict, match_students
from grader.commands.export.points import StudentPoints, student_points
from grader.commands.export.roster import RosterError, read_roster
from grader.store.gradebook import Gradebook, GradebookError, StoredResult
from grader.rubric.load import RubricError, load_sheet
from grader.text.safe import spreadsheet_inert


class ExportError(Exception):
    """The export cannot be written (nothing was); the message says why and what to do."""


@dataclass
class ExportSummary:
    path: Path
    format: str
    sheet: str
    rows: int  # student rows written
    with_points: int
    without_hand_in: int
    roster_kind: str | None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how to import the file


def export_grades(results_dir: Path, out_file: Path, *, fmt: str, assignment: str | None = None,
                  roster: Path | None = None, missing: Literal["empty", "zero"] = "empty",
                  allow_pending: bool = False, sheet: str | None = None, course: Path = Path("."),
                  db: Path | None = None, exclude: Sequence[str] = (),
                  pass_points: float | None = None) -> ExportSummary:
    """Write `out_file` in format `fmt` (moodle, ilias, canvas, csv) from the gradebook in `results_dir`."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if missing not in ("empty", "zero"):
        raise ExportError(f"--missing {missing!r}: use empty or zero")
    sheet, results = _load_results(Path(results_dir), db, sheet)
    results = _without(results, exclude)
    try:
        rubric = load_sheet(sheet, Path(course), resolve=False).rubric
    except (FileNotFoundError, RubricError) as exc:
        raise ExportError(str(exc)) from None
    students = list(student_points(results, rubric.rounding))
    warnings = _not_final(students, allow_pending, [q.id for q in rubric.questions])
    try:
        participants = read_roster(roster) if roster is not None else None
        matching = match_students(students, participants)
    except RosterError as exc:
        raise ExportError(str(exc)) from None
    except StudentConflict as exc:
        raise ExportError("a student can have one grade only:\n  " + "\n  ".join(exc.problems)
                          + "\nkeep one hand-in per student: leave the others out with --exclude HAND_IN") from None
    settings = ExportSettings(assignment=assignment or rubric.title, title=rubric.title, max_points=rubric.max_points,
                              missing=missing, pass_points=pass_points)
    table = FORMATS[fmt].table(matching.rows, settings)
    write_table(table, Path(out_file), bom=FORMATS[fmt].bom)
    return ExportSummary(
        path=Path(out_file), format=fmt, sheet=sheet, rows=len(table.rows),
        with_points=sum(r.student is not None for r in table.sources),
        without_hand_in=sum(r.student is None for r in table.sources),
        roster_kind=participants.kind if participants else None,
        warnings=warnings + matching.warnings + table.warnings, notes=table.notes)


def write_table(table: Table, path: Path, *, bom: bool) -> Path:
    """CSV, comma-separated, CRLF line ends (RFC 4180), every cell on one line and guarded against formulas."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(table.header)
        writer.writerows([[spreadsheet_inert(_one_line(cell)) for cell in row] for row in table.preamble + table.rows])
    temporary.replace(path)
    return path


def _one_line(text: str) -> str:
    """NFC, and line breaks and tabs as spaces: line-based CSV readers (older Moodle) split a cell at a break."""
    text = unicodedata.normalize("NFC", text)
    return " ".join(text.split()) if any(c in text for c in "\r\n\t") else text


def _load_results(results_dir: Path, db: Path | None, sheet: str | None) -> tuple[str, list[StoredResult]]:
    path = Path(db) if db is not None else results_dir / "gradebook.db"
    if not path.is_file():
        raise ExportError(f"{path}: no gradebook here; give the folder `grader grade --out` wrote (or the "
                          "gradebook with --db)")
    try:
        with Gradebook.open(path) as book:
            sheets = sorted({row["sheet"] for row in book.runs()})
            if sheet is None:
                if len(sheets) != 1:
                    raise ExportError(f"{path}: " + (f"holds sheets {', '.join(sheets)}: name one with --sheet"
                                                     if sheets else "nothing was graded into this gradebook yet"))
                sheet = sheets[0]
            results = book.results(sheet)
    except GradebookError as exc:
        raise ExportError(str(exc)) from None
    if not results:
        raise ExportError(f"{path}: no graded hand-ins for {sheet}" + (f" (it holds {', '.join(sheets)})"
                                                                         if sheets else ""))
    return sheet, results


def _without(results: list[StoredResult], exclude: Sequence[str]) -> list[StoredResult]:
    names = {unicodedata.normalize("NFC", name) for name in exclude}
    unknown = sorted(names - {r.record.file_name for r in results})
    if unknown:
        raise ExportError(f"--exclude: no hand-in named {', '.join(unknown)} in the gradebook")
    return [r for r in results if r.record.file_name not in names]


def _not_final(students: list[StudentPoints], allow_pending: bool, question_order: list[str]) -> list[str]:
    """Refuse (or, allowed, warn) while tutor checks are open or a grading failed; say which and how many."""
    hand_ins = {s.hand_in: s for s in students if not s.final}
    if not hand_ins:
        return []
    per_question = Counter(q for s in hand_ins.values() for q in s.pending)
    parts = []
    if per_question:
        # "1a, 2a in 6 hand-ins; 3d in 2 hand-ins": questions in rubric order, grouped by how many hand-ins
        order = {q: i for i, q in enumerate(question_order)}
        by_count: dict[int, list[str]] = {}
        for q in sorted(per_question, key=lambda q: order.get(q, len(order))):
            by_count.setdefault(per_question[q], []).append(q)
        parts.append("tutor checks not scored yet: " + "; ".join(
            f"{', '.join(qs)} in {n} hand-in{'s' if n > 1 else ''}"
            for n, qs in sorted(by_count.items(), reverse=True)))
    failed = sorted(name for name, s in hand_ins.items() if s.grading_failed)
    if failed:
        parts.append(f"grading failed (run `grader grade` again): {', '.join(failed)}")
    message = f"{len(hand_ins)} hand-in{'s' if len(hand_ins) > 1 else ''} not final: " + "; ".join(parts)
    if not allow_pending:
        raise ExportError(message + "\nscore the open checks (`grader manual export` / `import`), or pass "
                          "--allow-pending to export the points as they stand")
    return [message + " (exported as they stand: --allow-pending)"]

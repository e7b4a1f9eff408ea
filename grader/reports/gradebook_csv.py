"""gradebook.csv: one row per student, because the course system grades students, not teams.

Every member of a team gets the team's points. UTF-8 without a byte-order mark, comma-separated, one header
row; question columns are named by question id in rubric order. Points are auto + manual points; `total`
applies the late factor. Pending is not zero: a question still waiting entirely for a tutor is left empty,
`manual_pending` holds the points still waiting and `waiting_for_tutor` the questions they belong to
("1c:0.5 2a:1"). Text that a spreadsheet would run as a formula (a student-chosen file name starting
with '=', '+', '-', '@', TAB or CR, or such a character after a ';') gets an apostrophe: the one guard of
every CSV the grader writes, grader.text.safe.spreadsheet_inert.
"""

from __future__ import annotations

import csv
from pathlib import Path

from grader.store.gradebook import StoredResult
from grader.intake.naming import normalise_student_id
from grader.rubric.models import Rubric
from grader.text.safe import spreadsheet_inert

FIXED_COLUMNS = ["student_id", "name", "email", "team", "hand_in"]
TOTAL_COLUMNS = ["auto_points", "manual_points", "manual_pending", "waiting_for_tutor", "late", "late_factor",
                 "total", "max_points", "status", "flags", "flag_details", "error"]


def gradebook_rows(results: list[StoredResult], rubric: Rubric) -> list[dict[str, str]]:
    rows = []
    for result in results:
        record = result.record
        points = {q.question_id: _number(result.question_points(q)) for q in record.questions
                  if result.question_counted_max(q) or not result.question_pending(q)}
        waiting = " ".join(f"{q.question_id}:{result.question_pending(q):g}" for q in record.questions
                           if result.question_pending(q))
        codes = list(dict.fromkeys(flag.code for flag in record.flags))
        shared = {q.id: points.get(q.id, "") for q in rubric.questions}
        shared.update({
            "waiting_for_tutor": waiting,
            "team": record.folder, "hand_in": record.file_name,
            "auto_points": _number(record.auto_points), "manual_points": _number(result.manual_points),
            "manual_pending": _number(result.manual_pending), "late": _late(record.late, record.time_source),
            "late_factor": _number(record.late_factor), "total": _number(result.total),
            "max_points": _number(record.max_points), "status": record.status, "flags": " ".join(codes),
            "flag_details": " | ".join(f"{f.code}: {f.message}" for f in record.flags), "error": record.error or "",
        })
        students = record.students or [None]
        for student in students:
            rows.append({"student_id": (normalise_student_id(student.student_id) if student else None) or "",
                         "name": (student.name if student else None) or "",
                         "email": (student.email if student else None) or "", **shared})
    return [{key: spreadsheet_inert(value) for key, value in row.items()} for row in rows]


def write_gradebook_csv(results: list[StoredResult], rubric: Rubric, path: Path) -> Path:
    columns = FIXED_COLUMNS + [q.id for q in rubric.questions] + TOTAL_COLUMNS
    clash = set(FIXED_COLUMNS + TOTAL_COLUMNS) & {q.id for q in rubric.questions}
    if clash:
        raise ValueError(f"question ids {sorted(clash)} clash with gradebook.csv column names")
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(gradebook_rows(results, rubric))
    temporary.replace(path)
    return path


def _late(late: bool, time_source: str | None) -> str:
    """yes / no, or unknown when there was no hand-in time to judge by."""
    return "yes" if late else ("unknown" if time_source == "unknown" else "no")


def _number(value: float) -> str:
    return f"{value:g}"

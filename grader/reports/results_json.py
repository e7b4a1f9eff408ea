"""results.json in Gradescope's autograder schema: one test per rubric question, plus our flags and error.

Gradescope reads `score`, `execution_time`, `output`, `visibility`, `stdout_visibility` and `tests`
(`name`, `score`, `max_score`, `output`, `visibility`); `extra_data` is kept for the course's own tools.
A question with any hidden check is shown after the due date, so its result cannot be probed by resubmitting;
the other questions are visible at once. Hidden checks only say whether they passed.
"""

from __future__ import annotations

from typing import Any

from grader.gradebook import StoredResult
from grader.grading import QuestionScore
from grader.rubric.models import Rubric


def results_json(result: StoredResult, rubric: Rubric) -> dict[str, Any]:
    record = result.record
    tests = [_test(result, question) for question in record.questions]
    output = [f"{rubric.title}: {result.total:g} of {record.max_points:g} points"]
    if record.late_factor != 1.0:
        output.append(f"Late: the points are multiplied by {record.late_factor:g}. {record.lateness_message}")
    if record.error:
        output.append(f"Not graded automatically: {record.error}")
    if result.manual_pending:
        output.append(f"{result.manual_pending:g} points are still to be graded by a tutor.")
    if record.protections_off:
        output.append(f"Run without bubblewrap ({record.sandbox} sandbox).")
    return {
        "score": result.total,
        "execution_time": round(record.seconds),
        "output": "\n".join(output),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "flags": [{"code": flag.code, "message": flag.message} for flag in record.flags],
        "error": record.error,
        "extra_data": {
            "sheet": record.sheet,
            "hand_in": record.file_name,
            "status": record.status,
            "content_sha256": record.content_sha256,
            "students": [{"student_id": s.student_id, "name": s.name, "email": s.email} for s in record.students],
            "auto_points": record.auto_points,
            "manual_points": result.manual_points,
            "manual_pending": result.manual_pending,
            "max_points": record.max_points,
            "late": {"late": record.late, "minutes_late": record.minutes_late, "days_late": record.days_late,
                     "factor": record.late_factor, "message": record.lateness_message,
                     "submitted_at": record.submitted_at.isoformat() if record.submitted_at else None,
                     "time_source": record.time_source},
            "main_file": record.main_file,
            "main_file_reason": record.main_file_reason,
            "failed_cells": [{"cell": c.label, "status": c.status} for c in record.failed_cells],
            "sandbox": {"name": record.sandbox, "protections_off": record.protections_off},
        },
    }


def _test(result: StoredResult, question: QuestionScore) -> dict[str, Any]:
    lines = []
    for check in question.checks:
        points = f"{check.points:g}/{check.max_points:g}"
        if check.status == "pending":
            manual = result.manual_score(check)
            if manual is None:
                lines.append(f"{check.check_id}: to be graded by a tutor ({check.max_points:g} points)")
            else:
                lines.append(f"{check.check_id}: {manual.points:g}/{check.max_points:g} from your tutor"
                             + (f". {manual.comment}" if manual.comment else ""))
        elif check.visibility != "public":
            lines.append(f"{check.check_id}: hidden check {'passed' if check.passed else 'failed'} ({points})")
        else:
            lines.append(f"{check.check_id}: {check.status} ({points}). {check.message}".rstrip())
            lines.extend(f"Hint: {hint}" for hint in check.hints)
    hidden = any(c.visibility == "hidden" and c.status != "pending" for c in question.checks)
    return {
        "name": question.question_id,
        "score": result.question_points(question),
        "max_score": question.max_points,
        "output": "\n".join(lines),
        "visibility": "after_due_date" if hidden else "visible",
    }

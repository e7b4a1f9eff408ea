"""results.json in Gradescope's autograder schema: one test per rubric question, plus our flags and error.

Gradescope reads `score` (which overrides the sum of the tests), `execution_time`, `output`, `visibility`,
`stdout_visibility` and `tests` (`name`, `score`, `max_score`, `output`, `visibility`); `extra_data` is kept for
the course's own tools. Pending points never read as lost: a test holds only what has been graded (the automatic
checks and the tutor parts already scored), so a question still waiting entirely for a tutor is no test at all,
and a mixed one (1c: a yes/no check and an explanation) counts only its graded part in `score` and `max_score`.
The waiting parts are listed in `output` and in `extra_data.pending`.
A question with any hidden check is shown after the due date, so its result cannot be probed by resubmitting;
the other questions are visible at once. Hidden checks say whether they passed, and after the deadline also
what was checked and what went wrong.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from grader.store.gradebook import StoredResult
from grader.scoring.sheet import QuestionScore
from grader.reports.check_text import hidden_lines, tutor_line
from grader.rubric.models import Rubric


def results_json(result: StoredResult, rubric: Rubric, *, now: datetime | None = None) -> dict[str, Any]:
    """`now` (default: the clock) decides whether the deadline has passed, which unlocks hidden checks' details."""
    record = result.record
    after_deadline = (now or datetime.now().astimezone()) >= rubric.deadline.instant()
    tests = [_test(result, question, after_deadline) for question in record.questions
             if result.question_counted_max(question) or not result.question_pending(question)]
    pending = [{"question": q.question_id, "check": c.check_id, "points": c.max_points}
               for q in record.questions for c in q.checks if result.waiting(c)]
    so_far = " so far" if pending else ""
    output = [f"{rubric.title}: {result.total:g} of {record.max_points:g} points{so_far}"]
    if record.late_factor != 1.0:
        output.append(f"Late: the points are multiplied by {record.late_factor:g}. {record.lateness_message}")
    if record.error:
        output.append(f"Not graded automatically: {record.error}")
    if pending:
        waiting = ", ".join(f"{q} ({p:g})" for q, p in _pending_by_question(pending))
        output.append(f"Waiting for a tutor: {result.manual_pending:g} points ({waiting}). They are not part of "
                      f"this score yet, and not lost.")
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
            "pending": pending,
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


def _pending_by_question(pending: list[dict]) -> list[tuple[str, float]]:
    totals: dict[str, float] = {}
    for item in pending:
        totals[item["question"]] = round(totals.get(item["question"], 0.0) + item["points"], 6)
    return list(totals.items())


def _test(result: StoredResult, question: QuestionScore, after_deadline: bool) -> dict[str, Any]:
    lines = []
    for check in question.checks:
        points = f"{check.points:g}/{check.max_points:g}"
        if check.status == "pending":
            lines.append(tutor_line(result, check))
        elif check.visibility != "public":
            first, details = hidden_lines(check, after_deadline=after_deadline)
            lines.append(first.rstrip("."))
            if details:
                lines.append(details)
        else:
            lines.append(f"{check.check_id}: {check.status} ({points}). {check.message}".rstrip())
            lines.extend(f"Hint: {hint}" for hint in check.hints)
    hidden = any(c.visibility == "hidden" and c.status != "pending" for c in question.checks)
    return {
        "name": question.question_id,
        "score": result.question_points(question),
        "max_score": result.question_counted_max(question),
        "output": "\n".join(lines),
        "visibility": "after_due_date" if hidden else "visible",
    }

"""The one place where the export reads the gradebook: every student of every hand-in with final points.

Final points are what the gradebook says a hand-in is worth now (`StoredResult.total`: automatic points plus
the tutors' manual scores, times the late factor), rounded as the rubric says. When the gradebook learns
more (overrides, tutor history, pending columns), only `student_points` has to follow it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from grader.store.gradebook import StoredResult
from grader.rubric.models import Rounding


@dataclass(frozen=True)
class QuestionPoints:
    question_id: str
    points: float  # automatic + manual, before the late factor
    max_points: float
    bonus: bool


@dataclass(frozen=True)
class StudentPoints:
    """One student of one hand-in (a hand-in that names nobody gives one row with no identity)."""

    student_id: str | None
    name: str | None
    email: str | None
    hand_in: str  # the hand-in's file name: the gradebook's key
    points: Decimal  # final, rounded as the rubric says
    max_points: float  # without bonus questions
    late_factor: float
    lateness_message: str
    questions: tuple[QuestionPoints, ...]
    pending: tuple[str, ...]  # question ids with a tutor check nobody has scored yet
    pending_points: float
    grading_failed: bool  # the grader itself failed on this hand-in (gradebook status 'error'): points not final
    not_gradable: bool  # no automatic grading was possible (broken or missing notebook): tutors decide

    @property
    def final(self) -> bool:
        return not self.pending and not self.grading_failed


def student_points(results: Sequence[StoredResult], rounding: Rounding) -> Iterator[StudentPoints]:
    """Per student, in gradebook order (hand-ins by file name, members in team order)."""
    for result in results:
        record = result.record
        pending = tuple(q.question_id for q in record.questions
                        if any(c.status == "pending" and result.manual_score(c) is None for c in q.checks))
        shared = dict(
            hand_in=record.file_name, points=rounding.apply(result.total), max_points=record.max_points,
            late_factor=record.late_factor, lateness_message=record.lateness_message if record.late else "",
            questions=tuple(QuestionPoints(q.question_id, result.question_points(q), q.max_points, q.bonus)
                            for q in record.questions),
            pending=pending, pending_points=result.manual_pending, grading_failed=record.status == "error",
            not_gradable=record.error is not None)
        for student in record.students or [None]:
            yield StudentPoints(student_id=student.student_id if student else None,
                                name=student.name if student else None,
                                email=student.email if student else None, **shared)

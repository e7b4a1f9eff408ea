"""Tutors' overrides of automatic checks: kept apart from the automatic result, applied when results are read.

A tutor may give an automatic check other points than it scored (a correct answer the check could not
recognise, a mistake it missed), with a reason. The override is stored on its own (the gradebook's
`check_overrides` table, per hand-in and check, like manual scores), never written into the check's result,
so a regrade keeps it: the new automatic result is stored as always, and the override is applied on top when
the results are read. It remembers the automatic result it replaced; when a regrade changes that result, the
check's message says so and the hand-in gets the flag `override_outdated`, so a tutor looks again instead of
the override silently standing on a result nobody saw.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from grader.checks.plan import CheckResult
from grader.intake.flags import FlagRecord

if TYPE_CHECKING:
    from grader.store.gradebook import StoredResult

OVERRIDDEN = "overridden"  # the status an overridden check shows; its automatic status is in the message
OUTDATED_FLAG = "override_outdated"


@dataclass(frozen=True)
class CheckOverride:
    """The latest override of one automatic check of one hand-in (points None: taken back)."""

    id: int
    file_name: str
    question_id: str
    check_id: str
    points: float | None
    reason: str
    tutor: str
    entered_at: datetime
    auto_points: float  # the automatic result the tutor saw and replaced
    auto_status: str

    def outdated(self, check: CheckResult) -> bool:
        """Whether the automatic result changed since the override was entered (a regrade)."""
        return abs(check.points - self.auto_points) > 1e-9 or check.status != self.auto_status


def override_text(override: CheckOverride, check: CheckResult) -> str:
    """The sentence the feedback shows for an overridden check, naming the automatic result it replaces."""
    text = (f"Tutor override by {override.tutor}: {override.points:g}/{check.max_points:g} points. "
            f"{override.reason}".rstrip() + f" (automatic result: {check.status} {check.points:g}/"
            f"{check.max_points:g})")
    if override.outdated(check):
        text += (f". The automatic result changed since the override (it was {override.auto_status} "
                 f"{override.auto_points:g}/{check.max_points:g}); the override still counts until a tutor "
                 "looks again")
    return text + "."


def apply_overrides(result: StoredResult, overrides: dict[tuple[str, str], CheckOverride]) -> StoredResult:
    """`result` with its overridden checks' points replaced: check, question and automatic total follow."""
    if not overrides:
        return result
    record = result.record
    questions, delta, outdated = [], 0.0, []
    for question in record.questions:
        checks, question_delta = [], 0.0
        for check in question.checks:
            override = overrides.get((check.question_id, check.check_id))
            if override is None or override.points is None or check.status == "pending":
                checks.append(check)
                continue
            if override.outdated(check):
                outdated.append(f"{check.question_id}/{check.check_id}")
            question_delta += override.points - check.points
            checks.append(replace(check, points=override.points, status=OVERRIDDEN,
                                  message=override_text(override, check) + "\n" + check.message))
        delta += question_delta
        questions.append(replace(question, checks=checks, points=round(question.points + question_delta, 6)))
    flags = list(record.flags)
    if outdated:
        flags.append(FlagRecord(OUTDATED_FLAG, "the automatic result of an overridden check changed since the "
                                f"override: {', '.join(outdated)}; the override still counts"))
    score = replace(record.score, questions=questions, auto_points=round(record.auto_points + delta, 6))
    return replace(result, record=replace(record, score=score, flags=flags))

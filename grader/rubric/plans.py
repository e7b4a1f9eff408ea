"""A loaded rubric's checks, planned: what each asks of a hand-in's worker and what it expects back."""

from __future__ import annotations

from grader.checks.kinds import PlanContext
from grader.checks.plan import CheckPlan
from grader.rubric.load import LoadedRubric

# What self-checks run: the public checks (the tutors' grader plans every check).
PUBLIC = frozenset({"public"})


def plan_checks(loaded: LoadedRubric, visibility: frozenset[str] = frozenset({"public", "hidden"})) -> list[CheckPlan]:
    """Inputs and expected values for every check to run; done once per rubric, not per hand-in."""
    rubric = loaded.rubric
    ctx = PlanContext(seed=rubric.seed, resolve=loaded.resolve)
    return [check.plan_check(question.id, ctx) for question in rubric.questions for check in question.checks
            if check.visibility in visibility]

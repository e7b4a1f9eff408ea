"""What every check kind is: a rubric model that also plans its requests and judges the replies.

A kind is one module of this package holding one CheckBase subclass with a `kind` literal (its rubric fields and
validation) and its two steps: `plan_check` (grader-side, once per batch: inputs generated, expected values
from the reference) and `judge_replies` (the worker's plain replies against the plan). What the loader, the
released rubric and the selftest need to know of a kind is asked of the model (the ClassVars and methods below).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Literal

from pydantic import Field

from grader.checks.inputs import GeneratedCase, generate_cases, materialize, seeded_rng
from grader.checks.plan import CheckPlan, CheckResult, ReplyMap
from grader.checks.schema import Hint, Strict
from grader.execution.protocol import Reply, to_plain


@dataclass(frozen=True)
class PlanContext:
    """What planning needs besides the check: the rubric's seed and the course's code by name."""

    seed: int
    resolve: Callable[[str], Any]


class CheckBase(Strict):
    id: str = Field(pattern=r"^[\w.-]+$")
    points: float = Field(ge=0)
    visibility: Literal["public", "hidden"] = "hidden"
    description: str = ""
    hints: list[Hint] = []

    # Judged from precomputed expected values alone, so its public plans can be released to students.
    precomputable: ClassVar[bool] = False
    # Scored by a tutor, not by the grader.
    tutor_graded: ClassVar[bool] = False

    # Every kind defines both (discover_kinds refuses a kind module that does not): these bodies never run.
    def plan_check(self, question_id: str, ctx: PlanContext) -> CheckPlan:
        """The requests for the worker and what the replies are judged against; plain data only."""
        raise NotImplementedError(f"the check kind {type(self).__name__} does not plan")

    def judge_replies(self, plan: CheckPlan, replies: ReplyMap) -> CheckResult:
        """The check's points for these replies (a reply missing from `replies` was not run)."""
        raise NotImplementedError(f"the check kind {type(self).__name__} does not judge")

    def student_names(self) -> list[str]:
        """The student-facing names the check reads or calls, as the rubric writes them."""
        return []

    def course_code(self) -> list[tuple[str, str]]:
        """(field, 'module:name' or bare name) of every piece of the course's code the check uses: the hints'
        mistakes, the kind's own (reference, judge), the cases' generators."""
        names = [(f"hints[{i}].mistake", h.mistake) for i, h in enumerate(self.hints)] + self._own_code()
        for case_index, case in enumerate(getattr(self, "cases", [])):
            if case.generator:
                names.append((f"cases[{case_index}].generator", case.generator))
        return names

    def _own_code(self) -> list[tuple[str, str]]:
        return []

    def result(self, plan: CheckPlan, status: str, points: float, message: str,
               hints: list[str] | None = None) -> CheckResult:
        return CheckResult(question_id=plan.question_id, check_id=self.id, kind=plan.check.kind,
                           visibility=self.visibility, points=points, max_points=self.points, status=status,
                           message=message, hints=hints or [], description=self.description)


def reply_for(replies: ReplyMap, key: str) -> Reply:
    return replies.get(key) or Reply(key, ok=False, error="not run")


def missing_name(reply: Reply, name: str) -> str | None:
    """A friendlier message when the student's name does not exist at all."""
    if not reply.ok and reply.error and f"name '{name.split('.')[0]}' is not defined" in reply.error:
        return f"`{name}` is not defined (check that the cell defining it runs without error)"
    return None


def planned_cases(check: Any, question_id: str, ctx: PlanContext) -> list[GeneratedCase]:
    """The check's cases, each drawn from its own seeded generator (same inputs every run)."""
    cases = []
    for number, spec in enumerate(check.cases):
        rng = seeded_rng(ctx.seed, question_id, check.id, number, spec.name)
        cases.extend(generate_cases(spec, rng, ctx.resolve))
    return cases


def call_reference(function: Callable, case: GeneratedCase) -> Any:
    args = [materialize(a) for a in case.args]
    kwargs = {k: materialize(a) for k, a in case.kwargs}
    return to_plain(function(*args, **kwargs))

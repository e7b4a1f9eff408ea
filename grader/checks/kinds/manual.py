"""The manual check: points a tutor gives (written answers, plots); the grader only lists them as pending."""

from __future__ import annotations

from typing import ClassVar, Literal

from grader.checks.kinds._base import CheckBase, PlanContext
from grader.checks.plan import CheckPlan, CheckResult, ReplyMap


class ManualCheck(CheckBase):
    kind: Literal["manual"]
    answer: str | None = None  # key in the model answers file; defaults to the question id
    tutor_graded: ClassVar[bool] = True

    def plan_check(self, question_id: str, ctx: PlanContext) -> CheckPlan:
        return CheckPlan(question_id=question_id, check=self, context={"answer": self.answer or question_id})

    def judge_replies(self, plan: CheckPlan, replies: ReplyMap) -> CheckResult:
        return self.result(plan, "pending", 0.0, "scored by a tutor")

"""The value check: a student's variable against a value given in the rubric or computed by the reference."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from grader.checks.compare import compare, show
from grader.checks.inputs import GeneratedCase
from grader.checks.kinds._base import CheckBase, PlanContext, missing_name, reply_for
from grader.checks.plan import CaseRun, CheckPlan, CheckResult, ReplyMap
from grader.checks.schema import Comparison, DottedPath
from grader.execution.protocol import Request, to_plain


class ValueCheck(CheckBase, Comparison):
    kind: Literal["value"]
    name: str = Field(pattern=r"^[A-Za-z_][\w.]*$")
    expected: Any = None
    reference: DottedPath | None = None
    precomputable: ClassVar[bool] = True

    def student_names(self) -> list[str]:
        return [self.name]

    def _own_code(self) -> list[tuple[str, str]]:
        return [("reference", self.reference)] if self.reference else []

    @model_validator(mode="after")
    def _one_source(self) -> ValueCheck:
        if (self.expected is None) == (self.reference is None):
            raise ValueError("a value check has exactly one of expected or reference")
        return self

    def plan_check(self, question_id: str, ctx: PlanContext) -> CheckPlan:
        if self.reference:
            expected = ctx.resolve(self.reference)
            expected = expected() if callable(expected) else expected
        else:
            expected = self.expected
        key = f"{question_id}/{self.id}/get"
        return CheckPlan(question_id=question_id, check=self,
                         requests=[Request(key=key, op="get", target=self.name)],
                         runs=[CaseRun(case=GeneratedCase(name=self.name), key=key, expected=to_plain(expected))])

    def judge_replies(self, plan: CheckPlan, replies: ReplyMap) -> CheckResult:
        run = plan.runs[0]
        reply = reply_for(replies, run.key)
        if not reply.ok:
            return self.result(plan, "failed", 0.0, missing_name(reply, self.name) or f"`{self.name}`: {reply.error}")
        verdict = compare(reply.value, run.expected, self)
        if verdict.equal:
            return self.result(plan, "passed", self.points, f"`{self.name}` is right")
        hints = [m for m, wrong in run.mistakes if compare(reply.value, wrong, self).equal]
        detail = f"\n  expected: {show(run.expected)}\n  got:      {show(reply.value)}" \
            if self.visibility == "public" else ""
        return self.result(plan, "failed", 0.0, f"`{self.name}`: {verdict.reason}{detail}", hints)

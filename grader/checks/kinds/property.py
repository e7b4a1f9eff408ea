"""The property check: collect a student's values and call results, and let a course's judge decide."""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import Field, model_validator

from grader.checks.kinds._base import CheckBase, PlanContext, missing_name, planned_cases, reply_for
from grader.checks.plan import CaseRun, CheckPlan, CheckResult, Evidence, JudgeVerdict, ReplyMap
from grader.checks.schema import CaseSpec, DottedPath
from grader.execution.protocol import Request


class PropertyCheck(CheckBase):
    """A probe: collect student values and/or call results, and let a grader-side judge decide."""

    kind: Literal["property"]
    get: list[str] = []
    call: str | None = None
    cases: list[CaseSpec] = []
    grad_wrt: list[Union[int, str]] = []
    judge: DottedPath
    judge_options: dict[str, Any] = {}
    call_timeout: float | None = Field(None, gt=0)

    def student_names(self) -> list[str]:
        return [*self.get, *([self.call] if self.call else [])]

    def _own_code(self) -> list[tuple[str, str]]:
        return [("judge", self.judge)]

    @model_validator(mode="after")
    def _something_to_judge(self) -> PropertyCheck:
        if not self.get and not self.call:
            raise ValueError("a property check needs get (student names) or call (a student callable)")
        if self.call and not self.cases:
            raise ValueError("a property check that calls needs cases")
        return self

    def plan_check(self, question_id: str, ctx: PlanContext) -> CheckPlan:
        plan = CheckPlan(question_id=question_id, check=self, judge=ctx.resolve(self.judge))
        for name in self.get:
            plan.requests.append(Request(key=f"{question_id}/{self.id}/get/{name}", op="get", target=name))
        if self.call:
            for number, case in enumerate(planned_cases(self, question_id, ctx)):
                key = f"{question_id}/{self.id}/call/{number}"
                plan.requests.append(Request(key=key, op="call", target=self.call, args=case.args,
                                             kwargs=case.kwargs, grad_wrt=tuple(self.grad_wrt),
                                             timeout=self.call_timeout))
                plan.runs.append(CaseRun(case=case, key=key))
        return plan

    def judge_replies(self, plan: CheckPlan, replies: ReplyMap) -> CheckResult:
        values = {}
        for name in self.get:
            reply = reply_for(replies, f"{plan.question_id}/{self.id}/get/{name}")
            if not reply.ok:
                return self.result(plan, "failed", 0.0, missing_name(reply, name) or f"`{name}`: {reply.error}")
            values[name] = reply
        calls = []
        for run in plan.runs:
            reply = reply_for(replies, run.key)
            if not reply.ok:
                return self.result(plan, "failed", 0.0,
                                   missing_name(reply, self.call) or f"calling `{self.call}` failed:\n{reply.error}")
            calls.append((run.case, reply))
        try:
            verdict = plan.judge(Evidence(values=values, calls=calls, options=dict(self.judge_options)))
        except Exception as exc:  # a judge that cannot cope with odd data must not crash the batch
            return self.result(plan, "error", 0.0, f"the check could not judge this answer ({type(exc).__name__}: "
                                                   f"{exc}); a tutor should look at it")
        if not isinstance(verdict, JudgeVerdict):
            return self.result(plan, "error", 0.0, f"the judge {self.judge} returned {type(verdict).__name__}")
        if verdict.passed:
            return self.result(plan, "passed", self.points, verdict.message or "passed")
        fraction = min(max(verdict.fraction or 0.0, 0.0), 1.0)
        return self.result(plan, "failed", round(self.points * fraction, 6), verdict.message)

"""The choice check: a yes/no (or other named option) answer, read leniently from the student's variable."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from grader.checks.compare import plain_scalar, show
from grader.checks.inputs import GeneratedCase
from grader.checks.kinds._base import CheckBase, PlanContext, missing_name, reply_for
from grader.checks.plan import CaseRun, CheckPlan, CheckResult, ReplyMap
from grader.execution.protocol import Request

DEFAULT_CHOICES = {
    "yes": ["yes", "y", "true", "ja", "j", "1", "correct", "possible"],
    "no": ["no", "n", "false", "nein", "0", "not possible", "impossible"],
}


class ChoiceCheck(CheckBase):
    kind: Literal["choice"]
    name: str = Field(pattern=r"^[A-Za-z_][\w.]*$")
    expected: str
    options: dict[str, list[str]] = DEFAULT_CHOICES
    precomputable: ClassVar[bool] = True

    def student_names(self) -> list[str]:
        return [self.name]

    @model_validator(mode="after")
    def _expected_is_an_option(self) -> ChoiceCheck:
        if self.expected not in self.options:
            raise ValueError(f"expected {self.expected!r} is not one of the options {sorted(self.options)}")
        return self

    def plan_check(self, question_id: str, ctx: PlanContext) -> CheckPlan:
        key = f"{question_id}/{self.id}/get"
        return CheckPlan(question_id=question_id, check=self,
                         requests=[Request(key=key, op="get", target=self.name)],
                         runs=[CaseRun(case=GeneratedCase(name=self.name), key=key, expected=self.expected)])

    def judge_replies(self, plan: CheckPlan, replies: ReplyMap) -> CheckResult:
        reply = reply_for(replies, plan.runs[0].key)
        if not reply.ok:
            return self.result(plan, "failed", 0.0, missing_name(reply, self.name) or f"`{self.name}`: {reply.error}")
        chosen = normalise_choice(reply.value, self.options)
        if chosen is None:
            return self.result(plan, "failed", 0.0, f"`{self.name}` = {show(reply.value, 80)} is none of the "
                                                     f"options {', '.join(sorted(self.options))}")
        if chosen == self.expected:
            return self.result(plan, "passed", self.points, f"`{self.name}` is right")
        return self.result(plan, "failed", 0.0, f"`{self.name}` is {chosen!r}; that is not the right answer")


def normalise_choice(value: Any, options: dict[str, list[str]]) -> str | None:
    """'No', 'no.', False, np.bool_(False), a 0-d tensor 0, 'Nein, weil ...' -> 'no'; None when it matches no
    option or several."""
    value = plain_scalar(value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)) and value in (0, 1):
        text = str(int(value))
    elif isinstance(value, str):
        text = value
    else:
        return None
    text = re.sub(r"\s+", " ", text.strip().lower())
    candidates = [text, re.sub(r"[^\w\s]", "", text).strip(), re.split(r"[^\w]+", text.strip())[0]]
    for candidate in candidates:
        found = {name for name, words in options.items() if candidate in {w.lower() for w in words} | {name}}
        if len(found) == 1:
            return found.pop()
    return None

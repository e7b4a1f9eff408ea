"""The function check: call a student's function on seeded cases and compare with the reference's results."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal, Union

from pydantic import Field, model_validator

from grader.checks.compare import compare, show
from grader.checks.inputs import GeneratedCase, describe_kinds, variants
from grader.checks.kinds._base import CheckBase, PlanContext, call_reference, missing_name, planned_cases, reply_for
from grader.checks.plan import CaseRun, CaseVariant, CheckPlan, CheckResult, ReplyMap
from grader.checks.schema import CaseSpec, Comparison, DottedPath
from grader.execution.protocol import Reply, Request


class FunctionCheck(CheckBase, Comparison):
    kind: Literal["function"]
    function: str = Field(pattern=r"^[A-Za-z_][\w.]*$")
    reference: DottedPath
    cases: list[CaseSpec] = Field(min_length=1)
    # output: compare the return value; grads: compare d(sum of output)/d(args named in grad_wrt)
    compare: Literal["output", "grads"] = "output"
    grad_wrt: list[Union[int, str]] = []
    call_timeout: float | None = Field(None, gt=0)
    # A call that raises is tried again with the same values in the other array kind (numpy <-> torch) and
    # float dtype (float64 <-> float32) before the case fails; false for a task that demands one kind.
    retry_other_kinds: bool = True
    precomputable: ClassVar[bool] = True

    def student_names(self) -> list[str]:
        return [self.function]

    def _own_code(self) -> list[tuple[str, str]]:
        return [("reference", self.reference)]

    @model_validator(mode="after")
    def _grads_need_inputs(self) -> FunctionCheck:
        if self.compare == "grads" and not self.grad_wrt:
            raise ValueError("compare: grads needs grad_wrt (the arguments to differentiate by)")
        return self

    def plan_check(self, question_id: str, ctx: PlanContext) -> CheckPlan:
        reference = ctx.resolve(self.reference)
        mistakes = [(hint.message, ctx.resolve(hint.mistake)) for hint in self.hints]
        plan = CheckPlan(question_id=question_id, check=self)
        for number, case in enumerate(planned_cases(self, question_id, ctx)):
            key = f"{question_id}/{self.id}/{number}"
            expected = call_reference(reference, case)
            retries = []
            if self.retry_other_kinds:
                for variant in variants(case, torch_only=self.compare == "grads"):
                    try:
                        wanted = call_reference(reference, variant.case) if variant.changes_values else expected
                    except Exception:  # noqa: BLE001 - a kind the reference cannot take is not offered
                        continue
                    retries.append(CaseVariant(label=variant.label, case=variant.case, expected=wanted))
            plan.requests.append(Request(key=key, op="call", target=self.function, args=case.args,
                                         kwargs=case.kwargs, grad_wrt=tuple(self.grad_wrt),
                                         timeout=self.call_timeout,
                                         alternatives=tuple((v.case.args, v.case.kwargs) for v in retries)))
            wrong = []
            if self.compare == "output":
                for message, mistake in mistakes:
                    try:
                        wrong.append((message, call_reference(mistake, case)))
                    except Exception:  # a mistake that does not apply to this input simply gives no hint
                        continue
            plan.runs.append(CaseRun(case=case, key=key, expected=expected, mistakes=wrong, variants=retries))
        return plan

    def judge_replies(self, plan: CheckPlan, replies: ReplyMap) -> CheckResult:
        public = self.visibility == "public"
        failures, hints, retried = [], [], []
        for run in plan.runs:
            reply = reply_for(replies, run.key)
            if not reply.ok:
                missing = missing_name(reply, self.function)
                if missing:
                    return self.result(plan, "failed", 0.0, missing)
                failures.append(_call_failure(self, run, reply, public))
                continue
            case, expected = run.used(reply.variant)
            if reply.variant:
                retried.append(_retry_note(run, reply))
            if self.compare == "grads":
                verdict_text = _compare_grads(self, expected, reply)
            else:
                verdict_text = _compare_output(self, case, expected, reply)
            if verdict_text is None:
                continue
            failures.append(_failure_text(self, run, reply, verdict_text, public))
            for message, wrong in run.mistakes:
                if message not in hints and compare(reply.value, wrong, self).equal:
                    hints.append(message)
        total = len(plan.runs)
        notes = _retry_notes(retried)
        if not failures:
            return self.result(plan, "passed", self.points, f"all {total} cases passed{notes}")
        header = f"{total - len(failures)} of {total} cases passed."
        return self.result(plan, "failed", 0.0, header + "\n" + "\n".join(failures[:3]) + notes, hints)


# The line of a traceback that names the exception ("TypeError: ..."); torch's messages go on over more lines.
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)\b")


def _error_summary(error: str | None) -> str:
    """The line that names the exception (the last such line), else the error's last line."""
    lines = [line.strip() for line in (error or "").strip().splitlines() if line.strip()]
    named = [line for line in lines if _EXCEPTION_LINE.match(line)]
    text = named[-1] if named else lines[-1] if lines else "an error"
    return text if len(text) <= 200 else text[:199] + "…"


def _retry_note(run: CaseRun, reply: Reply) -> tuple[str, str, str, str]:
    """(case name, kinds planned, kinds used, the planned call's error) for a case answered by a retry."""
    used = run.variants[reply.variant - 1].label if reply.variant <= len(run.variants) else "another kind"
    error = _error_summary(reply.attempt_errors[0] if reply.attempt_errors else None)
    return run.case.name, describe_kinds(run.case), used, error


def _retry_notes(notes: list[tuple[str, str, str, str]]) -> str:
    """One line per change of kinds: "case 'a' (and 2 more): your function raised with X (error), so ..."."""
    grouped: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for name, planned, used, error in notes:
        grouped.setdefault((planned, used), []).append((name, error))
    lines = []
    for (planned, used), cases in grouped.items():
        more = f" (and {len(cases) - 1} more)" if len(cases) > 1 else ""
        lines.append(f"\ncase '{cases[0][0]}'{more}: your function raised with {planned} ({cases[0][1]}), so it "
                     f"was called again with {used}, and that result was checked")
    return "".join(lines)


def _call_failure(check: FunctionCheck, run: CaseRun, reply: Reply, public: bool) -> str:
    where = "hidden case" if not public else "case"
    text = (f"{where} '{run.case.name}': calling `{check.function}` with {describe_kinds(run.case)} failed:\n"
            f"{reply.error}")
    if len(reply.attempt_errors) > 1:
        tried = "; ".join(f"{v.label}: {_error_summary(e)}" for v, e in zip(run.variants, reply.attempt_errors[1:]))
        text += f"\nIt was also called with the same values as {tried}."
    return text


def _compare_output(check: FunctionCheck, case: GeneratedCase, expected: Any, reply: Reply) -> str | None:
    if check.result_kind == "same":
        given = {a.kind for a in case.args if a.kind != "python"}
        if given and reply.kind not in given:
            return f"returned a {reply.kind} value for {'/'.join(sorted(given))} input"
    verdict = compare(reply.value, expected, check)
    return None if verdict.equal else verdict.reason


def _compare_grads(check: FunctionCheck, expected: Any, reply: Reply) -> str | None:
    grads = reply.grads or {}
    expected = expected if isinstance(expected, tuple) else (expected,)
    for name, want in zip(check.grad_wrt, expected):
        got = grads.get(str(name))
        if got is None:
            return f"no gradient reached argument {name!r} (is the graph cut, e.g. by .detach(), numpy or .item()?)"
        verdict = compare(got, want, check)
        if not verdict.equal:
            return f"gradient with respect to argument {name!r}: {verdict.reason}"
    return None


def _failure_text(check: FunctionCheck, run: CaseRun, reply: Reply, reason: str, public: bool) -> str:
    case, expected = run.used(reply.variant)
    if not public:
        return f"hidden case '{run.case.name}' ({describe_kinds(case)}): {reason}"
    got = reply.value if check.compare == "output" else reply.grads
    return (f"case '{run.case.name}': {reason}\n  input:    {case.describe()}\n"
            f"  expected: {show(expected)}\n  got:      {show(got)}")

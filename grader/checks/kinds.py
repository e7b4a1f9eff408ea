"""The check kinds. Each one plans its requests (grader-side, with the reference) and judges the replies.

A new kind is a class with `plan` and `judge`, registered in CHECK_KINDS: nothing else in the engine changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from grader.checks.compare import as_numeric, compare, plain_scalar, show
from grader.checks.inputs import GeneratedCase, describe_kinds, generate_cases, materialize, seeded_rng, variants
from grader.checks.plan import CaseRun, CaseVariant, CheckPlan, CheckResult, Evidence, JudgeVerdict, ReplyMap
from grader.execution.protocol import Reply, Request, to_plain
from grader.rubric.load import LoadedRubric
from grader.rubric.models import (ChoiceCheck, Comparison, FunctionCheck, ManualCheck, PropertyCheck,
                                  Question, ValueCheck)


@dataclass(frozen=True)
class PlanContext:
    seed: int
    resolve: Callable[[str], Any]


class CheckKind(Protocol):
    def plan(self, question: Question, check: Any, ctx: PlanContext) -> CheckPlan: ...

    def judge(self, plan: CheckPlan, replies: ReplyMap) -> CheckResult: ...


def _result(plan: CheckPlan, status: str, points: float, message: str, hints: list[str] | None = None) -> CheckResult:
    check = plan.check
    return CheckResult(question_id=plan.question_id, check_id=check.id, kind=check.kind,
                       visibility=check.visibility, points=points, max_points=check.points, status=status,
                       message=message, hints=hints or [], description=check.description)


def _missing(reply: Reply, name: str) -> str | None:
    """A friendlier message when the student's name does not exist at all."""
    if not reply.ok and reply.error and f"name '{name.split('.')[0]}' is not defined" in reply.error:
        return f"`{name}` is not defined (check that the cell defining it runs without error)"
    return None


def _cases(check: Any, question: Question, ctx: PlanContext) -> list[GeneratedCase]:
    cases = []
    for number, spec in enumerate(check.cases):
        rng = seeded_rng(ctx.seed, question.id, check.id, number, spec.name)
        cases.extend(generate_cases(spec, rng, ctx.resolve))
    return cases


def _call_reference(function: Callable, case: GeneratedCase) -> Any:
    args = [materialize(a) for a in case.args]
    kwargs = {k: materialize(a) for k, a in case.kwargs}
    return to_plain(function(*args, **kwargs))


class FunctionKind:
    def plan(self, question: Question, check: FunctionCheck, ctx: PlanContext) -> CheckPlan:
        reference = ctx.resolve(check.reference)
        mistakes = [(hint.message, ctx.resolve(hint.mistake)) for hint in check.hints]
        plan = CheckPlan(question_id=question.id, check=check)
        for number, case in enumerate(_cases(check, question, ctx)):
            key = f"{question.id}/{check.id}/{number}"
            expected = _call_reference(reference, case)
            retries = []
            if check.retry_other_kinds:
                for variant in variants(case, torch_only=check.compare == "grads"):
                    try:
                        wanted = _call_reference(reference, variant.case) if variant.changes_values else expected
                    except Exception:  # noqa: BLE001 - a kind the reference cannot take is not offered
                        continue
                    retries.append(CaseVariant(label=variant.label, case=variant.case, expected=wanted))
            plan.requests.append(Request(key=key, op="call", target=check.function, args=case.args,
                                         kwargs=case.kwargs, grad_wrt=tuple(check.grad_wrt),
                                         timeout=check.call_timeout,
                                         alternatives=tuple((v.case.args, v.case.kwargs) for v in retries)))
            wrong = []
            if check.compare == "output":
                for message, mistake in mistakes:
                    try:
                        wrong.append((message, _call_reference(mistake, case)))
                    except Exception:  # a mistake that does not apply to this input simply gives no hint
                        continue
            plan.runs.append(CaseRun(case=case, key=key, expected=expected, mistakes=wrong, variants=retries))
        return plan

    def judge(self, plan: CheckPlan, replies: ReplyMap) -> CheckResult:
        check: FunctionCheck = plan.check
        public = check.visibility == "public"
        failures, hints, retried = [], [], []
        for run in plan.runs:
            reply = replies.get(run.key) or Reply(run.key, ok=False, error="not run")
            if not reply.ok:
                missing = _missing(reply, check.function)
                if missing:
                    return _result(plan, "failed", 0.0, missing)
                failures.append(_call_failure(check, run, reply, public))
                continue
            case, expected = run.used(reply.variant)
            if reply.variant:
                retried.append(_retry_note(run, reply))
            if check.compare == "grads":
                verdict_text = _compare_grads(check, expected, reply)
            else:
                verdict_text = _compare_output(check, case, expected, reply)
            if verdict_text is None:
                continue
            failures.append(_failure_text(check, run, reply, verdict_text, public))
            for message, wrong in run.mistakes:
                if message not in hints and compare(_got(check, reply), wrong, check).equal:
                    hints.append(message)
        total = len(plan.runs)
        notes = _retry_notes(retried)
        if not failures:
            return _result(plan, "passed", check.points, f"all {total} cases passed{notes}")
        header = f"{total - len(failures)} of {total} cases passed."
        return _result(plan, "failed", 0.0, header + "\n" + "\n".join(failures[:3]) + notes, hints)


def _got(check: Comparison, reply: Reply) -> Any:
    return reply.value


def _first_line(error: str | None) -> str:
    lines = [line for line in (error or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "an error"


def _retry_note(run: CaseRun, reply: Reply) -> tuple[str, str, str, str]:
    """(case name, kinds planned, kinds used, the planned call's error) for a case answered by a retry."""
    used = run.variants[reply.variant - 1].label if reply.variant <= len(run.variants) else "another kind"
    error = _first_line(reply.attempt_errors[0] if reply.attempt_errors else None)
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
        tried = "; ".join(f"{v.label}: {_first_line(e)}" for v, e in zip(run.variants, reply.attempt_errors[1:]))
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


class ValueKind:
    def plan(self, question: Question, check: ValueCheck, ctx: PlanContext) -> CheckPlan:
        if check.reference:
            expected = ctx.resolve(check.reference)
            expected = expected() if callable(expected) else expected
        else:
            expected = check.expected
        key = f"{question.id}/{check.id}/get"
        return CheckPlan(question_id=question.id, check=check,
                         requests=[Request(key=key, op="get", target=check.name)],
                         runs=[CaseRun(case=GeneratedCase(name=check.name), key=key, expected=to_plain(expected))])

    def judge(self, plan: CheckPlan, replies: ReplyMap) -> CheckResult:
        check: ValueCheck = plan.check
        run = plan.runs[0]
        reply = replies.get(run.key) or Reply(run.key, ok=False, error="not run")
        if not reply.ok:
            return _result(plan, "failed", 0.0, _missing(reply, check.name) or f"`{check.name}`: {reply.error}")
        verdict = compare(reply.value, run.expected, check)
        if verdict.equal:
            return _result(plan, "passed", check.points, f"`{check.name}` is right")
        hints = [m for m, wrong in run.mistakes if compare(reply.value, wrong, check).equal]
        detail = f"\n  expected: {show(run.expected)}\n  got:      {show(reply.value)}" \
            if check.visibility == "public" else ""
        return _result(plan, "failed", 0.0, f"`{check.name}`: {verdict.reason}{detail}", hints)


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


class ChoiceKind:
    def plan(self, question: Question, check: ChoiceCheck, ctx: PlanContext) -> CheckPlan:
        key = f"{question.id}/{check.id}/get"
        return CheckPlan(question_id=question.id, check=check,
                         requests=[Request(key=key, op="get", target=check.name)],
                         runs=[CaseRun(case=GeneratedCase(name=check.name), key=key, expected=check.expected)])

    def judge(self, plan: CheckPlan, replies: ReplyMap) -> CheckResult:
        check: ChoiceCheck = plan.check
        reply = replies.get(plan.runs[0].key) or Reply("", ok=False, error="not run")
        if not reply.ok:
            return _result(plan, "failed", 0.0, _missing(reply, check.name) or f"`{check.name}`: {reply.error}")
        chosen = normalise_choice(reply.value, check.options)
        if chosen is None:
            return _result(plan, "failed", 0.0, f"`{check.name}` = {show(reply.value, 80)} is none of the "
                                                 f"options {', '.join(sorted(check.options))}")
        if chosen == check.expected:
            return _result(plan, "passed", check.points, f"`{check.name}` is right")
        return _result(plan, "failed", 0.0, f"`{check.name}` is {chosen!r}; that is not the right answer")


class PropertyKind:
    def plan(self, question: Question, check: PropertyCheck, ctx: PlanContext) -> CheckPlan:
        plan = CheckPlan(question_id=question.id, check=check, judge=ctx.resolve(check.judge))
        for name in check.get:
            plan.requests.append(Request(key=f"{question.id}/{check.id}/get/{name}", op="get", target=name))
        if check.call:
            for number, case in enumerate(_cases(check, question, ctx)):
                key = f"{question.id}/{check.id}/call/{number}"
                plan.requests.append(Request(key=key, op="call", target=check.call, args=case.args,
                                             kwargs=case.kwargs, grad_wrt=tuple(check.grad_wrt),
                                             timeout=check.call_timeout))
                plan.runs.append(CaseRun(case=case, key=key))
        return plan

    def judge(self, plan: CheckPlan, replies: ReplyMap) -> CheckResult:
        check: PropertyCheck = plan.check
        values = {}
        for name in check.get:
            reply = replies.get(f"{plan.question_id}/{check.id}/get/{name}") or Reply("", ok=False, error="not run")
            if not reply.ok:
                return _result(plan, "failed", 0.0, _missing(reply, name) or f"`{name}`: {reply.error}")
            values[name] = reply
        calls = []
        for run in plan.runs:
            reply = replies.get(run.key) or Reply(run.key, ok=False, error="not run")
            if not reply.ok:
                return _result(plan, "failed", 0.0,
                               _missing(reply, check.call) or f"calling `{check.call}` failed:\n{reply.error}")
            calls.append((run.case, reply))
        try:
            verdict = plan.judge(Evidence(values=values, calls=calls, options=dict(check.judge_options)))
        except Exception as exc:  # a judge that cannot cope with odd data must not crash the batch
            return _result(plan, "error", 0.0, f"the check could not judge this answer ({type(exc).__name__}: "
                                               f"{exc}); a tutor should look at it")
        if not isinstance(verdict, JudgeVerdict):
            return _result(plan, "error", 0.0, f"the judge {check.judge} returned {type(verdict).__name__}")
        if verdict.passed:
            return _result(plan, "passed", check.points, verdict.message or "passed")
        fraction = min(max(verdict.fraction or 0.0, 0.0), 1.0)
        return _result(plan, "failed", round(check.points * fraction, 6), verdict.message)


class ManualKind:
    def plan(self, question: Question, check: ManualCheck, ctx: PlanContext) -> CheckPlan:
        return CheckPlan(question_id=question.id, check=check, context={"answer": check.answer or question.id})

    def judge(self, plan: CheckPlan, replies: ReplyMap) -> CheckResult:
        return _result(plan, "pending", 0.0, "scored by a tutor")


CHECK_KINDS: dict[str, CheckKind] = {
    "function": FunctionKind(),
    "value": ValueKind(),
    "choice": ChoiceKind(),
    "property": PropertyKind(),
    "manual": ManualKind(),
}


def numeric(reply: Reply) -> Any:
    """For judges: a student's value as a float64 array, or raise ValueError with a readable reason."""
    array, problem = as_numeric(reply.value)
    if problem:
        raise ValueError(problem)
    return array


# What self-checks run: the public checks (the tutors' grader plans every check).
PUBLIC = frozenset({"public"})


def plan_checks(loaded: LoadedRubric, visibility: frozenset[str] = frozenset({"public", "hidden"})) -> list[CheckPlan]:
    """Inputs and expected values for every check to run; done once per rubric, not per hand-in."""
    rubric = loaded.rubric
    ctx = PlanContext(seed=rubric.seed, resolve=loaded.resolve)
    plans = []
    for question in rubric.questions:
        for check in question.checks:
            if check.visibility in visibility:
                plans.append(CHECK_KINDS[check.kind].plan(question, check, ctx))
    return plans

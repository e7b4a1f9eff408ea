"""A released rubric: the public checks with their inputs and expected values precomputed.

Students install the engine and this file; neither holds reference code, hidden checks, their inputs or
their expected values. Checks that need the course's own judge code (property checks) or a tutor (manual)
are listed with their points but not run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from grader.checks.inputs import GeneratedCase
from grader.checks.kinds import Check
from grader.checks.plan import CaseRun, CaseVariant, CheckPlan
from grader.execution.protocol import Argument, Request
from grader.execution.wire import decode_value, encode_value
from grader.rubric.load import LoadedRubric
from grader.rubric.models import ExecutionSpec, Question
from grader.rubric.plans import PUBLIC, plan_checks

FORMAT = "grader-released-rubric/1"
_check_adapter: TypeAdapter = TypeAdapter(Check)


@dataclass
class PublicChecks:
    """What a student's self-check runs: the public checks of a sheet, planned once (from the course's rubric,
    or read from a released rubric without the reference) and reusable for many notebooks."""

    sheet: str
    questions: list[Question]
    plans: list[CheckPlan]
    execution: ExecutionSpec
    not_run: list[dict]  # checks listed for students but judged only by the tutors' grader
    title: str = ""


def public_checks(loaded: LoadedRubric) -> PublicChecks:
    """The public checks of a course's rubric, planned here (with the reference: public probes run too)."""
    plans = plan_checks(loaded, PUBLIC)
    return PublicChecks(loaded.rubric.sheet, loaded.rubric.questions, plans, loaded.rubric.execution,
                        _not_run(loaded, plans), loaded.rubric.title)


def _not_run(loaded: LoadedRubric, plans: list[CheckPlan]) -> list[dict]:
    listed = {(p.question_id, p.check.id) for p in plans}
    return [{"question": q.id, "check": c.id, "kind": c.kind, "points": c.points, "visibility": c.visibility}
            for q in loaded.rubric.questions for c in q.checks if (q.id, c.id) not in listed]


def compile_public(loaded: LoadedRubric, plans: list[CheckPlan]) -> dict:
    rubric = loaded.rubric
    public = [p for p in plans if p.check.visibility == "public" and p.check.precomputable]
    return {
        "format": FORMAT,
        "sheet": rubric.sheet,
        "title": rubric.title,
        "execution": rubric.execution.model_dump(mode="json"),
        "questions": [{"id": q.id, "title": q.title, "points": q.points, "bonus": q.bonus} for q in rubric.questions],
        "not_run": _not_run(loaded, public),
        "plans": [_plan_to_data(p) for p in public],
    }


def write_public(loaded: LoadedRubric, plans: list[CheckPlan], path: Path) -> Path:
    path.write_text(json.dumps(compile_public(loaded, plans), indent=1, allow_nan=False), encoding="utf-8")
    return path


def load_released(path: Path) -> PublicChecks:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a released rubric ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a released rubric (format {data.get('format') if isinstance(data, dict) else '?'})")
    plans = [_plan_from_data(item) for item in data["plans"]]
    by_question: dict[str, list] = {}
    for plan in plans:
        by_question.setdefault(plan.question_id, []).append(plan.check)
    questions = [Question.model_construct(id=q["id"], title=q["title"], points=q["points"], bonus=q["bonus"],
                                          checks=by_question.get(q["id"], []))
                 for q in data["questions"]]
    return PublicChecks(sheet=data["sheet"], title=data["title"], questions=questions, plans=plans,
                        execution=ExecutionSpec.model_validate(data["execution"]), not_run=data["not_run"])


def _plan_to_data(plan: CheckPlan) -> dict:
    return {
        "question": plan.question_id,
        "check": plan.check.model_dump(mode="json", by_alias=True),
        "runs": [{"key": r.key, "case": _case_to_data(r.case), "expected": encode_value(r.expected),
                  "mistakes": [[m, encode_value(v)] for m, v in r.mistakes],
                  "variants": [{"label": v.label, "case": _case_to_data(v.case), "expected": encode_value(v.expected)}
                               for v in r.variants]} for r in plan.runs],
        "requests": [_request_to_data(r) for r in plan.requests],
    }


def _plan_from_data(data: dict) -> CheckPlan:
    check = _check_adapter.validate_python(data["check"])
    runs = [CaseRun(case=_case_from_data(r["case"]), key=r["key"], expected=decode_value(r["expected"]),
                    mistakes=[(m, decode_value(v)) for m, v in r["mistakes"]],
                    variants=[CaseVariant(label=v["label"], case=_case_from_data(v["case"]),
                                          expected=decode_value(v["expected"])) for v in r.get("variants", [])])
            for r in data["runs"]]
    requests = [_request_from_data(r) for r in data["requests"]]
    return CheckPlan(question_id=data["question"], check=check, requests=requests, runs=runs)


def _arg_to_data(argument: Argument) -> dict:
    return {"value": encode_value(argument.value), "kind": argument.kind, "requires_grad": argument.requires_grad}


def _arg_from_data(data: dict) -> Argument:
    return Argument(value=decode_value(data["value"]), kind=data["kind"], requires_grad=data["requires_grad"])


def _case_to_data(case: GeneratedCase) -> dict:
    return {"name": case.name, "args": [_arg_to_data(a) for a in case.args],
            "kwargs": [[k, _arg_to_data(a)] for k, a in case.kwargs]}


def _case_from_data(data: dict) -> GeneratedCase:
    return GeneratedCase(name=data["name"], args=tuple(_arg_from_data(a) for a in data["args"]),
                         kwargs=tuple((k, _arg_from_data(a)) for k, a in data["kwargs"]))


def _request_to_data(request: Request) -> dict[str, Any]:
    return {"key": request.key, "op": request.op, "target": request.target,
            "args": [_arg_to_data(a) for a in request.args],
            "kwargs": [[k, _arg_to_data(a)] for k, a in request.kwargs],
            "grad_wrt": list(request.grad_wrt), "timeout": request.timeout,
            "alternatives": [[[_arg_to_data(a) for a in args], [[k, _arg_to_data(a)] for k, a in kwargs]]
                             for args, kwargs in request.alternatives]}


def _request_from_data(data: dict) -> Request:
    return Request(key=data["key"], op=data["op"], target=data["target"],
                   args=tuple(_arg_from_data(a) for a in data["args"]),
                   kwargs=tuple((k, _arg_from_data(a)) for k, a in data["kwargs"]),
                   grad_wrt=tuple(data["grad_wrt"]), timeout=data["timeout"],
                   alternatives=tuple((tuple(_arg_from_data(a) for a in args),
                                       tuple((k, _arg_from_data(a)) for k, a in kwargs))
                                      for args, kwargs in data.get("alternatives", [])))

"""A check kind is one module of grader/checks/kinds: its rubric model and its behaviour; the rest of the engine
(the rubric's union, the loader, planning, judging, the released rubric) takes it from there."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from grader.checks.kinds import CHECK_KIND_NAMES, CHECK_MODELS, CheckBase, CheckKindError, discover_kinds

REPO = Path(__file__).resolve().parents[2]


def test_every_kind_module_holds_its_model_and_its_behaviour():
    assert set(CHECK_KIND_NAMES) == {"choice", "function", "manual", "property", "value"}
    for name, model in zip(CHECK_KIND_NAMES, CHECK_MODELS):
        assert model.__module__ == f"grader.checks.kinds.{name}"
        assert model.plan_check is not CheckBase.plan_check and model.judge_replies is not CheckBase.judge_replies
    assert {n for n, m in zip(CHECK_KIND_NAMES, CHECK_MODELS) if m.precomputable} == {"function", "value", "choice"}
    assert [n for n, m in zip(CHECK_KIND_NAMES, CHECK_MODELS) if m.tutor_graded] == ["manual"]


# The two steps every kind defines (stand-ins: discovery only checks that they are there).
BOTH_STEPS = ("    def plan_check(self, question_id, ctx):\n        return None\n"
              "    def judge_replies(self, plan, replies):\n        return None\n")
KIND_HEADER = """\
from typing import Literal
from grader.checks.kinds import CheckBase
"""


def kinds_package(tmp_path: Path, modules: dict[str, str]) -> types.ModuleType:
    """An importable package of kind modules under tmp_path (a fresh name per test)."""
    name = f"kinds_{tmp_path.name.replace('-', '_')}"
    folder = tmp_path / name
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for module, body in modules.items():
        (folder / f"{module}.py").write_text(KIND_HEADER + textwrap.dedent(body))
    sys.path.insert(0, str(tmp_path))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(tmp_path))


def test_discovery_takes_one_model_per_public_module(tmp_path):
    package = kinds_package(tmp_path, {
        "beta": f"class BetaCheck(CheckBase):\n    kind: Literal['beta']\n{BOTH_STEPS}",
        "alpha": f"class AlphaCheck(CheckBase):\n    kind: Literal['alpha']\n{BOTH_STEPS}",
        "_helpers": "class NotAKind(CheckBase):\n    kind: Literal['helper']\n",
    })
    assert [model.__name__ for model in discover_kinds(package)] == ["AlphaCheck", "BetaCheck"]


@pytest.mark.parametrize(("modules", "message"), [
    ({"two": "class A(CheckBase):\n    kind: Literal['a']\nclass B(CheckBase):\n    kind: Literal['b']\n"},
     "defines 2"),
    ({"none": "x = 1\n"}, "defines 0"),
    ({"lazy": "class A(CheckBase):\n    kind: Literal['a']\n    def plan_check(self, question_id, ctx):\n"
              "        return None\n"}, "does not define judge_replies"),
    ({"one": f"class A(CheckBase):\n    kind: Literal['same']\n{BOTH_STEPS}",
      "other": f"class B(CheckBase):\n    kind: Literal['same']\n{BOTH_STEPS}"}, "defined twice: same"),
])
def test_discovery_refuses_a_module_that_is_not_one_kind(tmp_path, modules, message):
    package = kinds_package(tmp_path, modules)
    with pytest.raises(CheckKindError, match=message):
        discover_kinds(package)


# A kind that is not in the engine: "at_least" passes when the student's number is at least `minimum`.
NEW_KIND = '''\
"""A test's own check kind: the student's number must be at least `minimum`."""

from typing import ClassVar, Literal

from grader.checks.inputs import GeneratedCase
from grader.checks.kinds._base import CheckBase, PlanContext, reply_for
from grader.checks.plan import CaseRun, CheckPlan, CheckResult, ReplyMap
from grader.execution.protocol import Request


class AtLeastCheck(CheckBase):
    kind: Literal["at_least"]
    name: str
    minimum: float
    precomputable: ClassVar[bool] = True

    def student_names(self):
        return [self.name]

    def plan_check(self, question_id: str, ctx: PlanContext) -> CheckPlan:
        key = f"{question_id}/{self.id}/get"
        return CheckPlan(question_id=question_id, check=self, requests=[Request(key=key, op="get", target=self.name)],
                         runs=[CaseRun(case=GeneratedCase(name=self.name), key=key, expected=self.minimum)])

    def judge_replies(self, plan: CheckPlan, replies: ReplyMap) -> CheckResult:
        reply = reply_for(replies, plan.runs[0].key)
        if reply.ok and float(reply.value) >= self.minimum:
            return self.result(plan, "passed", self.points, "big enough")
        return self.result(plan, "failed", 0.0, f"below {self.minimum:g}")
'''

RUBRIC = """\
sheet: newkind
title: A sheet with a kind the engine does not ship
deadline: {local: "2030-01-01T12:00", time_zone: UTC}
questions:
  - id: "1"
    points: 2
    checks:
      - {id: big, kind: at_least, visibility: public, points: 1, name: accuracy, minimum: 0.9}
      - {id: exact, kind: value, visibility: public, points: 1, name: answer, expected: 42}
"""

SCRIPT = """\
import json, sys
from pathlib import Path
from grader.execution.protocol import Reply
from grader.rubric.load import RubricError, load_rubric
from grader.rubric.plans import plan_checks
from grader.rubric.released import load_released, write_public
from grader.scoring.sheet import judge

loaded = load_rubric(Path("rubric.yaml"))
plans = plan_checks(loaded)
released = load_released(write_public(loaded, plans, Path("released.json")))

def score(plans, accuracy):
    replies = {p.requests[0].key: Reply(p.requests[0].key, ok=True, value=value, kind="python")
               for p, value in zip(plans, [accuracy, 42])}
    grade = judge(loaded.rubric.questions, plans, replies, sheet="newkind", source="x", run=None)
    return [(c.check_id, c.status, c.points) for q in grade.questions for c in q.checks]

Path("rubric.yaml").write_text(Path("rubric.yaml").read_text().replace("minimum: 0.9", "minimum: wrong"))
try:
    load_rubric(Path("rubric.yaml"))
    error = ""
except RubricError as exc:
    error = str(exc)
print(json.dumps({"good": score(plans, 0.95), "low": score(plans, 0.5), "released": score(released.plans, 0.95),
                  "error": error}))
"""


def test_a_new_kind_is_one_module_and_nothing_else_changes(tmp_path):
    """In a copy of the engine, adding grader/checks/kinds/at_least.py is all it takes: the loader validates
    the new kind (and names its fields in errors), planning, judging and the released rubric use it."""
    copy = tmp_path / "project"
    shutil.copytree(REPO / "grader", copy / "grader", ignore=shutil.ignore_patterns("__pycache__", "assets"))
    (copy / "grader" / "checks" / "kinds" / "at_least.py").write_text(NEW_KIND)
    work = tmp_path / "work"
    work.mkdir()
    (work / "rubric.yaml").write_text(RUBRIC)
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=work, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["good"] == [["big", "passed", 1.0], ["exact", "passed", 1.0]]
    assert outcome["low"] == [["big", "failed", 0.0], ["exact", "passed", 1.0]]
    assert outcome["released"] == outcome["good"]
    assert "question 1, check big, field minimum" in outcome["error"]


TORCH_ERROR = ("Traceback (most recent call last):\n  File \"<cell 3>\", line 2, in kl\n"
               "TypeError: xlogy() received an invalid combination of arguments - got (numpy.ndarray, numpy.ndarray),"
               " but expected one of:\n * (Tensor input, Tensor other, *, Tensor out = None)\n"
               " * (Tensor input, Number other, *, Tensor out = None)\n")


def test_a_retried_case_names_the_exception_even_when_its_message_runs_over_several_lines():
    """torch's argument errors list the accepted signatures after the message: the feedback quotes the line
    that names the exception, not the last signature."""
    import numpy as np

    from grader.checks.inputs import GeneratedCase
    from grader.checks.kinds.function import FunctionCheck
    from grader.checks.plan import CaseRun, CaseVariant, CheckPlan
    from grader.execution.protocol import Argument, Reply

    check = FunctionCheck(kind="function", id="kl", points=1, function="kl", reference="m:kl",
                          cases=[{"name": "example", "args": [1.0]}], visibility="public")
    planned = GeneratedCase(name="example", args=(Argument(np.array([0.5, 0.5])),))
    as_torch = GeneratedCase(name="example", args=(Argument(np.array([0.5, 0.5]), kind="torch"),))
    plan = CheckPlan(question_id="3c", check=check, runs=[CaseRun(
        case=planned, key="3c/kl/0", expected=0.0, variants=[CaseVariant("torch float64 tensors", as_torch, 0.0)])])
    reply = Reply("3c/kl/0", ok=True, value=0.0, kind="torch", variant=1, attempt_errors=[TORCH_ERROR])
    result = check.judge_replies(plan, {"3c/kl/0": reply})
    assert result.status == "passed"
    assert "(TypeError: xlogy() received an invalid combination of arguments" in result.message
    assert "Number other" not in result.message

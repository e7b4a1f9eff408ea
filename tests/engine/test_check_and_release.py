"""`grader check` for students and the release bundle it relies on when the reference is absent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.rubric.plans import plan_checks
from grader.commands.release import build_release
from grader.rubric.load import load_rubric
from tests.conftest import REPO

MASTER = REPO / "reference" / "notebooks" / "sheet02_master.ipynb"


def grader_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["COLUMNS"] = "160"
    return subprocess.run([sys.executable, "-m", "grader.commands.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("release")
    build_release(load_rubric(REPO / "rubrics" / "sheet02.yaml"), out)
    return out


def test_release_holds_no_solution_and_no_hidden_data(bundle):
    loaded = load_rubric(REPO / "rubrics" / "sheet02.yaml")
    text = "\n".join(p.read_text(encoding="utf-8") for p in bundle.iterdir())
    # no reference source: every non-trivial line of the reference modules and of the master's solutions is absent
    for module in ("sheet02.py", "mistakes.py", "judging.py", "_arrays.py"):
        for line in (REPO / "reference" / module).read_text().splitlines():
            line = line.strip()
            if len(line) > 30 and not line.startswith(("#", '"""', "from ", "import ", "def ")):
                assert line not in text, f"reference line leaked from {module}: {line}"
    master_solution = "p * (np.log(p) - np.log(q))"
    assert master_solution in MASTER.read_text() and master_solution not in text
    released = json.loads((bundle / "sheet02.public.json").read_text())
    hidden = {c.id for q in loaded.rubric.questions for c in q.checks if c.visibility == "hidden"}
    assert hidden and not hidden & {p["check"]["id"] for p in released["plans"]}
    # hidden checks' inputs: the hidden plans' generated arrays appear nowhere in the bundle
    for plan in plan_checks(loaded):
        if plan.check.visibility == "hidden":
            for run in plan.runs:
                assert json.dumps(run.case.name) not in json.dumps(released["plans"])


def test_check_works_without_the_reference(bundle, tmp_path):
    """A student's machine: no course repo on the path, only the engine and the released rubric."""
    result = grader_cli("check", str(MASTER), "--sheet", "sheet02", "--rubric", str(bundle / "sheet02.public.json"),
                        cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "public checks passed: 5/5" in result.stdout
    probe = subprocess.run([sys.executable, "-c", "import reference"], cwd=tmp_path, capture_output=True)
    assert probe.returncode != 0  # the check above really ran without it


def test_check_fails_with_exit_1_and_shows_the_hint(bundle, tmp_path):
    template = bundle / "sheet02.ipynb"
    notebook = nbformat.read(str(template), as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("grader", {}).get("id") == "code3c":
            cell.source = ("import numpy as np\n"
                           "def kl_discrete(p, q):\n    p, q = np.asarray(p), np.asarray(q)\n"
                           "    return float(np.sum(np.where(p > 0, p * np.log2(np.where(p > 0, p, 1) / q), 0)))\n")
    path = tmp_path / "mine.ipynb"
    nbformat.write(notebook, str(path))
    result = grader_cli("check", str(path), "--sheet", "sheet02", "--course", str(REPO), cwd=tmp_path)
    assert result.returncode == 1
    assert "natural logarithm" in result.stdout and "expected:" in result.stdout
    assert "failed" in result.stdout and "passed" in result.stdout


def test_usage_errors_exit_2(tmp_path):
    assert grader_cli("check", "missing.ipynb", "--sheet", "sheet02", "--course", str(REPO),
                      cwd=tmp_path).returncode == 2
    (tmp_path / "x.ipynb").write_text("{}")
    result = grader_cli("check", "x.ipynb", "--sheet", "nope", "--course", str(REPO), cwd=tmp_path)
    assert result.returncode == 2 and "no rubric for 'nope'" in result.stdout

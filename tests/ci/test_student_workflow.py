"""The documented GitHub workflow, run locally on the example student repository: its shell steps in order,
then the JUnit XML it uploads, read back by a JUnit parser."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import junitparser
import nbformat
import pytest
import yaml

from grader.rubric.notebooks import cell_meta, make_template
from tests.ci.conftest import run_grader
from tests.conftest import REPO

WORKFLOW = REPO / "docs" / "workflows" / "grader-check.yml"
EXAMPLE = REPO / "examples" / "student-repo"
MASTER = REPO / "reference" / "notebooks" / "sheet02_master.ipynb"
# The example's answered cells; every other cell is the template's own.
ANSWERED = {"team", "code1b", "code1c", "answer1c", "code3c"}
# Steps that install things: this machine has them already (grader is installed in the test environment).
INSTALLS = ("apt-get install", "pip install")


def steps() -> list[dict]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["check"]["steps"]


def test_the_example_carries_the_documented_workflow():
    copy = EXAMPLE / ".github" / "workflows" / "grader-check.yml"
    assert copy.read_text(encoding="utf-8") == WORKFLOW.read_text(encoding="utf-8"), \
        "examples/student-repo has an old copy of docs/workflows/grader-check.yml: copy it again"


def test_the_example_notebook_is_the_current_template_with_some_answers():
    template = make_template(nbformat.read(str(MASTER), as_version=4))
    example = nbformat.read(str(EXAMPLE / "sheet02.ipynb"), as_version=4)
    assert [cell_meta(c).get("id") for c in example.cells] == [cell_meta(c).get("id") for c in template.cells]
    for mine, theirs in zip(example.cells, template.cells):
        cell_id = cell_meta(mine)["id"]
        assert mine.cell_type == theirs.cell_type and cell_meta(mine) == cell_meta(theirs), cell_id
        if cell_id in ANSWERED:
            assert mine.source != theirs.source and "YOUR CODE HERE" not in mine.source, cell_id
        else:
            assert mine.source == theirs.source, f"{cell_id} differs from the template: regenerate the example"


def grader_on_path(tmp_path: Path) -> str:
    """PATH with the `grader` command of this Python (a shim if it was installed without console scripts)."""
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "grader").exists():
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        shim = bin_dir / "grader"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m grader.commands.cli "$@"\n', encoding="utf-8")
        shim.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"


def test_the_workflow_commands_check_the_example_and_write_junit(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("sheet02.public.json", "results.xml", "summary.md"))
    bundle = tmp_path / "bundle"
    released = run_grader("release", str(bundle), "--sheet", "sheet02", "--course", str(REPO), cwd=tmp_path)
    assert released.returncode == 0, released.stdout + released.stderr
    shutil.copy(bundle / "sheet02.public.json", repo)

    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    summary = tmp_path / "step_summary.md"
    summary.touch()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update({k: str(v) for k, v in workflow["env"].items()})
    env.update(GITHUB_STEP_SUMMARY=str(summary), GITHUB_WORKSPACE=str(repo), COLUMNS="160",
               PATH=grader_on_path(tmp_path))

    ran, skipped = [], []
    for step in steps():
        if "run" not in step:
            continue
        if any(word in step["run"] for word in INSTALLS):
            skipped.append(step["name"])
            continue
        # GitHub runs `run:` with bash -e -o pipefail on Linux runners
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=repo,
                                env=env, capture_output=True, text=True, timeout=600)
        ran.append((step["name"], result))
    assert len(skipped) == 2 and len(ran) == 1
    name, check = ran[0]
    assert "grader check" in next(s["run"] for s in steps() if s.get("name") == name)
    # half solved: the step fails (the job goes red), and still writes both reports
    assert check.returncode == 1, check.stdout + check.stderr
    assert "public checks passed: 2/5" in check.stdout

    upload = next(s for s in steps() if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"
    results = repo / upload["with"]["path"]
    xml = junitparser.JUnitXml.fromfile(str(results))
    cases = {(case.classname, case.name): case for suite in xml for case in suite}
    assert sorted(cases) == [("1b", "delta-public"), ("1c", "yes-no"), ("3c", "kl-public"), ("3d", "sample-public"),
                             ("3g", "closed-form-public")]
    assert {key for key, case in cases.items() if case.is_passed} == {("1b", "delta-public"), ("1c", "yes-no")}
    [failure] = cases[("3c", "kl-public")].result
    assert isinstance(failure, junitparser.Failure) and "natural logarithm" in failure.text
    assert "NotImplementedError" in cases[("3d", "sample-public")].result[0].text
    suite = ET.parse(results).getroot().find("testsuite")
    assert suite.get("name") == "sheet02: sheet02.ipynb" and suite.get("failures") == "3"

    table = summary.read_text(encoding="utf-8")
    assert "| question | check | points | verdict | message |" in table
    row = next(line for line in table.splitlines() if line.startswith("| 3c | kl-public |"))
    assert "0/0.5" in row and "natural logarithm" in row
    # 3g is a bonus question: its point comes on top of the maximum, as in the JUnit file's max_points
    assert "public checks passed: 2/5, points 1.5/2.5, bonus 0/1" in table
    assert {p.get("name"): p.get("value") for p in suite.find("properties")}["max_points"] == "2.5"


@pytest.mark.parametrize("document", ["docs/student-repo.md", "examples/student-repo/README.md"])
def test_the_documents_show_the_workflow_check_command(document):
    """The command the documents tell students to run is the one the workflow runs."""
    text = (REPO / document).read_text(encoding="utf-8")
    run = next(s["run"] for s in steps() if "grader check" in s.get("run", ""))
    options = [part for part in run.split() if part.startswith("--")]
    for option in options:
        assert option in text, f"{document} does not mention {option}"

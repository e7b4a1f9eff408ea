"""The grader installs under a name of its own: `pip install grader` is an unrelated 2012 package on PyPI. Every
install line the project shows (README, docs, the workflow, the student bundle) names this distribution."""

from __future__ import annotations

import re
import tomllib

import pytest
from typer.testing import CliRunner

from grader import DISTRIBUTION, __version__
from grader.commands.cli import app
from grader.commands.release import STUDENT_README, default_install
from tests.conftest import REPO

# `pip install grader`, `pip install -q "grader>=0.1"`, ... but not `pip install grader-x` or `sheet-grader`
WRONG = re.compile(r"pip3? install\s+(?:-\S+\s+)*[\"']?grader(?![\w-])")
DOCUMENTS = ["README.md", "docs/workflows/grader-check.yml", "examples/student-repo/.github/workflows/grader-check.yml",
             *(str(p.relative_to(REPO)) for p in sorted((REPO / "docs").glob("*.md"))),
             *(str(p.relative_to(REPO)) for p in sorted((REPO / "examples").rglob("*.md")))]


def test_the_distribution_is_the_one_pyproject_builds() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == DISTRIBUTION == "sheet-grader"
    assert project["version"] == __version__
    assert project["scripts"]["grader"] == "grader.commands.cli:app"  # the command keeps its name


@pytest.mark.parametrize("document", DOCUMENTS)
def test_no_install_line_names_the_unrelated_package(document: str) -> None:
    text = (REPO / document).read_text(encoding="utf-8")
    assert not WRONG.search(text), f"{document}: {WRONG.search(text).group()}"


def test_the_workflow_installs_this_distribution() -> None:
    workflow = (REPO / "docs" / "workflows" / "grader-check.yml").read_text(encoding="utf-8")
    assert re.search(rf"(?m)^  GRADER: {re.escape(DISTRIBUTION)}\s", workflow)
    assert 'pip install "$GRADER"' in workflow


def test_the_bundle_readme_installs_this_version_or_what_the_course_says(tmp_path) -> None:
    assert not WRONG.search(STUDENT_README.format(title="t", template="a", rubric="b", sheet="c", install="x"))
    assert default_install() == f"{DISTRIBUTION}=={__version__}"
    out = tmp_path / "bundle"
    result = CliRunner().invoke(app, ["release", str(out), "--sheet", "toy", "--course",
                                      str(REPO / "tests" / "engine" / "toycourse")])
    assert result.exit_code == 0, result.output
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert f"    pip install {DISTRIBUTION}=={__version__}\n" in readme and not WRONG.search(readme)
    assert "grader check toy.ipynb --sheet toy --rubric toy.public.json" in readme
    url = "git+https://example.org/course/grader.git@v0.1.0"
    result = CliRunner().invoke(app, ["release", str(out), "--sheet", "toy", "--install", url, "--course",
                                      str(REPO / "tests" / "engine" / "toycourse")])
    assert result.exit_code == 0 and f"    pip install {url}\n" in (out / "README.md").read_text(encoding="utf-8")
    refused = CliRunner().invoke(app, ["release", str(out), "--sheet", "toy", "--install", "a b", "--course",
                                       str(REPO / "tests" / "engine" / "toycourse")])
    assert refused.exit_code == 2 and "give one pip requirement" in refused.output

"""docs/architecture.md's layering, enforced: the import-linter contracts of pyproject.toml hold, and they do
catch a violation when one is planted."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytest.importorskip("importlinter")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """lint-imports over the project at `root` (its pyproject.toml), with `root` first on the import path."""
    return subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c;"
                           " sys.exit(c())", "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "HOME": str(root), "COLUMNS": "250"})


def test_the_import_contracts_hold():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout and "7 kept" in result.stdout


@pytest.mark.parametrize(("module", "planted", "contract"), [
    ("grader/execution/worker.py", "import grader.checks.plan", "sandbox imports nothing of the grader side"),
    ("grader/intake/naming.py", "import grader.reports.outputs", "only imports downwards"),
    ("grader/scoring/totals.py", "import reference", "never imports the course"),
    ("reference/verdicts.py", "import grader.checks.plan", "imports only grader.course"),
])
def test_a_planted_violation_breaks_its_contract(tmp_path, module, planted, contract):
    copy = tmp_path / "project"
    for part in ("grader", "reference"):
        shutil.copytree(REPO / part, copy / part, ignore=shutil.ignore_patterns("__pycache__", "assets", "*.ipynb"))
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    target = copy / module
    target.write_text(target.read_text("utf-8") + f"\n{planted}\n", encoding="utf-8")
    result = lint_imports(copy)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.rstrip().endswith("BROKEN")]
    assert len(broken) >= 1 and any(contract in line for line in broken), result.stdout[-3000:]

"""`grader selftest --sheet ID`: exit 0 when the rubric proves itself, 1 naming each mutant that slips through.

(The sheet 11 selftest runs in tests/engine/test_selftest.py; it trains models, so it is not repeated here.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from grader.commands.mutants import load_mutants
from tests.ci.conftest import run_grader
from tests.conftest import REPO


def test_selftest_of_sheet02_passes(tmp_path):
    result = run_grader("selftest", "--sheet", "sheet02", "--course", str(REPO), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "master: 7.5/7.5 automatic points" in lines and "template: 0 automatic points" in lines
    registered = load_mutants(REPO / "rubrics" / "sheet02.mutants.yaml").mutants
    for mutant in registered:
        assert any(line.startswith(f"mutant {mutant.id}: caught (") for line in lines), mutant.id
    assert lines[-1] == "selftest sheet02: ok" and "problem" not in result.stdout


def course_with_mutants(root: Path, mutants: list[dict]) -> Path:
    """A course whose sheet02 rubric is the real one, with its own mutants file."""
    (root / "rubrics").mkdir(parents=True)
    shutil.copy(REPO / "rubrics" / "sheet02.yaml", root / "rubrics" / "sheet02.yaml")
    (root / "reference").symlink_to(REPO / "reference", target_is_directory=True)
    registered = yaml.safe_load((REPO / "rubrics" / "sheet02.mutants.yaml").read_text(encoding="utf-8"))
    registered["mutants"] = mutants
    (root / "rubrics" / "sheet02.mutants.yaml").write_text(yaml.safe_dump(registered, allow_unicode=True),
                                                           encoding="utf-8")
    return root


def test_a_mutant_that_passes_fails_the_selftest_and_is_named(tmp_path):
    registered = yaml.safe_load((REPO / "rubrics" / "sheet02.mutants.yaml").read_text(encoding="utf-8"))["mutants"]
    real = next(m for m in registered if m["id"] == "kl-log2")
    # The master's own KL in other words: right, so the checks it claims to fail all pass.
    harmless = dict(real, id="kl-natural-log-after-all", description="KL written with np.log1p",
                    regions=["p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)\n"
                             "with np.errstate(divide='ignore', invalid='ignore'):\n"
                             "    terms = np.where(p > 0, p * np.log1p(p / q - 1), 0.0)\n"
                             "return float(terms.sum())\n", *real["regions"][1:]])
    assert len(real["regions"]) == len(harmless["regions"])
    course = course_with_mutants(tmp_path / "course", [real, harmless])

    result = run_grader("selftest", "--sheet", "sheet02", "--course", str(course), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "mutant kl-log2: caught (" in result.stdout
    assert "mutant kl-natural-log-after-all: NOT as registered" in result.stdout
    problems = [line for line in result.stdout.splitlines() if line.startswith("problem:")]
    assert len(problems) == 1
    assert problems[0].startswith("problem: mutant kl-natural-log-after-all (KL written with np.log1p): passes ")
    assert "3c/kl-public" in problems[0] and "although it should fail" in problems[0]
    assert result.stdout.splitlines()[-1] == "selftest sheet02: 1 problem(s)"


def test_usage_errors_exit_2(tmp_path):
    result = run_grader("selftest", "--sheet", "nope", "--course", str(REPO), cwd=tmp_path)
    assert result.returncode == 2 and "error:" in result.stdout and "nope" in result.stdout
    course = course_with_mutants(tmp_path / "course", [])
    result = run_grader("selftest", "--sheet", "sheet02", "--course", str(course), cwd=tmp_path)
    assert result.returncode == 2 and "sheet02.mutants.yaml" in result.stdout and "mutants" in result.stdout

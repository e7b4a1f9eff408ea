"""Shared pieces for the CI-facing tests: the `grader` command in a subprocess, a small course, notebooks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, write_notebook

TOY = REPO / "tests" / "engine" / "toycourse"
# The toy sheet's answers: question 1 wrong in the way its hint knows, 2 right, 3 a written answer.
TOY_CELLS = ["import numpy as np\ndef scale(x, factor):\n    return x", "answer = 42", "is_it_true = 'Yes'",
             ("md", "Scaling multiplies every entry.")]


def run_grader(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`grader ARGS` as a student or tutor runs it: a new process, without the repo on PYTHONPATH."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment["COLUMNS"] = "200"
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "grader.commands.cli", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def toy_course(tmp_path_factory) -> Path:
    """The engine's toy course, with its written-answer check made public (a check left to tutors)."""
    root = tmp_path_factory.mktemp("toycourse")
    shutil.copytree(TOY, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    rubric = root / "rubrics" / "toy.yaml"
    text = rubric.read_text(encoding="utf-8")
    manual = "{id: prose, kind: manual, points: 1}"
    assert manual in text, "the toy rubric's manual check changed; update this fixture"
    rubric.write_text(text.replace(manual, "{id: prose, kind: manual, visibility: public, points: 1}"),
                      encoding="utf-8")
    return root


@pytest.fixture
def toy_notebook(tmp_path) -> Path:
    return write_notebook(tmp_path / "repo" / "toy.ipynb", TOY_CELLS)

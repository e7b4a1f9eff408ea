"""Grading through the warm pool gives exactly the grade a cold sandbox gives: points, messages, hints, cells."""

from __future__ import annotations

from pathlib import Path

import nbformat

from grader.execution.pool import WarmPool
from grader.scoring.sheet import SubmissionGrade, execution_settings, grade_file
from grader.rubric.plans import plan_checks
from grader.commands.mutants import apply_mutant, load_mutants
from grader.rubric.notebooks import make_template
from grader.rubric.load import load_rubric
from tests.conftest import REPO, write_notebook

TOY = REPO / "tests" / "engine" / "toycourse"
TOY_HAND_INS = {
    "right": ["import numpy as np\ndef scale(x, factor):\n    return x * factor", "answer = 42", "is_it_true = 'Yes'"],
    "mistake": ["def scale(x, factor):\n    return x", "answer = 41", "is_it_true = 'No'"],
    "torch": ["import torch\ndef scale(x, factor):\n    return torch.as_tensor(x, dtype=torch.float32) * factor",
              "answer = 42"],
    "broken": ["def scale(x, factor) return x", "import os\nos._exit(3)", "answer = 42"],
    "blank": ["# nothing here"],
}


def summary(grade: SubmissionGrade) -> dict:
    """Everything a student or tutor sees of a grade, minus timings."""
    return {
        "points": grade.auto_points, "pending": grade.pending_manual, "max": grade.max_points, "error": grade.error,
        "checks": [(c.question_id, c.check_id, c.status, c.points, c.message, tuple(c.hints)) for c in grade.checks],
        "cells": sorted((c.label, c.status, c.error) for c in grade.run.cells.values()) if grade.run else None,
        "problems": grade.run.problems if grade.run else None,
    }


def grade_both(loaded, notebooks: dict[str, Path], bwrap) -> tuple[dict, dict, WarmPool]:
    plans = plan_checks(loaded)
    settings = execution_settings(loaded.rubric.execution)
    pool = WarmPool(bwrap, slots=1, preload=settings.preload)
    try:
        def grade_all(sandbox) -> dict:
            return {name: summary(grade_file(path, loaded.rubric.questions, plans, sheet=loaded.rubric.sheet,
                                             sandbox=sandbox, settings=settings))
                    for name, path in notebooks.items()}

        return grade_all(bwrap), grade_all(pool), pool
    finally:
        pool.close()


def test_toy_course_grades_are_identical(bwrap, tmp_path):
    loaded = load_rubric(TOY / "rubrics" / "toy.yaml")
    notebooks = {name: write_notebook(tmp_path / name / "hand-in.ipynb", cells) for name, cells in TOY_HAND_INS.items()}
    cold, warm, pool = grade_both(loaded, notebooks, bwrap)
    assert warm == cold
    assert cold["right"]["points"] > cold["mistake"]["points"]  # the hand-ins do differ
    assert pool.stats.warm_launches >= len(notebooks) and pool.stats.cold_launches == 0


def test_sheet02_master_mutant_and_template_grades_are_identical(bwrap, tmp_path):
    loaded = load_rubric(REPO / "rubrics" / "sheet02.yaml", course_root=REPO)
    master = nbformat.read(str(REPO / loaded.rubric.master_notebook), as_version=4)
    mutants = load_mutants(REPO / "rubrics" / "sheet02.mutants.yaml")
    variants = {"master": master, "mutant": apply_mutant(master, mutants.mutants[0]),
                "template": make_template(master)}
    notebooks = {}
    for name, notebook in variants.items():
        path = tmp_path / name / "hand-in.ipynb"
        path.parent.mkdir()
        nbformat.write(notebook, str(path))
        notebooks[name] = path
    cold, warm, pool = grade_both(loaded, notebooks, bwrap)
    assert warm == cold
    assert cold["master"]["points"] > cold["mutant"]["points"] > cold["template"]["points"]
    assert pool.stats.warm_launches >= len(notebooks) and pool.stats.cold_launches == 0

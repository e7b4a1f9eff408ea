"""A toy third sheet, with its own rubric and a three-line reference, graded by the same engine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.scoring.sheet import execution_settings, grade_file
from grader.rubric.plans import plan_checks
from grader.rubric.load import load_rubric
from tests.conftest import REPO, write_notebook

TOY = Path(__file__).parent / "toycourse"
RIGHT = ["import numpy as np\ndef scale(x, factor):\n    return x * factor",
         "answer = 42", "is_it_true = 'Yes'"]


@pytest.fixture(scope="module")
def toy():
    loaded = load_rubric(TOY / "rubrics" / "toy.yaml")
    return loaded, plan_checks(loaded)


def grade(toy, sandbox, tmp_path, cells):
    loaded, plans = toy
    notebook = write_notebook(tmp_path / "hand-in.ipynb", cells)
    return grade_file(notebook, loaded.rubric.questions, plans, sheet="toy", sandbox=sandbox,
                      settings=execution_settings(loaded.rubric.execution))


def points(grade_):
    return {q.question_id: q.points for q in grade_.questions}


def test_right_answers_score_every_automatic_point(toy, sandbox, tmp_path):
    result = grade(toy, sandbox, tmp_path, RIGHT)
    assert points(result) == {"1": 2.0, "2": 1.0, "3": 0.0}
    assert result.pending_manual == 1.0 and result.max_points == 4.0


def test_blank_notebook_scores_zero(toy, sandbox, tmp_path):
    result = grade(toy, sandbox, tmp_path, ["# nothing here"])
    assert result.auto_points == 0
    assert all(c.status in ("failed", "pending") for c in result.checks)
    assert "not defined" in result.questions[0].checks[0].message


def test_torch_and_float32_answers_pass(toy, sandbox, tmp_path):
    cells = ["import torch\ndef scale(x, factor):\n    return torch.as_tensor(x, dtype=torch.float32) * factor",
             *RIGHT[1:]]
    assert points(grade(toy, sandbox, tmp_path, cells))["1"] == 2.0


def test_known_mistake_loses_its_points_and_shows_its_hint(toy, sandbox, tmp_path):
    cells = ["def scale(x, factor):\n    return x", *RIGHT[1:]]
    result = grade(toy, sandbox, tmp_path, cells)
    public = result.questions[0].checks[0]
    assert public.points == 0 and public.hints == ["You returned x unchanged: multiply by factor."]
    # a public check shows input, expected and got; a hidden one shows none of the values
    assert "expected:" in public.message and "got:" in public.message
    hidden = result.questions[0].checks[1]
    assert hidden.points == 0 and "expected:" not in hidden.message


def test_a_failing_first_cell_does_not_cost_later_answers(toy, sandbox, tmp_path):
    result = grade(toy, sandbox, tmp_path, ["raise RuntimeError('first cell breaks')", *RIGHT])
    assert points(result)["1"] == 2.0 and points(result)["2"] == 1.0
    failed = result.failed_cells
    assert len(failed) == 1 and failed[0].label == "1" and "first cell breaks" in failed[0].error


def test_stored_outputs_are_never_trusted(toy, sandbox, tmp_path):
    import nbformat

    path = write_notebook(tmp_path / "fake.ipynb", ["answer = 41"])
    notebook = nbformat.read(str(path), as_version=4)
    notebook.cells[0].outputs = [nbformat.v4.new_output("stream", text="answer = 42\nAll tests passed!")]
    notebook.cells[0].execution_count = 1
    nbformat.write(notebook, str(path))
    loaded, plans = toy
    result = grade_file(path, loaded.rubric.questions, plans, sheet="toy", sandbox=sandbox,
                        settings=execution_settings(loaded.rubric.execution))
    assert points(result)["2"] == 0.0  # the value is 41 and the choice missing, whatever the outputs claim


def test_ipython_syntax_and_input_do_not_break_the_run(toy, sandbox, tmp_path):
    cells = ["%matplotlib inline\n!pip install nothing", "name = input('who?')", *RIGHT]
    result = grade(toy, sandbox, tmp_path, cells)
    assert points(result)["1"] == 2.0
    failed = {c.label: c for c in result.failed_cells}
    assert set(failed) == {"2"} and "EOFError" in failed["2"].error


def test_engine_names_no_course_topic():
    """grader/ must stay course-agnostic: no word of the bundled course's subject in its code."""
    pattern = re.compile(r"\b(lstm|rnn|kl|kullback|reparameteri[sz]|gan|vae|sigmoid|tanh|jacobian)\b", re.I)
    hits = [f"{path.relative_to(REPO)}:{n}" for path in (REPO / "grader").rglob("*.py")
            for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []


def test_script_hand_ins_run_statement_by_statement(toy, sandbox, tmp_path):
    loaded, plans = toy
    script = tmp_path / "hand_in.py"
    script.write_text("import numpy as np\nundefined_call()\n" + RIGHT[0].split("\n", 1)[1] + "\nanswer = 42\n")
    result = grade_file(script, loaded.rubric.questions, plans, sheet="toy", sandbox=sandbox,
                        settings=execution_settings(loaded.rubric.execution))
    assert points(result)["1"] == 2.0
    assert [c.label for c in result.failed_cells] == ["line 2"]

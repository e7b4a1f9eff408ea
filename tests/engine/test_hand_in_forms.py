"""Every correct answer gets its points in every form a student hands in (issue 14): torch-only functions,
percent-format scripts, helper modules in the zip, notebooks big only by their stored outputs, answers in other
clothes (np.bool_, 0-d arrays and tensors, +inf), a clean sys.exit; and the wrong answers that used to pass
(an unmasked 0 · log 0, an LSTM cell without gradients) are caught."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from grader.scoring.grade import run_flags
from grader.execution import program as program_module
from grader.execution.program import ProgramError, load_program
from grader.scoring.sheet import execution_settings, grade_file
from grader.rubric.plans import plan_checks
from grader.rubric.load import load_rubric
from tests.conftest import REPO, write_notebook

TOY = Path(__file__).parent / "toycourse" / "rubrics" / "toy.yaml"
RIGHT = ["import numpy as np\ndef scale(x, factor):\n    return x * factor", "answer = 42", "is_it_true = 'Yes'"]
FULL = {"1": 2.0, "2": 1.0, "3": 0.0}


@pytest.fixture(scope="module")
def toy():
    loaded = load_rubric(TOY)
    return loaded, plan_checks(loaded)


@pytest.fixture(scope="module")
def sheet02():
    loaded = load_rubric(REPO / "rubrics" / "sheet02.yaml")
    return loaded, plan_checks(loaded)


@pytest.fixture(scope="module")
def sheet11_code():
    """Sheet 11's checks of plain functions (11.2.3a, 11.3a): no model training needed to run them."""
    loaded = load_rubric(REPO / "rubrics" / "sheet11.yaml")
    return loaded, [p for p in plan_checks(loaded) if p.question_id in ("11.2.3a", "11.3a")]


def grade_path(course, sandbox, path: Path, files_dir: Path | None = None):
    loaded, plans = course
    return grade_file(path, loaded.rubric.questions, plans, sheet=loaded.rubric.sheet, sandbox=sandbox,
                      settings=execution_settings(loaded.rubric.execution), files_dir=files_dir)


def grade_cells(course, sandbox, tmp_path: Path, cells: list):
    return grade_path(course, sandbox, write_notebook(tmp_path / "hand-in.ipynb", cells))


def points(grade) -> dict[str, float]:
    return {q.question_id: q.points for q in grade.questions}


def check(grade, check_id: str):
    return next(c for c in grade.checks if c.check_id == check_id)


# --- 1. functions written for tensors only ----------------------------------------------------------------------

TORCH_ONLY_SHEET02 = [
    "import torch\n"
    "def forget_gate_delta(net_phi, zeta, s_prev):\n"
    "    gate = torch.sigmoid(net_phi)\n"
    "    return gate * (1 - gate) * (zeta * s_prev).sum()",
    "bidirectional_online_feasible = False",
    "def kl_discrete(p, q):\n"
    "    return torch.where(p > 0, p * (p.log() - q.log()), torch.zeros_like(p)).sum()\n"
    "P, Q = [0.3, 0.7], [0.5, 0.5]",
    "def reparameterize(mu, log_var, eps):\n    return mu + (0.5 * log_var).exp() * eps",
    "def kl_gaussian_std_normal(mu, Sigma):\n"
    "    L = torch.linalg.cholesky(Sigma)\n"
    "    return 0.5 * (Sigma.diagonal().sum() + mu @ mu - mu.shape[0] - 2 * L.diagonal().log().sum())",
]


def test_torch_only_solutions_of_sheet02_score_every_automatic_point(sheet02, sandbox, tmp_path):
    result = grade_cells(sheet02, sandbox, tmp_path, TORCH_ONLY_SHEET02)
    failed = {f"{c.question_id}/{c.check_id}": c.message for c in result.checks if c.status not in ("passed", "pending")}
    assert failed == {}
    assert result.auto_points == 7.5
    # Called with numpy first (the rubric's kind), the functions raised and were called again with tensors.
    assert "so it was called again with torch float64 tensors" in check(result, "delta-public").message
    assert "torch" not in check(result, "sample-public").message  # 3d is about autograd: tensors from the start


def test_a_torch_only_jacobian_of_sheet11_passes(sheet11_code, sandbox, tmp_path):
    cells = ["import torch\n"
             "def rnn_jacobian_J(z, activation):\n"
             "    s = torch.tanh(z) if activation == 'tanh' else torch.sigmoid(z)\n"
             "    return torch.diag(1 - s ** 2 if activation == 'tanh' else s * (1 - s))"]
    result = grade_cells(sheet11_code, sandbox, tmp_path, cells)
    assert points(result)["11.2.3a"] == 0.5


def test_a_function_that_fails_in_every_kind_fails_and_says_what_was_tried(toy, sandbox, tmp_path):
    result = grade_cells(toy, sandbox, tmp_path, ["def scale(x, factor):\n    return x.nothing()", *RIGHT[1:]])
    message = check(result, "public").message
    assert points(result)["1"] == 0
    assert "calling `scale` with a numpy float64 array and a Python float failed" in message
    assert "It was also called with the same values as torch float64 tensors: AttributeError" in message


def test_a_torch_only_function_keeps_its_hints(toy, sandbox, tmp_path):
    result = grade_cells(toy, sandbox, tmp_path, ["def scale(x, factor):\n    return x.clone()", *RIGHT[1:]])
    public = check(result, "public")
    assert public.status == "failed" and public.hints == ["You returned x unchanged: multiply by factor."]


def test_no_retry_where_the_rubric_demands_one_kind(toy, sandbox, tmp_path):
    loaded, plans = toy
    strict = loaded.rubric.questions[0].checks[0].model_copy(update={"retry_other_kinds": False})
    from grader.checks.kinds import PlanContext

    plan = strict.plan_check(loaded.rubric.questions[0].id, PlanContext(seed=loaded.rubric.seed, resolve=loaded.resolve))
    assert all(not request.alternatives for request in plan.requests)
    default = next(p for p in plans if p.check.id == "public")
    assert [len(r.alternatives) for r in default.requests] == [3]


# --- 2. percent-format scripts --------------------------------------------------------------------------------

PERCENT_SCRIPT = '''\
# ---
# jupyter:
#   jupytext: {formats: "ipynb,py:percent"}
# ---

# %% [markdown]
# # Toy sheet
# Our answers, written in VS Code.

# %% 1 Scale a vector tags=["solution"]
import numpy as np


def scale(x, factor):
    return x * factor

#%% 2 The answer
answer = 42

# %% [raw]
# this is not Python at all {{

# %%% 2, second part (a Spyder sub-cell)
is_it_true = "yes"

# %% a cell that fails
raise ValueError("on purpose")
'''


def test_percent_cells_have_titles_not_code(tmp_path):
    path = tmp_path / "answers.py"
    path.write_text(PERCENT_SCRIPT)
    program = load_program(path)
    labels = [cell.label for cell in program.cells]
    assert labels == ["line 1", "1 Scale a vector (line 11)", "2 The answer (line 18)",
                      "2, second part (a Spyder sub-cell) (line 24)", "a cell that fails (line 27)"]
    assert program.markdown == ["# Toy sheet\nOur answers, written in VS Code."]
    assert not any("this is not Python" in cell.source for cell in program.cells)
    # Line numbers stay those of the file.
    assert program.cells[-1].source.splitlines()[26] == 'raise ValueError("on purpose")'


def test_a_percent_script_scores_like_the_notebook(toy, sandbox, tmp_path):
    path = tmp_path / "answers.py"
    path.write_text(PERCENT_SCRIPT)
    result = grade_path(toy, sandbox, path)
    assert points(result) == FULL
    [failed] = result.failed_cells
    assert failed.label == "a cell that fails (line 27)" and 'line 27' in failed.error


def test_a_script_without_markers_runs_statement_by_statement(toy, sandbox, tmp_path):
    path = tmp_path / "answers.py"
    path.write_text("import numpy as np\nundefined_name\n\ndef scale(x, factor):\n    return x * factor\n\n"
                    "answer = 42\nis_it_true = True\n")
    result = grade_path(toy, sandbox, path)
    assert points(result) == FULL and [c.label for c in result.failed_cells] == ["line 2"]


# --- 3. helper modules shipped in the hand-in -----------------------------------------------------------------

def test_helper_modules_beside_the_notebook_import_and_nothing_else_does(toy, sandbox, tmp_path):
    files = tmp_path / "files"
    (files / "team" / "lib").mkdir(parents=True)
    (files / "team" / "helpers.py").write_text("def times(x, factor):\n    return x * factor\n")
    (files / "team" / "lib" / "__init__.py").write_text("ANSWER = 42\n")
    cells = ["from helpers import times\ndef scale(x, factor):\n    return times(x, factor)",
             "from lib import ANSWER\nanswer = ANSWER",
             "import importlib.util, os\n"
             "hidden = ['reference', 'rubrics', 'checks', 'execution', 'toy_reference', 'tests']\n"
             "is_it_true = not any(importlib.util.find_spec(m) for m in hidden) and os.path.isfile('helpers.py')"]
    notebook = write_notebook(files / "team" / "sheet.ipynb", cells)
    result = grade_path(toy, sandbox, notebook, files_dir=files)
    assert points(result) == FULL, [c.message for c in result.checks]


# --- 4. notebooks big only because of their stored outputs ----------------------------------------------------

def _notebook_with_output(path: Path, cells: list[str], output_chars: int) -> Path:
    notebook = nbformat.v4.new_notebook()
    for source in cells:
        notebook.cells.append(nbformat.v4.new_code_cell(source))
    notebook.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * output_chars)]
    notebook.cells[0].execution_count = 1
    nbformat.write(notebook, str(path))
    return path


def test_stored_outputs_are_dropped_before_the_size_cap(toy, sandbox, tmp_path, monkeypatch):
    monkeypatch.setattr(program_module, "MAX_SOURCE_BYTES", 2**20)
    path = _notebook_with_output(tmp_path / "big.ipynb", RIGHT, 3 * 2**20)
    program = load_program(path)
    assert len(program.cells) == 3
    [note] = program.notes
    assert "only because of its stored outputs (3.0 MB); they were dropped" in note
    result = grade_path(toy, sandbox, path)
    assert points(result) == FULL and note in result.notes


def test_the_cap_applies_to_the_code_and_the_read_guard_stays(tmp_path, monkeypatch):
    monkeypatch.setattr(program_module, "MAX_SOURCE_BYTES", 2**20)
    monkeypatch.setattr(program_module, "MAX_READ_BYTES", 4 * 2**20)
    code = _notebook_with_output(tmp_path / "code.ipynb", ["x = '" + "y" * (2 * 2**20) + "'"], 10)
    with pytest.raises(ProgramError, match=r"code.ipynb: its code and text are 2.0 MB without the stored outputs"):
        load_program(code)
    huge = _notebook_with_output(tmp_path / "huge.ipynb", ["x = 1"], 5 * 2**20)
    with pytest.raises(ProgramError, match="huge.ipynb: .* more than the 4 MB a notebook file may have"):
        load_program(huge)
    small = _notebook_with_output(tmp_path / "small.ipynb", ["x = 1"], 1000)
    assert load_program(small).notes == []  # outputs of a normal notebook are dropped without a word


# --- 5. values in other clothes --------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["np.bool_(True)", "torch.tensor(True)", "np.array([1.0])"])
def test_a_yes_no_answer_in_numpy_or_torch_clothes_is_that_answer(toy, sandbox, tmp_path, answer):
    cells = [*RIGHT[:2], f"import numpy as np, torch\nis_it_true = {answer}"]
    result = grade_cells(toy, sandbox, tmp_path, cells)
    assert check(result, "choice").status == "passed", check(result, "choice").message


def test_a_value_given_as_a_0_d_tensor_is_the_number(toy, sandbox, tmp_path):
    result = grade_cells(toy, sandbox, tmp_path, [RIGHT[0], "import torch\nanswer = torch.tensor(42.0)", RIGHT[2]])
    assert points(result) == FULL


def test_an_own_kl_example_with_one_infinite_direction_shows_the_asymmetry(sheet02, sandbox, tmp_path):
    loaded, plans = sheet02
    own = [p for p in plans if p.check.id == "own-example"]
    cells = ["P = [0.3, 0.7]\nQ = [1.0, 0.0]"]  # KL(P||Q) = +inf (q_2 = 0 < p_2), KL(Q||P) = ln(1/0.3)
    result = grade_cells((loaded, own), sandbox, tmp_path, cells)
    assert check(result, "own-example").status == "passed", check(result, "own-example").message


# --- 6. a clean exit is not a crash ----------------------------------------------------------------------------

@pytest.mark.parametrize("ending, crash", [("sys.exit(main())", False), ("sys.exit()", False),
                                           ("os._exit(0)", False), ("sys.exit(1)", True)])
def test_a_script_that_ends_with_a_clean_exit_is_not_a_crash(toy, sandbox, tmp_path, ending, crash):
    path = tmp_path / "answers.py"
    path.write_text("import os, sys\nimport numpy as np\n\ndef scale(x, factor):\n    return x * factor\n\n"
                    "answer = 42\nis_it_true = 'yes'\n\ndef main():\n    print('done')\n    return 0\n\n"
                    f"if __name__ == '__main__':\n    {ending}\n")
    result = grade_path(toy, sandbox, path)
    assert points(result) == FULL
    assert ("crash" in {flag.code for flag in run_flags(result.run)}) == crash
    assert bool(result.failed_cells) == crash


# --- 7. and 8. wrong answers that used to pass -----------------------------------------------------------------

def test_an_unmasked_zero_log_zero_fails_the_hidden_kl_check(sheet02, sandbox, tmp_path):
    loaded, plans = sheet02
    kl = [p for p in plans if p.question_id == "3c" and p.check.kind == "function"]
    cells = ["import numpy as np\ndef kl_discrete(p, q):\n"
             "    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)\n"
             "    return float(np.sum(p * np.log(p / q)))"]
    result = grade_cells((loaded, kl), sandbox, tmp_path, cells)
    hidden = check(result, "kl-hidden")
    assert hidden.status == "failed"
    assert "hidden case 'zeros in p contribute nothing'" in hidden.message and "NaN" in hidden.message
    assert any("0 · ln 0 counts as 0" in hint for hint in hidden.hints)


LSTM_BODY = ("    gates = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh\n"
             "    i, f, g, o = gates.chunk(4, dim=1)\n"
             "    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)\n"
             "    return torch.sigmoid(o) * torch.tanh(c_new), c_new\n")


@pytest.mark.parametrize("before_def, first_line, loses", [
    ("", "", False),
    ("@torch.no_grad()\n", "", True),
    ("", "    x, h, c = x.detach(), h.detach(), c.detach()\n", True),
])
def test_an_lstm_cell_without_gradient_flow_loses_the_gradient_check(sheet11_code, sandbox, tmp_path, before_def,
                                                                      first_line, loses):
    cell = (f"import torch\n{before_def}def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):\n" + first_line + LSTM_BODY)
    result = grade_cells(sheet11_code, sandbox, tmp_path, [cell])
    assert check(result, "cell-public").passed and check(result, "cell-hidden").passed
    gradients = check(result, "cell-gradients")
    assert gradients.passed != loses
    if loses:
        assert "no gradient reached argument 0" in gradients.message


def test_released_rubrics_carry_the_retries(toy, tmp_path):
    from grader.rubric.released import load_released, write_public

    loaded, plans = toy
    path = write_public(loaded, plans, tmp_path / "toy.public.json")
    released = load_released(path)
    original = next(p for p in plans if p.check.id == "public")
    again = next(p for p in released.plans if p.check.id == "public")
    assert [len(r.alternatives) for r in again.requests] == [len(r.alternatives) for r in original.requests] == [3]
    assert [v.label for v in again.runs[0].variants] == [v.label for v in original.runs[0].variants]
    assert json.loads(path.read_text())["format"].startswith("grader-released-rubric")

"""The master notebook of exercise 11.3 and its grader-side helpers (reference/practical.py).

The notebook is executed once per session in a temporary copy with an extra probe cell appended; the probe prints a
JSON of values read from the live kernel, so nothing here trusts outputs stored in the notebook file.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from grader.rubric.notebooks import ROLES, make_template
from reference import practical
from reference.notebooks.build_sheet11_practical import (
    MASTER_PATH,
    QUESTIONS,
    build_notebook,
)

NOTEBOOK_BUDGET_SECONDS = 60.0
# Gradient ratio |dL/dh_1| / |dL/dh_T| over the 39 steps back to t = 1: the vanilla RNN's must have fallen by more
# than five orders of magnitude, the LSTM's (state = (h_t, c_t)) by less than two. The master gives about 8e-9 and
# 5e-2; over 12 training seeds the RNN stayed below 3e-7 and the LSTM above 2e-2.
RNN_MAX_GRADIENT_RATIO = 1e-5
LSTM_MIN_GRADIENT_RATIO = 1e-2

PROBE_MARKER = "PROBE-JSON:"
PROBE_SOURCE = r'''
import hashlib as _hashlib
import json as _json


def _lstm_cell_report(dtype):
    torch.manual_seed(123)
    reference = nn.LSTMCell(3, 5).to(dtype)
    params = [p.detach().clone().requires_grad_(True)
              for p in (reference.weight_ih, reference.weight_hh, reference.bias_ih, reference.bias_hh)]
    inputs = [torch.randn(4, 3, dtype=dtype, requires_grad=True),
              torch.randn(4, 5, dtype=dtype, requires_grad=True),
              torch.randn(4, 5, dtype=dtype, requires_grad=True)]
    h_new, c_new = lstm_cell(*inputs, *params)
    (h_new.pow(2).sum() + (c_new * 0.5).sum()).backward()
    ref_inputs = [t.detach().clone().requires_grad_(True) for t in inputs]
    ref_params = [reference.weight_ih, reference.weight_hh, reference.bias_ih, reference.bias_hh]
    h_ref, c_ref = reference(ref_inputs[0], (ref_inputs[1], ref_inputs[2]))
    (h_ref.pow(2).sum() + (c_ref * 0.5).sum()).backward()
    grad_diffs = [(a.grad - b.grad).abs().max().item() if a.grad is not None else None
                  for a, b in zip(inputs + params, ref_inputs + ref_params)]
    return {
        'dtypes': [str(h_new.dtype), str(c_new.dtype)],
        'shapes': [list(h_new.shape), list(c_new.shape)],
        'value_diff': max((h_new - h_ref).abs().max().item(), (c_new - c_ref).abs().max().item()),
        'grad_diffs': grad_diffs,
    }


def _digest(tensor):
    return _hashlib.sha256(tensor.contiguous().numpy().tobytes()).hexdigest()


def _states_report(model):
    logits, states = model.forward_with_states(x_test[:6])
    return {
        'count': len(states),
        'shape': list(states[0].shape),
        'requires_grad': all(s.requires_grad for s in states),
        'logits_diff': (logits - model(x_test[:6])).abs().max().item(),
    }


_states = {'rnn': _states_report(rnn_model), 'lstm': _states_report(lstm_model)}
with torch.no_grad():
    _lstm_last_logits = lstm_model(x_test)[:, -1].tolist()
    _rnn_shape = list(rnn_model(x_test[:3]).shape)
    _lstm_shape = list(lstm_model(x_test[:3]).shape)
    _bi_shape = list(bidirectional_model(x_test[:3]).shape)

print('PROBE-JSON:' + _json.dumps({
    'lstm_cell': {'float32': _lstm_cell_report(torch.float32), 'float64': _lstm_cell_report(torch.float64)},
    'rnn_accuracy': float(rnn_accuracy),
    'lstm_accuracy': float(lstm_accuracy),
    'lstm_last_logits': _lstm_last_logits,
    'output_shapes': {'rnn': _rnn_shape, 'lstm': _lstm_shape, 'bidirectional': _bi_shape},
    'states': _states,
    'rnn_grad_norms': [float(v) for v in rnn_grad_norms],
    'lstm_grad_norms': [float(v) for v in lstm_grad_norms],
    'grad_norms_shape': list(np.asarray(grad_norms(rnn_model, x_test[:8], y_test[:8])).shape),
    'lstm_online_feasible': bool(lstm_online_feasible),
    'rnn_online_step': future_dependence_step(rnn_model, x_test[:8]),
    'bidirectional_online_feasible': bool(bidirectional_online_feasible),
    'bidirectional_step': future_dependence_step(bidirectional_model, x_test[:8]),
    'x_test_digest': _digest(x_test),
    'y_test_digest': _digest(y_test),
    'target': LSTM_TARGET_ACCURACY,
}))
'''


# ---------------------------------------------------------------------------------------------------------------
# Markup lint, stricter than the template generator: regions balanced, not nested, and the END marker and the
# region's first line indented like the BEGIN marker (so `raise NotImplementedError()` lands at the code's level).

_CODE_BEGIN, _CODE_END = "# BEGIN SOLUTION", "# END SOLUTION"
_MD_BEGIN, _MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def check_code_regions(source: str, where: str) -> int:
    """Number of solution regions in `source`; AssertionError naming the line if the markup is broken."""
    regions = 0
    region_indent: str | None = None
    first_inside = True
    for number, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if marker == _CODE_BEGIN:
            assert region_indent is None, f"{where}, line {number}: nested BEGIN SOLUTION"
            region_indent, first_inside = _indent(line), True
            regions += 1
        elif marker == _CODE_END:
            assert region_indent is not None, f"{where}, line {number}: END SOLUTION without BEGIN"
            assert _indent(line) == region_indent, f"{where}, line {number}: END indented unlike its BEGIN"
            region_indent = None
        elif region_indent is not None and first_inside and marker:
            assert _indent(line) == region_indent, f"{where}, line {number}: region code indented unlike marker"
            first_inside = False
    assert region_indent is None, f"{where}: BEGIN SOLUTION without END"
    return regions


def check_markdown_regions(source: str, where: str) -> int:
    begins, ends = source.count(_MD_BEGIN), source.count(_MD_END)
    assert begins == ends, f"{where}: unbalanced solution markers"
    positions = [(m.start(), m.group()) for m in re.finditer(re.escape(_MD_BEGIN) + "|" + re.escape(_MD_END), source)]
    assert [kind for _, kind in positions] == [_MD_BEGIN, _MD_END] * begins, f"{where}: markers out of order"
    return begins


# ---------------------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def master() -> nbformat.NotebookNode:
    return nbformat.read(str(MASTER_PATH), as_version=4)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run a copy of the master plus the probe cell; return elapsed seconds and the probe's values."""
    workdir = tmp_path_factory.mktemp("practical")
    notebook_path = workdir / MASTER_PATH.name
    shutil.copy(MASTER_PATH, notebook_path)
    notebook = nbformat.read(str(notebook_path), as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PROBE_SOURCE))
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(workdir)}},
    )
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError naming the cell if any cell fails
    elapsed = time.perf_counter() - started
    probe_text = "".join(o.get("text", "") for o in notebook.cells[-1].outputs if o.output_type == "stream")
    lines = [line for line in probe_text.splitlines() if line.startswith(PROBE_MARKER)]
    assert len(lines) == 1, f"probe printed no JSON line; got {probe_text!r}"
    values = json.loads(lines[0][len(PROBE_MARKER):])
    # The master's own cells (without the probe) must have produced no error output either.
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    return {"elapsed": elapsed, "values": values, "errors": errors}


# ---------------------------------------------------------------------------------------------------------------
# Executed notebook: real behaviour read from the kernel


def test_notebook_runs_without_error_within_budget(executed: dict) -> None:
    assert executed["errors"] == []
    assert executed["elapsed"] < NOTEBOOK_BUDGET_SECONDS, f"notebook took {executed['elapsed']:.1f} s"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_cell_matches_torch_lstm_cell(executed: dict, dtype: str) -> None:
    report = executed["values"]["lstm_cell"][dtype]
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    assert report["dtypes"] == [f"torch.{dtype}"] * 2
    assert report["shapes"] == [[4, 5], [4, 5]]
    assert report["value_diff"] < tolerance
    # x, h, c, W_ih, W_hh, b_ih, b_hh all receive the gradient nn.LSTMCell gives them.
    assert len(report["grad_diffs"]) == 7
    assert all(diff is not None and diff < tolerance for diff in report["grad_diffs"]), report["grad_diffs"]


def test_lstm_reaches_target_and_rnn_does_not(executed: dict) -> None:
    values = executed["values"]
    assert values["target"] == practical.LSTM_TARGET_ACCURACY
    assert values["lstm_accuracy"] >= practical.LSTM_TARGET_ACCURACY
    assert 0.0 <= values["rnn_accuracy"] < practical.LSTM_TARGET_ACCURACY
    if practical.RNN_TARGET_ACCURACY is not None:
        assert values["rnn_accuracy"] >= practical.RNN_TARGET_ACCURACY


def test_reported_lstm_accuracy_agrees_with_grader_helper(executed: dict) -> None:
    values = executed["values"]
    _, y_test = practical.make_task(1000, practical.SEQ_LEN, seed=2)
    last_logits = torch.tensor(values["lstm_last_logits"]).unsqueeze(1)  # (B, 1, k): the last step only
    assert practical.accuracy_from_logits(last_logits, y_test) == pytest.approx(values["lstm_accuracy"], abs=1e-6)


def _digest(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.contiguous().numpy().tobytes()).hexdigest()


def test_kernel_test_data_is_the_graders_make_task(executed: dict) -> None:
    x_test, y_test = practical.make_task(1000, practical.SEQ_LEN, seed=2)
    assert executed["values"]["x_test_digest"] == _digest(x_test)
    assert executed["values"]["y_test_digest"] == _digest(y_test)


def test_models_return_per_step_logits(executed: dict) -> None:
    expected = [3, practical.SEQ_LEN, practical.N_CLASSES]
    assert executed["values"]["output_shapes"] == {"rnn": expected, "lstm": expected, "bidirectional": expected}


def test_forward_with_states_matches_forward(executed: dict) -> None:
    states = executed["values"]["states"]
    hidden = 32  # the master's hidden size; the LSTM carries [h_t, c_t]
    assert states["rnn"] | {"logits_diff": 0} == {
        "count": practical.SEQ_LEN, "shape": [6, hidden], "requires_grad": True, "logits_diff": 0
    }
    assert states["lstm"] | {"logits_diff": 0} == {
        "count": practical.SEQ_LEN, "shape": [6, 2 * hidden], "requires_grad": True, "logits_diff": 0
    }
    assert states["rnn"]["logits_diff"] < 1e-5 and states["lstm"]["logits_diff"] < 1e-5


def test_rnn_gradient_vanishes_and_lstm_gradient_does_not(executed: dict) -> None:
    values = executed["values"]
    assert values["grad_norms_shape"] == [practical.SEQ_LEN]
    rnn, lstm = values["rnn_grad_norms"], values["lstm_grad_norms"]
    assert len(rnn) == len(lstm) == practical.SEQ_LEN
    assert rnn[-1] > 0 and lstm[-1] > 0
    assert rnn[0] / rnn[-1] < RNN_MAX_GRADIENT_RATIO, rnn
    assert lstm[0] / lstm[-1] > LSTM_MIN_GRADIENT_RATIO, lstm


def test_online_probe_separates_causal_from_bidirectional(executed: dict) -> None:
    values = executed["values"]
    assert values["lstm_online_feasible"] is True
    assert values["rnn_online_step"] is None
    assert values["bidirectional_online_feasible"] is False
    # The backward direction makes even the first output depend on later inputs (steps counted from 1).
    assert values["bidirectional_step"] == 1


# ---------------------------------------------------------------------------------------------------------------
# The stored notebook and its markup


def test_stored_notebook_has_no_outputs(master: nbformat.NotebookNode) -> None:
    for cell in master.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], cell.metadata.get("grader")
            assert cell.execution_count is None, cell.metadata.get("grader")


def test_stored_notebook_is_what_the_builder_writes(master: nbformat.NotebookNode) -> None:
    assert master == build_notebook(), "run `python -m reference.notebooks.build_sheet11_practical` and commit"


def test_every_cell_has_valid_grader_metadata(master: nbformat.NotebookNode) -> None:
    ids = []
    for index, cell in enumerate(master.cells):
        meta = cell.metadata.get("grader")
        assert isinstance(meta, dict) and set(meta) == {"id", "question", "role"}, f"cell {index}: {meta!r}"
        assert meta["role"] in ROLES, f"cell {index}: role {meta['role']!r}"
        assert meta["question"] is None or meta["question"] in QUESTIONS, f"cell {index}: {meta['question']!r}"
        assert isinstance(meta["id"], str) and meta["id"], f"cell {index}: empty id"
        if meta["role"] == "solution":
            assert cell.cell_type == "code", f"cell {meta['id']}: solution cells are code"
        if meta["role"] in ("answer", "team", "text"):
            assert cell.cell_type == "markdown", f"cell {meta['id']}: {meta['role']} cells are markdown"
        ids.append(meta["id"])
    assert len(ids) == len(set(ids)), "cell ids repeat"
    roles = {cell.metadata.grader["role"] for cell in master.cells}
    assert {"given", "solution", "answer", "team", "text"} <= roles
    questions = {cell.metadata.grader["question"] for cell in master.cells if cell.metadata.grader["role"] == "solution"}
    assert questions == set(QUESTIONS)


def test_team_cell_is_first_and_complete(master: nbformat.NotebookNode) -> None:
    team = master.cells[0]
    assert team.metadata.grader["role"] == "team"
    names = re.findall(r"^- Name: (\S.*)$", team.source, re.MULTILINE)
    ids = re.findall(r"^- Student ID: (\d+)$", team.source, re.MULTILINE)
    emails = re.findall(r"^- Email: (\S+@example\.org)$", team.source, re.MULTILINE)
    assert 2 <= len(names) <= 3 and len(names) == len(ids) == len(emails)


def test_solution_regions_are_balanced(master: nbformat.NotebookNode) -> None:
    regions = 0
    for cell in master.cells:
        meta = cell.metadata.grader
        where = f"{MASTER_PATH.name}, cell {meta['id']}"
        if cell.cell_type == "code":
            compile(cell.source, where, "exec")
            found = check_code_regions(cell.source, where)
            assert (found > 0) == (meta["role"] == "solution"), f"{where}: {found} regions in a {meta['role']} cell"
        else:
            found = check_markdown_regions(cell.source, where)
            assert (found > 0) == (meta["role"] == "answer"), f"{where}: {found} regions in a {meta['role']} cell"
        regions += found
    assert regions >= 10


def test_template_compiles_and_keeps_given_cells(master: nbformat.NotebookNode) -> None:
    template = make_template(master)
    assert len(template.cells) == len(master.cells)
    for original, cell in zip(master.cells, template.cells):
        meta = cell.metadata.grader
        where = f"template of {MASTER_PATH.name}, cell {meta['id']}"
        if cell.cell_type == "code":
            compile(cell.source, where, "exec")
        if meta["role"] in ("solution", "answer"):
            assert "SOLUTION" not in cell.source and len(cell.source) < len(original.source), where
        else:
            assert cell.source == original.source, where


def test_template_functions_raise_not_implemented(master: nbformat.NotebookNode) -> None:
    cells = {cell.metadata.grader["id"]: cell for cell in make_template(master).cells}
    namespace: dict = {}
    for cell_id in ("setup", "a-lstm-cell", "c-grad-norms", "d-probe", "b-model"):
        exec(compile(cells[cell_id].source, cell_id, "exec"), namespace)  # noqa: S102 - our own template cells
    with pytest.raises(NotImplementedError):
        namespace["lstm_cell"](*([None] * 7))
    with pytest.raises(NotImplementedError):
        namespace["grad_norms"](None, None, None)
    with pytest.raises(NotImplementedError):
        namespace["future_dependence_step"](None, None)
    with pytest.raises(NotImplementedError):
        namespace["RecurrentClassifier"]("lstm", 2, 4, 2)


def test_notebook_make_task_is_the_graders(master: nbformat.NotebookNode) -> None:
    cell = next(c for c in master.cells if c.metadata.grader["id"] == "b-task")
    assert cell.metadata.grader["role"] == "given"
    namespace: dict = {}
    exec(compile(cell.source, "b-task", "exec"), namespace)  # noqa: S102 - our own given cell
    assert namespace["LSTM_TARGET_ACCURACY"] == practical.LSTM_TARGET_ACCURACY
    assert namespace["SEQ_LEN"] == practical.SEQ_LEN
    for n, steps, seed in [(7, 12, 0), (50, practical.SEQ_LEN, 3), (20, 9, 11)]:
        x_nb, y_nb = namespace["make_task"](n, steps, seed)
        x_ref, y_ref = practical.make_task(n, steps, seed)
        assert torch.equal(x_nb, x_ref) and torch.equal(y_nb, y_ref)


def test_builder_rejects_unknown_role() -> None:
    from reference.notebooks import build_sheet11_practical as builder

    with pytest.raises(ValueError, match="unknown role"):
        builder._code("x", None, "hidden", "pass")


# ---------------------------------------------------------------------------------------------------------------
# reference/practical.py


def test_make_task_shapes_and_label_is_the_marked_bit() -> None:
    x, y = practical.make_task(200, 15, seed=5)
    assert x.shape == (200, 15, practical.INPUT_DIM) and x.dtype == torch.float32
    assert y.shape == (200,) and y.dtype == torch.int64
    assert set(x[:, :, 0].unique().tolist()) == {-1.0, 1.0}
    marker = x[:, :, 1]
    assert torch.equal(marker.sum(dim=1), torch.ones(200))
    assert marker[:, practical.MARK_WINDOW:].abs().sum() == 0
    marked_bit = (x[:, :, 0] * marker).sum(dim=1)
    assert torch.equal(y, (marked_bit > 0).long())
    # Both labels and every marker position occur: the task is not degenerate.
    assert set(y.tolist()) == {0, 1}
    assert set(marker.argmax(dim=1).tolist()) == set(range(practical.MARK_WINDOW))


def test_make_task_is_deterministic_per_seed() -> None:
    a, b, c = (practical.make_task(30, 10, seed=s) for s in (4, 4, 5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_make_task_rejects_sequence_shorter_than_marker_window() -> None:
    with pytest.raises(ValueError, match="T=3"):
        practical.make_task(4, 3, seed=0)


def test_accuracy_from_logits_reads_last_step() -> None:
    logits = torch.zeros(4, 3, 2)
    logits[:, -1] = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [2.0, 1.0]])
    logits[:, 0] = torch.tensor([[0.0, 9.0]] * 4)  # earlier steps must not matter
    assert practical.accuracy_from_logits(logits, torch.tensor([0, 1, 0, 1])) == pytest.approx(0.5)
    assert practical.accuracy_from_logits(logits, torch.tensor([0, 1, 1, 0])) == pytest.approx(1.0)


def test_accuracy_from_logits_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(B, T, k\)"):
        practical.accuracy_from_logits(torch.zeros(4, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="y must have shape"):
        practical.accuracy_from_logits(torch.zeros(4, 3, 2), torch.zeros(5))


def test_region_check_rejects_broken_markup() -> None:
    with pytest.raises(AssertionError, match="without END"):
        check_code_regions("def f():\n    # BEGIN SOLUTION\n    return 1\n", "demo")
    with pytest.raises(AssertionError, match="without BEGIN"):
        check_code_regions("def f():\n    return 1\n    # END SOLUTION\n", "demo")
    with pytest.raises(AssertionError, match="nested"):
        check_code_regions("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "demo")
    with pytest.raises(AssertionError, match="indented unlike marker"):
        check_code_regions("def f():\n# BEGIN SOLUTION\n    return 1\n# END SOLUTION\n", "demo")
    with pytest.raises(AssertionError, match="unbalanced"):
        check_markdown_regions("<!-- BEGIN SOLUTION -->\nanswer\n", "demo")
    with pytest.raises(AssertionError, match="out of order"):
        check_markdown_regions("<!-- END SOLUTION -->\nanswer\n<!-- BEGIN SOLUTION -->", "demo")
    assert check_code_regions("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n", "demo") == 1

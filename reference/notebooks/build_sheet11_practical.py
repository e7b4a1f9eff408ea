"""Write the master notebook of exercise 11.3 (the practical of sheet 11).

Run from the repository root:  python -m reference.notebooks.build_sheet11_practical

The notebook is kept as code here so that changes are reviewable; the .ipynb
next to this file is its output (stored without outputs). Every cell carries
`metadata.grader = {"id", "question", "role"}`; in "solution" code cells the
model solution lies between `# BEGIN SOLUTION` / `# END SOLUTION` lines, in
"answer" markdown cells between `<!-- BEGIN SOLUTION -->` / `<!-- END SOLUTION -->`,
so a student template can be generated from the master.

The given data cell is assembled from `reference.practical`, so the notebook's
`make_task` is the grader's `make_task`, character for character.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import nbformat

from grader.course import make_cell
from reference import practical

MASTER_PATH = Path(__file__).with_name("sheet11_practical_master.ipynb")

QUESTIONS = ("11.3a", "11.3b", "11.3c", "11.3d")


def _cell(kind: str, cell_id: str, question: str | None, role: str, source: str) -> nbformat.NotebookNode:
    if question is not None and question not in QUESTIONS:
        raise ValueError(f"{__file__}: cell {cell_id!r} has unknown question {question!r}")
    return make_cell(kind, cell_id, question, role, source)


def _code(cell_id: str, question: str | None, role: str, source: str) -> nbformat.NotebookNode:
    return _cell("code", cell_id, question, role, source)


def _md(cell_id: str, question: str | None, role: str, source: str) -> nbformat.NotebookNode:
    return _cell("markdown", cell_id, question, role, source)


def _task_cell_source() -> str:
    constants = "\n".join(
        f"{name} = {getattr(practical, name)!r}"
        for name in ("SEQ_LEN", "INPUT_DIM", "N_CLASSES", "MARK_WINDOW", "LSTM_TARGET_ACCURACY")
    )
    return (
        "# Given: the task generator (do not change it - the grader generates its test data with the same code).\n"
        "import torch\n\n"
        f"{constants}\n\n\n"
        f"{inspect.getsource(practical.make_task)}\n\n"
        "x_train, y_train = make_task(300 * 64, SEQ_LEN, seed=1)\n"
        "x_test, y_test = make_task(1000, SEQ_LEN, seed=2)\n"
        "print('x_train', tuple(x_train.shape), x_train.dtype, ' y_train', tuple(y_train.shape), y_train.dtype)"
    )


TEAM = """
## Team

Member 1
- Name: Erika Mustermann
- Student ID: 2571034
- Email: erika.mustermann@example.org

Member 2
- Name: Jonas Beispiel
- Student ID: 2568817
- Email: jonas.beispiel@example.org

Member 3
- Name: Lea Platzhalter
- Student ID: 2590462
- Email: lea.platzhalter@example.org
"""

INTRO = """
# Exercise 11.3 - Practical (6 points)

In this notebook you implement an LSTM cell, train a vanilla RNN and an LSTM on a task with a long-range
dependency, look at how the gradient flows back through time in both, and check which models can be used online.

Rules - the grader relies on them:

- Fill in the team cell above (name, student ID and email of every member).
- Keep the names this notebook asks for (`lstm_cell`, `rnn_model`, `lstm_model`, `rnn_accuracy`, `lstm_accuracy`,
  `grad_norms`, `rnn_grad_norms`, `lstm_grad_norms`, `future_dependence_step`, `lstm_online_feasible`,
  `bidirectional_model`, `bidirectional_online_feasible`) and do not change the given cells.
- The notebook must run top to bottom on a CPU in **under 60 seconds** (the grader runs it again on 2 cores), so
  keep the models small, and make your training deterministic with `torch.manual_seed`.

Points: (a) 1.5, (b) 2, (c) 1.5, (d) 1.
"""

SETUP = """
# Given: imports and settings.
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
# The grader runs this notebook on 2 cores, but models this small gain nothing from a second thread: it only
# adds synchronisation, and makes training 10-80x slower whenever the other core is busy.
torch.set_num_threads(1)
"""

A_TEXT = """
## (a) An LSTM cell from scratch (1.5 points)

Implement one step of an LSTM, `lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh) -> (h_new, c_new)`, using only
tensor operations (no `torch.nn.LSTM`/`LSTMCell`). Shapes: `x` is (B, d), `h` and `c` are (B, H), `W_ih` is (4H, d),
`W_hh` is (4H, H), `b_ih` and `b_hh` are (4H,). The rows of the weights hold the gates in the order
**i, f, g, o** (input gate, forget gate, cell candidate, output gate), exactly as in `torch.nn.LSTMCell`:

$$
\\begin{aligned}
\\mathbf{i} &= \\sigma(W_{ii}\\mathbf{x} + b_{ii} + W_{hi}\\mathbf{h} + b_{hi}), &
\\mathbf{f} &= \\sigma(W_{if}\\mathbf{x} + b_{if} + W_{hf}\\mathbf{h} + b_{hf}),\\\\
\\mathbf{g} &= \\tanh(W_{ig}\\mathbf{x} + b_{ig} + W_{hg}\\mathbf{h} + b_{hg}), &
\\mathbf{o} &= \\sigma(W_{io}\\mathbf{x} + b_{io} + W_{ho}\\mathbf{h} + b_{ho}),\\\\
\\mathbf{c}' &= \\mathbf{f}\\odot\\mathbf{c} + \\mathbf{i}\\odot\\mathbf{g}, &
\\mathbf{h}' &= \\mathbf{o}\\odot\\tanh(\\mathbf{c}').
\\end{aligned}
$$

It must work for float32 and float64 tensors and keep autograd working (gradients must flow to all arguments).
"""

A_SOLUTION = """
def lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh):
    \"\"\"One step of an LSTM cell, gate order i, f, g, o as in torch.nn.LSTMCell.

    Receives: torch tensors, all float32 or all float64: x (B, d), h and c (B, H), W_ih (4H, d), W_hh (4H, H),
    b_ih and b_hh (4H,). Any of them may require grad: the gradients of h_new and c_new must reach all seven
    (no torch.no_grad(), .detach(), numpy or .item() inside).
    Returns: (h_new, c_new), tensors of shape (B, H).
    \"\"\"
    # BEGIN SOLUTION
    gates = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
    i, f, g, o = gates.chunk(4, dim=1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(c_new)
    return h_new, c_new
    # END SOLUTION
"""

A_CHECK = """
# Given: compare your cell with torch.nn.LSTMCell on random inputs (this only prints; the grader checks more).
_reference_cell = nn.LSTMCell(3, 4).double()
_x, _h, _c = torch.randn(5, 3).double(), torch.randn(5, 4).double(), torch.randn(5, 4).double()
_h_new, _c_new = lstm_cell(_x, _h, _c, _reference_cell.weight_ih, _reference_cell.weight_hh,
                           _reference_cell.bias_ih, _reference_cell.bias_hh)
_h_ref, _c_ref = _reference_cell(_x, (_h, _c))
print('max |h - h_ref| =', (_h_new - _h_ref).abs().max().item())
print('max |c - c_ref| =', (_c_new - _c_ref).abs().max().item())
"""

B_TEXT = """
## (b) A vanilla RNN and an LSTM on a long-range task (2 points)

**The task.** Each sequence has `SEQ_LEN` = 40 steps with two input channels. Channel 0 carries a random bit
(+1 or -1) at every step; channel 1 is 1 at exactly one of the first `MARK_WINDOW` = 5 steps (the *marker*) and 0
elsewhere. The label is the bit that was on channel 0 at the marked step, and the model must announce it **at the
last step** - at least 35 steps after it saw it, with a fresh random bit arriving at every step in between.
Chance level is 50 %. (Compare sheet 02, 1a: gated units can learn discrete tasks like remembering or counting.)

**What to build.** Two models with the same interface, `rnn_model` (a vanilla tanh RNN) and `lstm_model`:

- `model(x)` with `x` float32 of shape (B, T, d) returns **per-step logits** of shape (B, T, k) (k = `N_CLASSES`);
  the prediction for a sequence is the argmax of the last step's logits. Use the fused `nn.RNN` / `nn.LSTM` here:
  a Python loop over the steps makes training several times slower;
- `model.forward_with_states(x)` returns `(logits, states)`: the same logits, computed one step at a time with the
  same weights, and `states`, a list of T tensors, `states[t-1]` the recurrent state after step t, each still part
  of the autograd graph - you need them in (c). For the LSTM, use your `lstm_cell` from (a) for the steps.

Train both on `x_train, y_train` (cross-entropy on the last step's logits) and report the test accuracies
`rnn_accuracy` and `lstm_accuracy` (floats in [0, 1]) on `x_test, y_test`.

**Target:** `lstm_accuracy` ≥ `LSTM_TARGET_ACCURACY` = **0.9**. The vanilla RNN is *not* expected to solve the task.

Hints: hidden size 32, Adam with learning rate 0.003, batches of 64, one pass over `x_train` (300 steps), gradient
clipping at norm 1. Initialise the LSTM's forget-gate bias to a large positive value (e.g. 3) so that the cell
keeps its state by default - otherwise the error signal from step 40 hardly reaches the marker within this budget.
"""

B_MODEL = """
class RecurrentClassifier(nn.Module):
    \"\"\"A one-layer recurrent network ('rnn' = vanilla tanh RNN, 'lstm') with a linear read-out at every step.

    forward() uses torch's fused nn.RNN / nn.LSTM, which is fast for training. forward_with_states() computes the
    same function one step at a time with the same weights, so that the state after every step is a tensor of its
    own in the autograd graph. The state after step t is h_t for the RNN and the pair (h_t, c_t) for the LSTM,
    carried as one tensor [h_t, c_t] of shape (B, 2H) so that (c) can differentiate with respect to the whole state.
    \"\"\"

    def __init__(self, kind, input_dim, hidden_size, n_classes):
        super().__init__()
        self.kind = kind
        self.hidden_size = hidden_size
        # BEGIN SOLUTION
        if kind == 'rnn':
            self.recurrent = nn.RNN(input_dim, hidden_size, nonlinearity='tanh', batch_first=True)
        elif kind == 'lstm':
            self.recurrent = nn.LSTM(input_dim, hidden_size, batch_first=True)
            with torch.no_grad():
                # Gate order i, f, g, o: rows H..2H are the forget gate. A bias of 3 gives f ≈ 0.95 at the start.
                self.recurrent.bias_ih_l0[hidden_size:2 * hidden_size].fill_(3.0)
        else:
            raise ValueError(f'unknown kind {kind!r}')
        self.readout = nn.Linear(hidden_size, n_classes)
        # END SOLUTION

    def forward(self, x):
        # BEGIN SOLUTION
        hidden, _ = self.recurrent(x)
        return self.readout(hidden)
        # END SOLUTION

    def forward_with_states(self, x):
        # BEGIN SOLUTION
        r = self.recurrent
        weights = (r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0)
        batch, steps, _ = x.shape
        h = x.new_zeros(batch, self.hidden_size)
        c = x.new_zeros(batch, self.hidden_size)
        states, logits = [], []
        for t in range(steps):
            if self.kind == 'rnn':
                W_ih, W_hh, b_ih, b_hh = weights
                state = torch.tanh(x[:, t] @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
                h = state
            else:
                h, c = lstm_cell(x[:, t], h, c, *weights)  # your cell from (a)
                state = torch.cat([h, c], dim=1)
                # The next step and the read-out must see (h_t, c_t) through `state`, so that
                # dL/d(state) is the gradient with respect to the whole state.
                h, c = state.split(self.hidden_size, dim=1)
            states.append(state)
            logits.append(self.readout(h))
        return torch.stack(logits, dim=1), states
        # END SOLUTION
"""

B_TRAIN = """
def last_step_accuracy(model, x, y):
    # BEGIN SOLUTION
    with torch.no_grad():
        return (model(x)[:, -1].argmax(dim=-1) == y).float().mean().item()
    # END SOLUTION


def train(model, x, y, batch_size=64, lr=0.003, seed=0):
    # BEGIN SOLUTION
    torch.manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        loss = F.cross_entropy(model(xb)[:, -1], yb)
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
    model.eval()
    return model
    # END SOLUTION
"""

B_RUN = """
# Your trained models (nn.Modules: model(x), x a float32 tensor (B, T, d) -> per-step logits (B, T, k)) and
# their test accuracies (floats in [0, 1]).
rnn_model = None
lstm_model = None
rnn_accuracy = None
lstm_accuracy = None
# BEGIN SOLUTION
torch.manual_seed(0)
rnn_model = train(RecurrentClassifier('rnn', INPUT_DIM, 32, N_CLASSES), x_train, y_train, seed=0)
torch.manual_seed(0)
lstm_model = train(RecurrentClassifier('lstm', INPUT_DIM, 32, N_CLASSES), x_train, y_train, seed=0)
rnn_accuracy = last_step_accuracy(rnn_model, x_test, y_test)
lstm_accuracy = last_step_accuracy(lstm_model, x_test, y_test)
# END SOLUTION
"""

B_REPORT = """
# Given: report the accuracies.
print(f'vanilla RNN test accuracy: {rnn_accuracy:.3f}')
print(f'LSTM test accuracy:        {lstm_accuracy:.3f}   (target {LSTM_TARGET_ACCURACY})')
"""

C_TEXT = """
## (c) Gradient flow through time (1.5 points)

Write `grad_norms(model, x, y)` that returns a numpy array of shape (T,) whose entry `t-1` is
$\\left\\| \\partial L / \\partial \\mathbf{h}_t \\right\\|$ for t = 1, …, T, where $L$ is the mean cross-entropy of the
**last step's** logits on the batch `(x, y)` and $\\mathbf{h}_t$ is the model's recurrent state after step t (use the
`states` of `forward_with_states`; for the LSTM the state is the pair $(\\mathbf{h}_t, \\mathbf{c}_t)$ - the cell state
is what the LSTM carries through time). Take the norm over the whole batch (Frobenius norm of the (B, ·) gradient).

Compute `rnn_grad_norms` and `lstm_grad_norms` for your trained models on the first 256 test sequences, plot both
against t on a logarithmic y-axis, and interpret the plot in the answer cell below (compare with exercise 11.2.3).
"""

C_SOLUTION = """
def grad_norms(model, x, y):
    # BEGIN SOLUTION
    # autograd.grad returns dL/d(state_t) for every step without touching the parameters' .grad; it is what
    # state.retain_grad() + loss.backward() would give.
    logits, states = model.forward_with_states(x)
    loss = F.cross_entropy(logits[:, -1], y)
    grads = torch.autograd.grad(loss, states)
    return np.array([g.norm().item() for g in grads])
    # END SOLUTION
"""

C_RUN = """
# ‖∂L/∂h_t‖ for t = 1, ..., T of your trained models: numpy arrays of shape (T,), from grad_norms.
rnn_grad_norms = None
lstm_grad_norms = None
# BEGIN SOLUTION
rnn_grad_norms = grad_norms(rnn_model, x_test[:256], y_test[:256])
lstm_grad_norms = grad_norms(lstm_model, x_test[:256], y_test[:256])

steps = np.arange(1, SEQ_LEN + 1)
# A norm can underflow to exactly 0 in float32; clip for the log plot only.
floor = np.finfo(np.float32).tiny
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(steps, np.maximum(rnn_grad_norms, floor), label='vanilla RNN')
ax.semilogy(steps, np.maximum(lstm_grad_norms, floor), label='LSTM (state $h_t, c_t$)')
ax.set_xlabel('step t')
ax.set_ylabel(r'$\\|\\partial L / \\partial h_t\\|$')
ax.set_title('Gradient of the last-step loss w.r.t. the state at step t')
ax.legend()
fig.tight_layout()
plt.show()
print(f'RNN:  |dL/dh_1| / |dL/dh_T| = {rnn_grad_norms[0] / rnn_grad_norms[-1]:.1e}')
print(f'LSTM: |dL/dh_1| / |dL/dh_T| = {lstm_grad_norms[0] / lstm_grad_norms[-1]:.1e}')
# END SOLUTION
"""

C_ANSWER = """
**Answer (c):**

<!-- BEGIN SOLUTION -->
For the vanilla RNN the gradient norm falls exponentially as t moves away from T - a straight line on the log
scale - and at t = 1 it is about eight orders of magnitude below its value at t = T. This is equation (1) of 11.2.3:
the gradient reaching $h_t$ is a product of T - t Jacobians
$\\mathbf{J}_{k+1} = \\mathrm{diag}(\\sigma'(\\mathbf{z}_{k+1}))\\,\\mathbf{W}$, and with $|\\tanh'| \\le 1$ and a
recurrent matrix of moderate norm each factor shrinks the gradient, so the product vanishes. The error at step 40
never reaches the marked step, the RNN cannot learn which bit to keep and stays at chance level.

For the LSTM the norm drops over the last few steps (there $h_t$ still reaches the read-out directly), but further
back it stays flat - it even rises again towards the marked steps - down to t = 1: there is no exponential decay with
the distance T - t. The cell state is updated additively, $\\mathbf{c}_t = \\mathbf{f}_t\\odot\\mathbf{c}_{t-1} +
\\mathbf{i}_t\\odot\\mathbf{g}_t$, so $\\partial\\mathbf{c}_t/\\partial\\mathbf{c}_{t-1} \\approx
\\mathrm{diag}(\\mathbf{f}_t) \\approx I$ while the forget gate is open (the constant error carousel, a residual
connection through time). That is why the LSTM learns the marked bit. (The $h_t$ part of the state alone does decay,
because $h_t$ reaches the next step only through the gates; the memory lives in $c_t$.)
<!-- END SOLUTION -->
"""

D_TEXT = """
## (d) Can the model be used online? (1 point)

A model can be used for online classification only if its output at step t does not depend on inputs after t
(sheet 02, 1c). Write a probe `future_dependence_step(model, x) -> int | None` that returns the first step t
(counted from 1, as in (c)) whose output changes when only the inputs after t are perturbed, and `None` if no
output depends on future inputs. Apply it to your LSTM:
`lstm_online_feasible = future_dependence_step(lstm_model, x_test[:16]) is None`.

Then build `bidirectional_model`, a bidirectional RNN with the same interface (per-step logits (B, T, k); it need
not be trained), and set `bidirectional_online_feasible` in the same way. Explain the two results below.
"""

D_SOLUTION = """
def future_dependence_step(model, x):
    # BEGIN SOLUTION
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        baseline = model(x)
        tolerance = 1e-5 * (1.0 + baseline.abs().max().item())
        for t in range(1, x.shape[1]):
            perturbed = x.clone()
            # Steps t+1..T are indices t..T-1; the output of step t is index t-1.
            perturbed[:, t:] += torch.randn(perturbed[:, t:].shape, generator=generator, dtype=x.dtype)
            if (model(perturbed)[:, t - 1] - baseline[:, t - 1]).abs().max().item() > tolerance:
                return t
    return None
    # END SOLUTION
"""

D_RUN = """
class BidirectionalClassifier(nn.Module):
    def __init__(self, input_dim, hidden_size, n_classes):
        super().__init__()
        # BEGIN SOLUTION
        self.rnn = nn.RNN(input_dim, hidden_size, batch_first=True, bidirectional=True)
        self.readout = nn.Linear(2 * hidden_size, n_classes)
        # END SOLUTION

    def forward(self, x):
        # BEGIN SOLUTION
        outputs, _ = self.rnn(x)
        return self.readout(outputs)
        # END SOLUTION


# Your untrained bidirectional model, and True or False for each model's online feasibility (from the probe).
bidirectional_model = None
lstm_online_feasible = None
bidirectional_online_feasible = None
# BEGIN SOLUTION
torch.manual_seed(0)
bidirectional_model = BidirectionalClassifier(INPUT_DIM, 32, N_CLASSES).eval()
probe_x = x_test[:16]
lstm_online_feasible = future_dependence_step(lstm_model, probe_x) is None
rnn_online_feasible = future_dependence_step(rnn_model, probe_x) is None
bidirectional_first_step = future_dependence_step(bidirectional_model, probe_x)
bidirectional_online_feasible = bidirectional_first_step is None
print('LSTM online feasible:', lstm_online_feasible)
print('bidirectional RNN online feasible:', bidirectional_online_feasible,
      '- its output first depends on the future at step', bidirectional_first_step)
# END SOLUTION
"""

D_ANSWER = """
**Answer (d):**

<!-- BEGIN SOLUTION -->
The LSTM (and the vanilla RNN) is causal: its output at step t is computed from $x_1,\\dots,x_t$ only, so perturbing
later inputs never changes it and the probe returns `None` - it can classify online, emitting a label as soon as
each input arrives. The bidirectional RNN already fails at step 1: its backward direction runs from $x_T$ down to
$x_t$, so every output depends on the inputs after it. Online, those inputs do not exist yet; we would have to wait
for the end of the sequence and run the backward recurrence, so a bidirectional RNN cannot be used for online
classification.
<!-- END SOLUTION -->
"""


def build_notebook() -> nbformat.NotebookNode:
    """The master notebook of exercise 11.3, without outputs."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    notebook.metadata["language_info"] = {"name": "python"}
    notebook.cells = [
        _md("team", None, "team", TEAM),
        _md("intro", None, "text", INTRO),
        _code("setup", None, "given", SETUP),
        _md("a-text", "11.3a", "text", A_TEXT),
        _code("a-lstm-cell", "11.3a", "solution", A_SOLUTION),
        _code("a-check", "11.3a", "given", A_CHECK),
        _md("b-text", "11.3b", "text", B_TEXT),
        _code("b-task", "11.3b", "given", _task_cell_source()),
        _code("b-model", "11.3b", "solution", B_MODEL),
        _code("b-train", "11.3b", "solution", B_TRAIN),
        _code("b-run", "11.3b", "solution", B_RUN),
        _code("b-report", "11.3b", "given", B_REPORT),
        _md("c-text", "11.3c", "text", C_TEXT),
        _code("c-grad-norms", "11.3c", "solution", C_SOLUTION),
        _code("c-run", "11.3c", "solution", C_RUN),
        _md("c-answer", "11.3c", "answer", C_ANSWER),
        _md("d-text", "11.3d", "text", D_TEXT),
        _code("d-probe", "11.3d", "solution", D_SOLUTION),
        _code("d-run", "11.3d", "solution", D_RUN),
        _md("d-answer", "11.3d", "answer", D_ANSWER),
    ]
    nbformat.validate(notebook)
    return notebook


def write_notebook(path: Path = MASTER_PATH) -> Path:
    """Write the master notebook to `path` and return the path."""
    nbformat.write(build_notebook(), str(path))
    return path


if __name__ == "__main__":
    print(f"wrote {write_notebook()}")

"""Grader-side helpers for the practical of sheet 11 (exercise 11.3).

The master notebook (`reference/notebooks/sheet11_practical_master.ipynb`) hands
students a copy of `make_task` in a "given" cell; the builder script takes the
source of that cell from this module, so grader and student generate identical
data for the same arguments.

The task ("remember the marked bit"): every sequence has `SEQ_LEN` steps with
`INPUT_DIM = 2` channels. Channel 0 carries a random bit (+1 or -1) at every
step; channel 1 is 1 at exactly one step among the first `MARK_WINDOW` steps and
0 elsewhere. The label is the bit at the marked step (0 for -1, 1 for +1), and a
model must announce it at the last step - at least `SEQ_LEN - MARK_WINDOW` steps
after it saw it, with a random bit arriving at every step in between. Chance
level is 0.5.
"""

from __future__ import annotations

import torch

SEQ_LEN = 40
"""Sequence length T used throughout the notebook."""

INPUT_DIM = 2
"""Channels per step: the bit stream and the marker."""

N_CLASSES = 2
"""Number of labels (the marked bit is 0 or 1)."""

MARK_WINDOW = 5
"""The marker falls on one of the first MARK_WINDOW steps."""

LSTM_TARGET_ACCURACY = 0.9
"""Test accuracy the student's LSTM must reach (stated in the notebook text)."""

RNN_TARGET_ACCURACY: float | None = None
"""No bar for the vanilla RNN: failing this task (≈ chance) is the expected result."""


def make_task(n: int, T: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Generate n sequences of the marked-bit task.

    Returns x, float32 of shape (n, T, 2), and y, int64 of shape (n,): the bit
    at the marked step, to be read from the output at the last step.
    """
    if T < MARK_WINDOW + 1:
        raise ValueError(f"make_task: T={T} leaves no distance to the marker; need T > {MARK_WINDOW}")
    generator = torch.Generator().manual_seed(seed)
    bits = torch.randint(0, 2, (n, T), generator=generator)
    marked_step = torch.randint(0, MARK_WINDOW, (n,), generator=generator)
    marker = torch.zeros(n, T)
    marker[torch.arange(n), marked_step] = 1.0
    x = torch.stack([2.0 * bits - 1.0, marker], dim=-1).float()
    y = bits[torch.arange(n), marked_step].long()
    return x, y


def accuracy_from_logits(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of the last step's argmax: logits (B, T, k), y (B,) integer labels."""
    logits = torch.as_tensor(logits)
    y = torch.as_tensor(y)
    if logits.ndim != 3:
        raise ValueError(f"accuracy_from_logits: logits must have shape (B, T, k), got {tuple(logits.shape)}")
    if y.shape != logits.shape[:1]:
        raise ValueError(
            f"accuracy_from_logits: y must have shape ({logits.shape[0]},), got {tuple(y.shape)}"
        )
    if logits.shape[0] == 0:
        raise ValueError("accuracy_from_logits: empty batch")
    predicted = logits[:, -1, :].argmax(dim=-1)
    return (predicted == y.long()).float().mean().item()

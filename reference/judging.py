"""Grader-side judges and input makers for the bundled course's property checks.

They run in the grader, on plain data the worker sent back (never on student objects), and use the
reference solutions to decide. The rubrics name them as `reference.judging:<name>`.
"""

from __future__ import annotations

import numpy as np
import torch

from grader.course import Argument, Evidence, GeneratedCase, JudgeVerdict
from reference import practical
from reference.verdicts import judge_online, judge_pq_asymmetric
from reference.sheet02 import future_perturbations

TEST_SET_SIZE = 512
PROBE_BATCH, PROBE_STEPS = 2, 12


def _array(value, name: str) -> np.ndarray:
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], np.ndarray):
        value = value[0]  # e.g. nn.LSTM's (output, (h, c)): the per-step outputs come first
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} is not numeric")
    return array.astype(np.float64)


# --- sheet 02, 3c: the student's own P and Q ------------------------------------------------------------

def pq_show_asymmetry(evidence: Evidence) -> JudgeVerdict:
    return JudgeVerdict(*judge_pq_asymmetric(evidence.values["P"].value, evidence.values["Q"].value))


# --- sheet 11, 11.3: the student's trained models ------------------------------------------------------

def practical_test_case(rng: np.random.Generator) -> GeneratedCase:
    """A fresh test set the student never saw; the labels stay in the grader."""
    x, y = practical.make_task(TEST_SET_SIZE, practical.SEQ_LEN, seed=int(rng.integers(10_000, 2**31)))
    return GeneratedCase(name="fresh test set", args=(Argument(x.numpy(), kind="torch"),),
                         context={"y": y.numpy()})


def _logits(evidence: Evidence) -> tuple[np.ndarray, np.ndarray]:
    case, reply = evidence.calls[0]
    logits = _array(reply.value, "the model's output")
    x = case.args[0].value
    if logits.ndim != 3 or logits.shape[:2] != x.shape[:2]:
        raise ValueError(f"the model must map (B, T, d) = {x.shape} to per-step outputs (B, T, k); "
                         f"got shape {logits.shape}")
    if not np.isfinite(logits).all():
        raise ValueError("the model's outputs contain NaN or infinity")
    return logits, case.context["y"]


def accuracy_at_least(evidence: Evidence) -> JudgeVerdict:
    try:
        logits, y = _logits(evidence)
    except ValueError as exc:
        return JudgeVerdict(False, str(exc))
    accuracy = practical.accuracy_from_logits(torch.from_numpy(logits), torch.from_numpy(y))
    target = practical.LSTM_TARGET_ACCURACY
    if accuracy >= target:
        return JudgeVerdict(True, f"accuracy {accuracy:.3f} on a fresh test set (target {target})")
    return JudgeVerdict(False, f"accuracy {accuracy:.3f} on a fresh test set of {len(y)} sequences, "
                               f"below the target {target}")


def trained_sequence_model(evidence: Evidence) -> JudgeVerdict:
    """The vanilla RNN has no accuracy bar (it is expected to fail the task): it must exist and answer."""
    try:
        logits, y = _logits(evidence)
    except ValueError as exc:
        return JudgeVerdict(False, str(exc))
    accuracy = practical.accuracy_from_logits(torch.from_numpy(logits), torch.from_numpy(y))
    return JudgeVerdict(True, f"per-step outputs of shape {logits.shape}; accuracy {accuracy:.3f}")


def gradient_norms_show_vanishing(evidence: Evidence) -> JudgeVerdict:
    try:
        rnn = _array(evidence.values["rnn_grad_norms"].value, "rnn_grad_norms")
        lstm = _array(evidence.values["lstm_grad_norms"].value, "lstm_grad_norms")
    except ValueError as exc:
        return JudgeVerdict(False, str(exc))
    for name, norms in (("rnn_grad_norms", rnn), ("lstm_grad_norms", lstm)):
        if norms.ndim != 1 or norms.size < 2:
            return JudgeVerdict(False, f"{name} must be a 1-D array with one norm per step t = 1…T, "
                                       f"got shape {norms.shape}")
        if not np.isfinite(norms).all() or (norms < 0).any():
            return JudgeVerdict(False, f"{name} holds negative, NaN or infinite values: norms are ≥ 0")
    if rnn[-1] <= 0:
        return JudgeVerdict(False, "the vanilla RNN's gradient at t = T is 0: the loss must depend on h_T")
    rnn_ratio = rnn[0] / rnn[-1]
    lstm_ratio = lstm[0] / lstm[-1] if lstm[-1] > 0 else float("inf")
    if rnn_ratio >= 1e-2:
        return JudgeVerdict(False, f"‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ = {rnn_ratio:.3g} for the vanilla RNN: its gradient "
                                   "should vanish by orders of magnitude over T steps (is t = 1 at index 0?)")
    if lstm_ratio <= rnn_ratio:
        return JudgeVerdict(False, f"the LSTM's gradient decays as fast as the RNN's ({lstm_ratio:.3g} vs "
                                   f"{rnn_ratio:.3g}); check that you measure the LSTM's hidden states")
    return JudgeVerdict(True, f"‖∂L/∂h_1‖ / ‖∂L/∂h_T‖: RNN {rnn_ratio:.2g}, LSTM {lstm_ratio:.2g}")


def online_probe_case(rng: np.random.Generator) -> GeneratedCase:
    """Base inputs and their future-perturbed copies, stacked into one batch for a single call."""
    generator = torch.Generator().manual_seed(int(rng.integers(0, 2**31)))
    x = torch.randn(PROBE_BATCH, PROBE_STEPS, practical.INPUT_DIM, generator=generator)
    copies = future_perturbations(x, seed=int(rng.integers(0, 2**31)))
    batch = torch.cat([x, *copies]).float()
    return GeneratedCase(name="inputs after t perturbed", args=(Argument(batch.numpy(), kind="torch"),))


def outputs_ignore_the_future(evidence: Evidence) -> JudgeVerdict:
    case, reply = evidence.calls[0]
    try:
        outputs = _array(reply.value, "the model's output")
    except ValueError as exc:
        return JudgeVerdict(False, str(exc))
    if outputs.ndim < 2 or outputs.shape[0] != PROBE_BATCH * PROBE_STEPS or outputs.shape[1] != PROBE_STEPS:
        return JudgeVerdict(False, f"the model must return per-step outputs (B, T, k); got shape {outputs.shape}")
    pieces = outputs.reshape(PROBE_STEPS, PROBE_BATCH, *outputs.shape[1:])
    return JudgeVerdict(*judge_online(pieces[0], list(pieces[1:]), atol=1e-4))

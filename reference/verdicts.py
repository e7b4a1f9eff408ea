"""Verdicts for the property checks: pure functions of plain data (numbers, lists, numpy arrays) that a
student's code sent back. They never call student code. Each returns (passed, message); the message says
what was found in words a student understands. reference/judging.py turns them into the judges the rubrics name.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from reference.sheet02 import first_future_dependent_step, kl_discrete

Verdict = tuple[bool, str]


def _array(value: Any, name: str) -> np.ndarray:
    """The value as a float64 array, or ValueError naming what is wrong with it."""
    if value is None:
        raise ValueError(f"{name} is None")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} is not a list of numbers (got {type(value).__name__})") from None
    return array


def _distribution_problem(values: Any, name: str) -> tuple[np.ndarray | None, str | None]:
    try:
        array = _array(values, name)
    except ValueError as exc:
        return None, str(exc)
    if array.ndim != 1 or array.size < 2:
        return None, f"{name} must be a 1-D list of at least 2 probabilities, got shape {array.shape}"
    if not np.isfinite(array).all():
        return None, f"{name} contains inf or NaN"
    if (array < 0).any():
        return None, f"{name} has a negative entry, so it is not a probability distribution"
    if abs(array.sum() - 1.0) > 1e-6:
        return None, f"{name} sums to {array.sum():.6g}, not 1"
    return array, None


def judge_pq_asymmetric(P: Any, Q: Any) -> Verdict:
    """3c: P and Q are valid distributions over the same outcomes and KL(P||Q) != KL(Q||P).

    Infinities follow the comparison policy: KL = +inf (a zero in one distribution where the other has mass, as
    the sheet's template defines it) is a value like any other, so one finite and one infinite direction show
    the asymmetry; two infinite ones are equal and do not."""
    p, problem = _distribution_problem(P, "P")
    if problem:
        return False, problem
    q, problem = _distribution_problem(Q, "Q")
    if problem:
        return False, problem
    if p.shape != q.shape:
        return False, f"P has {p.size} outcomes and Q has {q.size}; they must describe the same outcomes"
    kl_pq, kl_qp = float(kl_discrete(p, q)), float(kl_discrete(q, p))
    if np.isinf(kl_pq) and np.isinf(kl_qp):
        return False, (f"KL(P||Q) = KL(Q||P) = +inf: each distribution has a zero where the other has mass, so "
                       f"both divergences are infinite and this pair does not show the asymmetry")
    if np.isinf(kl_pq) or np.isinf(kl_qp):
        return True, (f"KL(P||Q) = {_nats(kl_pq)} differs from KL(Q||P) = {_nats(kl_qp)}: one direction is "
                      f"infinite, the other finite")
    if abs(kl_pq - kl_qp) <= 1e-6:
        return False, (f"KL(P||Q) = {kl_pq:.6g} and KL(Q||P) = {kl_qp:.6g} are equal, so this pair does not show "
                       f"the asymmetry")
    return True, f"KL(P||Q) = {kl_pq:.6g} differs from KL(Q||P) = {kl_qp:.6g}"


def _nats(value: float) -> str:
    return "+inf" if np.isinf(value) else f"{value:.6g}"


def judge_online(outputs_base: Any, outputs_perturbed: Sequence[Any], atol: float = 1e-5) -> Verdict:
    """1c probe: passed when no output at step t changes as the inputs after t are replaced.

    outputs_perturbed[t] are the model's outputs on sheet02.future_perturbations(x)[t]; see
    sheet02.first_future_dependent_step for the exact contract.
    """
    try:
        step = first_future_dependent_step(outputs_base, outputs_perturbed, atol=atol)
    except ValueError as exc:
        return False, f"the model's outputs could not be compared: {exc}"
    if step is None:
        return True, "no output changed when only later inputs changed: the model can run online"
    return False, (f"the output at step {step} (counting from 0) changed when only inputs after step {step} "
                   f"changed: the model looks into the future, so it cannot run online")

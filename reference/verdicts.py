"""Verdicts for the property checks: pure functions of plain data (numbers, lists, numpy arrays) that a
student's code sent back. They never call student code. Each returns (passed, message); the message says
what was found in words a student understands. reference/judging.py turns them into the judges the rubrics name.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch

from reference._arrays import sum_to_shape
from reference.sheet02 import first_future_dependent_step, kl_discrete, reparameterize_grads

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


_GRAD_NAMES = ("mu", "log_var")


def judge_reparam_grads(grads: Sequence[Any] | Mapping[str, Any], mu: Any, log_var: Any, eps: Any,
                        rtol: float = 1e-4, atol: float = 1e-6) -> Verdict:
    """3d: the student's d sum(z)/d mu and d sum(z)/d log_var (autograd, from their reparameterize) against the
    analytic ones. `grads` is a pair (grad_mu, grad_log_var) or a mapping with keys "mu" and "log_var"; None
    for a gradient that never arrived."""
    if isinstance(grads, Mapping):
        got = [grads.get(name) for name in _GRAD_NAMES]
    else:
        got = list(grads) if grads is not None else []
        if len(got) != 2:
            return False, f"expected two gradients (for mu and log_var), got {len(got)}"
    mu_a, lv_a, eps_a = (_array(v, n) for v, n in ((mu, "mu"), (log_var, "log_var"), (eps, "eps")))
    expected = reparameterize_grads(mu_a, lv_a, eps_a)
    problems = []
    for name, value, want in zip(_GRAD_NAMES, got, expected):
        if value is None:
            problems.append(f"no gradient reached {name} (is the graph cut, e.g. by .detach(), numpy or .item()?)")
            continue
        try:
            array = _array(value, f"the gradient for {name}")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if array.shape != np.shape(want):
            problems.append(f"the gradient for {name} has shape {array.shape}, expected {np.shape(want)}")
        elif not np.allclose(array, want, rtol=rtol, atol=atol):
            problems.append(f"the gradient for {name} is wrong{_grad_hint(name, array, mu_a, lv_a, eps_a)}")
    if problems:
        return False, "; ".join(problems)
    return True, "the gradients with respect to mu and log_var are right"


def _grad_hint(name: str, got: np.ndarray, mu: np.ndarray, log_var: np.ndarray, eps: np.ndarray) -> str:
    """Recognise the gradients of the usual wrong scales (z = mu + s * eps with s = log_var or exp(log_var))."""
    if name != "log_var":
        return ""
    shape = np.broadcast_shapes(mu.shape, log_var.shape, eps.shape)
    wrong_scales = {
        "log_var itself were the standard deviation (z = mu + log_var * eps)": eps,
        "exp(log_var) were the standard deviation (z = mu + exp(log_var) * eps)": np.exp(log_var) * eps,
    }
    for text, grad in wrong_scales.items():
        full = torch.from_numpy(np.broadcast_to(grad, shape).copy())
        reduced = sum_to_shape(full, log_var.shape).numpy()
        if reduced.shape == got.shape and np.allclose(got, reduced, rtol=1e-4, atol=1e-6):
            return f": it is what you would get if {text}; sigma = exp(log_var / 2)"
    return ""

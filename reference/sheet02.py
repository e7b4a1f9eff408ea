"""Model solutions of sheet 02 ("Recurrent and Generative Artificial Neural Networks") with checkable results:
1b forget-gate delta, 1c online feasibility of bidirectional RNNs, 2d residual-block Jacobian, 3c discrete KL and
its asymmetry, 3d reparameterization, 3g KL of a Gaussian to the standard normal, and task 04 (GANs) a/b: the
optimal discriminator and the value function.

Numeric functions accept numpy arrays and torch tensors (float32/float64) and return the caller's kind
(see reference._arrays); torch inputs that require grad keep their graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from reference._arrays import is_tensor, kind_of, sum_to_shape

# ---------------------------------------------------------------------------------------------------------- 1b


def forget_gate_delta(net_phi: Any, zeta: Any, s_prev: Any) -> Any:
    """1b: delta_phi^t = phi'(net_phi^t) * sum_c zeta_c^t s_c^{t-1}, phi the logistic sigmoid.

    One forget gate serves all D cells of the unit, so s_c^t = y_phi^t s_c^{t-1} + (terms free of net_phi) and
    dE/dnet_phi = sum_c dE/ds_c^t * ds_c^t/dnet_phi. net_phi is a scalar, zeta (= dE/ds^t) and s_prev of shape
    (D,); returns a scalar. Batches broadcast: net_phi (...,), zeta and s_prev (..., D) give (...,).
    """
    kind = kind_of(net_phi, zeta, s_prev)
    net, z, s = kind.tensor(net_phi), kind.tensor(zeta), kind.tensor(s_prev)
    if z.shape[-1:] != s.shape[-1:] or z.ndim == 0:
        raise ValueError(f"zeta and s_prev must both have shape (D,), got {tuple(z.shape)} and {tuple(s.shape)}")
    y = torch.sigmoid(net)
    return kind.out(y * (1 - y) * (z * s).sum(dim=-1))


# ---------------------------------------------------------------------------------------------------------- 1c

# 1c: no. The backward half of a bidirectional RNN reads the sequence from its end, so the output at step t
# depends on inputs after t, which an online classifier has not seen yet.
bidirectional_online_feasible: bool = False


@dataclass(frozen=True)
class OnlineProbeResult:
    feasible: bool  # no output at any step t changed when only inputs after t changed
    first_offending_step: int | None  # the earliest such step t (0-based), None when feasible


def future_perturbations(x: Any, seed: int = 0) -> list[Any]:
    """Perturbed copies of a batch of sequences x (B, T, ...), one per step t = 0, ..., T-2.

    Copy t equals x at steps 0..t and holds fresh standard-normal values at steps t+1..T-1 (copy t perturbs
    "the future of t"; step T-1 has no future, so there are T-1 copies). Same kind and dtype as x; numpy for
    lists. Deterministic in `seed`.
    """
    kind = kind_of(x)
    base = kind.tensor(x).detach()
    if base.ndim < 2:
        raise ValueError(f"x must have shape (B, T, ...) with time on axis 1, got shape {tuple(base.shape)}")
    generator = torch.Generator().manual_seed(seed)
    copies = []
    for t in range(base.shape[1] - 1):
        copy = base.clone()
        future = copy[:, t + 1:]
        fresh = torch.randn(future.shape, generator=generator, dtype=torch.float64)
        copy[:, t + 1:] = fresh.to(dtype=copy.dtype, device=copy.device)
        copies.append(kind.out(copy))
    return copies


def first_future_dependent_step(outputs_base: Any, outputs_perturbed_by_t: Sequence[Any],
                                atol: float = 1e-5) -> int | None:
    """The earliest step t whose output depends on inputs after t, or None when the model is online-feasible.

    outputs_base: the model's outputs (B, T, ...) on inputs x (time on axis 1).
    outputs_perturbed_by_t: T-1 arrays, entry t being the outputs on future_perturbations(x)[t], i.e. on x with
    the steps after t replaced. Entry t is offending when any output at a step <= t differs from the base by more
    than atol (absolute; NaN equals NaN). The smallest offending t is also the first output step that reads the
    future: if output s depends on a later input, entry s already shows it.
    Pure function of plain data: the grader runs the student's model elsewhere and judges the arrays here.
    """
    base = _as_float_array(outputs_base, "outputs_base")
    if base.ndim < 2:
        raise ValueError(f"outputs_base must have shape (B, T, ...) with time on axis 1, got shape {base.shape}")
    steps = base.shape[1]
    if len(outputs_perturbed_by_t) != steps - 1:
        raise ValueError(f"expected {steps - 1} perturbed outputs (one per step 0..{steps - 2}) for T = {steps}, "
                         f"got {len(outputs_perturbed_by_t)}")
    for t, outputs in enumerate(outputs_perturbed_by_t):
        perturbed = _as_float_array(outputs, f"outputs_perturbed_by_t[{t}]")
        if perturbed.shape != base.shape:
            raise ValueError(f"outputs_perturbed_by_t[{t}] has shape {perturbed.shape}, the base outputs "
                             f"{base.shape}")
        if not np.isclose(perturbed[:, :t + 1], base[:, :t + 1], rtol=0.0, atol=atol, equal_nan=True).all():
            return t
    return None


def future_dependence(model: Callable[[torch.Tensor], torch.Tensor], batch: int = 2, T: int = 8, d: int = 3,
                      seed: int = 0, atol: float = 1e-5) -> OnlineProbeResult:
    """1c as an experiment: can `model` (a callable (B, T, d) -> (B, T, k), float32 tensors) run online?

    Runs the model on random inputs and on future_perturbations of them, under no_grad, and applies
    first_future_dependent_step. A unidirectional nn.LSTM(batch_first=True) passes; a bidirectional one fails
    at step 0. (Only for trusted models: the grader calls a student's model in a separate process and uses
    first_future_dependent_step on the returned arrays.)
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, T, d, generator=generator)
    with torch.no_grad():
        base = _model_output(model(x))
        perturbed = [_model_output(model(copy)) for copy in future_perturbations(x, seed=seed + 1)]
    step = first_future_dependent_step(base, perturbed, atol=atol)
    return OnlineProbeResult(feasible=step is None, first_offending_step=step)


def _model_output(output: Any) -> np.ndarray:
    # nn.LSTM returns (output, (h_n, c_n)); the per-step outputs come first
    if isinstance(output, tuple):
        output = output[0]
    return output.detach().cpu().double().numpy() if is_tensor(output) else np.asarray(output, dtype=np.float64)


def _as_float_array(value: Any, name: str) -> np.ndarray:
    if is_tensor(value):
        return value.detach().cpu().double().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} is not a numeric array: {exc}") from exc


# ---------------------------------------------------------------------------------------------------------- 2d


def residual_block_jacobian(F: Callable[[torch.Tensor], torch.Tensor] | Any, x: Any = None) -> Any:
    """2d: d(x + F(x))/dx = I + dF/dx, the identity being the skip connection's path for the gradient.

    F a torch callable and x a vector (n,): returns (n, n) = I + autograd Jacobian of F at x (for x of any
    shape S the result has shape S + S). numpy x is handed to F as a tensor and the result comes back as numpy.
    F not callable: it is taken to be the Jacobian dF/dx itself, (n, n) or (..., n, n), and x is ignored.
    With x requiring grad the Jacobian is built with create_graph, so it stays differentiable.
    """
    if not callable(F):
        kind = kind_of(F)
        jac = kind.tensor(F)
        if jac.ndim < 2 or jac.shape[-1] != jac.shape[-2]:
            raise ValueError(f"a Jacobian dF/dx must be square, got shape {tuple(jac.shape)}")
        return kind.out(jac + torch.eye(jac.shape[-1], dtype=jac.dtype, device=jac.device))
    if x is None:
        raise ValueError("residual_block_jacobian(F, x) needs the point x when F is a function")
    kind = kind_of(x)
    x_t = kind.tensor(x)
    create_graph = x_t.requires_grad
    jac = torch.autograd.functional.jacobian(F, x_t, create_graph=create_graph)
    if jac.shape != x_t.shape + x_t.shape:
        raise ValueError(f"F must map x of shape {tuple(x_t.shape)} to the same shape (a residual block adds "
                         f"x + F(x)); its Jacobian has shape {tuple(jac.shape)}")
    eye = torch.eye(x_t.numel(), dtype=jac.dtype, device=jac.device).reshape(jac.shape)
    return kind.out(eye + jac)


# ---------------------------------------------------------------------------------------------------------- 3c

# 3c: a student's own example; with these KL(P||Q) = 0.0823 and KL(Q||P) = 0.0872 nats.
P: tuple[float, float] = (0.3, 0.7)
Q: tuple[float, float] = (0.5, 0.5)


def kl_discrete(p: Any, q: Any) -> Any:
    """3c: KL(p||q) = sum_i p_i ln(p_i / q_i) in nats, over the last axis.

    Terms with p_i = 0 contribute 0 (whatever q_i); q_i = 0 where p_i > 0 gives +inf. The inputs are used as
    given (no renormalisation).
    """
    kind = kind_of(p, q)
    p_t, q_t = kind.tensor(p), kind.tensor(q)
    if p_t.shape[-1:] != q_t.shape[-1:] or p_t.ndim == 0:
        raise ValueError(f"p and q must be distributions over the same outcomes (same last axis), got shapes "
                         f"{tuple(p_t.shape)} and {tuple(q_t.shape)}")
    # xlogy(0, anything) = 0 gives the 0 ln 0 = 0 convention; xlogy(p>0, 0) = -inf gives the +inf
    return kind.out((torch.special.xlogy(p_t, p_t) - torch.special.xlogy(p_t, q_t)).sum(dim=-1))


def kl_worked_example() -> dict[str, Any]:
    """3c worked: KL(P||Q) != KL(Q||P) for P = (0.3, 0.7), Q = (0.5, 0.5)."""
    kl_pq, kl_qp = float(kl_discrete(P, Q)), float(kl_discrete(Q, P))
    return {"P": P, "Q": Q, "kl_PQ": kl_pq, "kl_QP": kl_qp, "difference": kl_pq - kl_qp}


# ---------------------------------------------------------------------------------------------------------- 3d


def reparameterize(mu: Any, log_var: Any, eps: Any) -> Any:
    """3d: z = mu + exp(log_var / 2) * eps, eps ~ N(0, I) drawn outside, so z is differentiable in mu and log_var."""
    kind = kind_of(mu, log_var, eps)
    mu_t, lv_t, eps_t = kind.tensor(mu), kind.tensor(log_var), kind.tensor(eps)
    return kind.out(mu_t + torch.exp(0.5 * lv_t) * eps_t)


def reparameterize_grads(mu: Any, log_var: Any, eps: Any) -> tuple[Any, Any]:
    """Analytic (d sum(z)/d mu, d sum(z)/d log_var) for z = reparameterize(mu, log_var, eps).

    dz/dmu = 1 and dz/dlog_var = exp(log_var / 2) * eps / 2, summed over broadcast axes to the shapes of mu and
    log_var (what autograd gives for sum(z).backward()).
    """
    kind = kind_of(mu, log_var, eps)
    mu_t, lv_t, eps_t = kind.tensor(mu), kind.tensor(log_var), kind.tensor(eps)
    shape = torch.broadcast_shapes(mu_t.shape, lv_t.shape, eps_t.shape)
    grad_mu = sum_to_shape(torch.ones(shape, dtype=kind.dtype, device=kind.device), mu_t.shape)
    grad_lv = sum_to_shape((0.5 * torch.exp(0.5 * lv_t) * eps_t).expand(shape), lv_t.shape)
    return kind.out(grad_mu), kind.out(grad_lv)


# ---------------------------------------------------------------------------------------------------------- 3g


def kl_gaussian_std_normal(mu: Any, Sigma: Any) -> Any:
    """3g: KL(N(mu, Sigma) || N(0, I)) = 1/2 (tr Sigma + mu^T mu - k - ln det Sigma), nats.

    mu (k,), Sigma (k, k) symmetric positive definite (batches (..., k) / (..., k, k) too). ln det Sigma comes
    from a Cholesky factor, 2 sum ln L_ii, so det Sigma itself is never formed (it overflows for k = 512 with
    Sigma = 10 I). The computation runs in float64 whatever the input dtype (cast back at the end) so an
    ill-conditioned Sigma (condition number 1e8 and more) stays factorable.
    """
    kind = kind_of(mu, Sigma)
    mu_t, S_t = kind.tensor(mu).to(torch.float64), kind.tensor(Sigma).to(torch.float64)
    k = mu_t.shape[-1] if mu_t.ndim else 0
    if mu_t.ndim == 0 or S_t.ndim < 2 or S_t.shape[-2:] != (k, k):
        raise ValueError(f"mu must have shape (k,) and Sigma (k, k); got {tuple(mu_t.shape)} and "
                         f"{tuple(S_t.shape)}")
    chol, info = torch.linalg.cholesky_ex(S_t)
    if bool((info != 0).any()):
        raise ValueError("Sigma is not positive definite (its Cholesky factorisation failed), so ln det Sigma "
                         "is undefined")
    log_det = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(dim=-1)
    trace = torch.diagonal(S_t, dim1=-2, dim2=-1).sum(dim=-1)
    kl = 0.5 * (trace + (mu_t * mu_t).sum(dim=-1) - k - log_det)
    return kind.out(kl.to(kind.dtype))


def kl_gaussian_std_normal_diag(mu: Any, log_var: Any) -> Any:
    """3g, diagonal Sigma = diag(exp(log_var)): 1/2 sum_i (exp(log_var_i) + mu_i^2 - 1 - log_var_i), over the last
    axis (the VAE loss term)."""
    kind = kind_of(mu, log_var)
    mu_t, lv_t = kind.tensor(mu), kind.tensor(log_var)
    return kind.out(0.5 * (torch.exp(lv_t) + mu_t ** 2 - 1 - lv_t).sum(dim=-1))


# ---------------------------------------------------------------------------------------------------- task 04


def optimal_discriminator(p_data: Any, p_g: Any) -> Any:
    """04: D*(x) = p_data(x) / (p_data(x) + p_g(x)), given the two densities at the same points.

    Where both densities are 0 no sample ever lands, V does not depend on D there, and 1/2 is returned.
    Where both are positive D* lies strictly inside (0, 1), and the result is kept there in floating point:
    a ratio that rounds to 1 (p_g tiny against p_data) becomes the largest float below 1, and one that
    underflows to 0 the smallest positive float, so ln D* and ln(1 - D*) stay finite as they truly are.
    """
    kind = kind_of(p_data, p_g)
    pd, pg = kind.tensor(p_data), kind.tensor(p_g)
    total = pd + pg
    safe = torch.where(total > 0, total, torch.ones_like(total))
    D = torch.where(total > 0, pd / safe, torch.full_like(total, 0.5))
    below_one = torch.nextafter(torch.ones_like(D), torch.zeros_like(D))
    above_zero = torch.nextafter(torch.zeros_like(D), torch.ones_like(D))
    D = torch.where((pg > 0) & (D >= 1), below_one, D)
    D = torch.where((pd > 0) & (D <= 0), above_zero, D)
    return kind.out(D)


def gan_value(D: Any, p_data: Any, p_g: Any, xs: Any) -> Any:
    """04: V(D, G) = E_{x~p_data} ln D(x) + E_{x~p_g} ln(1 - D(x)), by the trapezoidal rule on a 1-D grid.

    D, p_data and p_g are values on the sorted grid xs (all of shape (N,)); p_g is the density of the
    generator's samples. Points where a density is 0 add nothing to its expectation (even where D is 0 or 1);
    D = 0 where p_data > 0, or D = 1 where p_g > 0, gives -inf. At D = D* the value is -ln 4 + 2 JSD(p_data, p_g).
    """
    kind = kind_of(D, p_data, p_g, xs)
    D_t, pd, pg, x = (kind.tensor(v) for v in (D, p_data, p_g, xs))
    if not (D_t.shape == pd.shape == pg.shape == x.shape) or x.ndim != 1:
        raise ValueError(f"D, p_data, p_g and xs must be 1-D of one length, got shapes {tuple(D_t.shape)}, "
                         f"{tuple(pd.shape)}, {tuple(pg.shape)}, {tuple(x.shape)}")
    integrand = torch.special.xlogy(pd, D_t) + torch.special.xlogy(pg, 1 - D_t)
    return kind.out(torch.trapezoid(integrand, x))


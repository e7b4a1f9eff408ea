"""Known wrong answers: what a student who made a particular mistake would return.

Each mistake is a function `<student-facing name>__<the mistake>` with the signature of the function it imitates,
and keeps the reference's kind and dtype rules. A rubric names one in a check's hints (`mistake:`, with the
`message` students see); the grader compares a failing answer with it to show that hint. PQ_equal_kl returns a
wrong (P, Q) pair for the asymmetry judge. tests/reference/test_mistakes.py checks every one.
"""

from __future__ import annotations

from typing import Any

import torch

from reference import sheet02, sheet11
from reference._arrays import kind_of


# ------------------------------------------------------------------------------------------ sheet 11, 11.2.3a


def rnn_jacobian_J__vector(z: Any, activation: str) -> Any:
    """sigma'(z) as a vector (n,), not the diagonal matrix diag(sigma'(z))."""
    kind = kind_of(z)
    return kind.out(sheet11.activation_derivative(kind.tensor(z), activation))


def rnn_jacobian_J__activation_not_derivative(z: Any, activation: str) -> Any:
    """diag(sigma(z)): the activation on the diagonal instead of its derivative."""
    kind = kind_of(z)
    z_t = kind.tensor(z)
    sigma = {"tanh": torch.tanh, "sigmoid": torch.sigmoid}[activation]
    return kind.out(torch.diag_embed(sigma(z_t)))


def rnn_jacobian_J__tanh_derivative_as_1_minus_tanh(z: Any, activation: str) -> Any:
    """diag(1 - sigma(z)): tanh' written as 1 - tanh (square forgotten), sigmoid' as 1 - sigmoid."""
    kind = kind_of(z)
    z_t = kind.tensor(z)
    sigma = {"tanh": torch.tanh, "sigmoid": torch.sigmoid}[activation]
    return kind.out(torch.diag_embed(1 - sigma(z_t)))


# --------------------------------------------------------------------------------------- sheet 11, lstm_cell


def _lstm_gates(x, h, W_ih, W_hh, b_ih, b_hh, kind):
    x_t, h_t, W_ih_t, W_hh_t, b_ih_t, b_hh_t = map(kind.tensor, (x, h, W_ih, W_hh, b_ih, b_hh))
    return (x_t @ W_ih_t.T + b_ih_t + h_t @ W_hh_t.T + b_hh_t).chunk(4, dim=-1)


def lstm_cell__gate_order_ifog(x: Any, h: Any, c: Any, W_ih: Any, W_hh: Any, b_ih: Any, b_hh: Any) -> tuple[Any, Any]:
    """Gate blocks read as i, f, o, g (the order of many textbooks) instead of torch's i, f, g, o."""
    kind = kind_of(x, h, c, W_ih, W_hh, b_ih, b_hh)
    i, f, o, g = _lstm_gates(x, h, W_ih, W_hh, b_ih, b_hh, kind)
    c_new = torch.sigmoid(f) * kind.tensor(c) + torch.sigmoid(i) * torch.tanh(g)
    return kind.out(torch.sigmoid(o) * torch.tanh(c_new)), kind.out(c_new)


def lstm_cell__no_tanh_on_cell(x: Any, h: Any, c: Any, W_ih: Any, W_hh: Any, b_ih: Any, b_hh: Any) -> tuple[Any, Any]:
    """h' = sigmoid(o) * c' instead of sigmoid(o) * tanh(c')."""
    kind = kind_of(x, h, c, W_ih, W_hh, b_ih, b_hh)
    i, f, g, o = _lstm_gates(x, h, W_ih, W_hh, b_ih, b_hh, kind)
    c_new = torch.sigmoid(f) * kind.tensor(c) + torch.sigmoid(i) * torch.tanh(g)
    return kind.out(torch.sigmoid(o) * c_new), kind.out(c_new)


def lstm_cell__no_grad(x: Any, h: Any, c: Any, W_ih: Any, W_hh: Any, b_ih: Any, b_hh: Any) -> tuple[Any, Any]:
    """The right values computed under torch.no_grad() (a decorated cell): no gradient reaches any argument."""
    with torch.no_grad():
        return sheet11.lstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh)


# ---------------------------------------------------------------------------------------------- sheet 02, 1b


def forget_gate_delta__no_derivative(net_phi: Any, zeta: Any, s_prev: Any) -> Any:
    """sum_c zeta_c s_c^{t-1} without the factor phi'(net_phi)."""
    kind = kind_of(net_phi, zeta, s_prev)
    z, s = kind.tensor(zeta), kind.tensor(s_prev)
    return kind.out((z * s).sum(dim=-1))


def forget_gate_delta__activation_not_derivative(net_phi: Any, zeta: Any, s_prev: Any) -> Any:
    """phi(net_phi) instead of phi'(net_phi) in front of the sum."""
    kind = kind_of(net_phi, zeta, s_prev)
    net, z, s = kind.tensor(net_phi), kind.tensor(zeta), kind.tensor(s_prev)
    return kind.out(torch.sigmoid(net) * (z * s).sum(dim=-1))


def forget_gate_delta__tanh_derivative(net_phi: Any, zeta: Any, s_prev: Any) -> Any:
    """tanh'(net_phi) in front of the sum: the gate squashed with tanh instead of the logistic sigmoid."""
    kind = kind_of(net_phi, zeta, s_prev)
    net, z, s = kind.tensor(net_phi), kind.tensor(zeta), kind.tensor(s_prev)
    return kind.out((1 - torch.tanh(net) ** 2) * (z * s).sum(dim=-1))


# ---------------------------------------------------------------------------------------------- sheet 02, 3c


def kl_discrete__log2(p: Any, q: Any) -> Any:
    """KL in bits (log base 2) instead of nats (natural log)."""
    kind = kind_of(p, q)
    return kind.out(kind.tensor(sheet02.kl_discrete(p, q)) / torch.log(torch.tensor(2.0, dtype=kind.dtype)))


def kl_discrete__unmasked(p: Any, q: Any) -> Any:
    """sum p_i ln(p_i / q_i) with no special case for p_i = 0: 0 * ln 0 gives NaN instead of 0."""
    kind = kind_of(p, q)
    p_t, q_t = kind.tensor(p), kind.tensor(q)
    return kind.out((p_t * torch.log(p_t / q_t)).sum(dim=-1))


def kl_discrete__swapped(p: Any, q: Any) -> Any:
    """KL(q||p) computed for KL(p||q): the arguments of the divergence swapped."""
    return sheet02.kl_discrete(q, p)


def PQ_equal_kl() -> tuple[tuple[float, float], tuple[float, float]]:
    """A pair with KL(P||Q) = KL(Q||P): Q the mirror image of P, so the example shows no asymmetry."""
    return (0.3, 0.7), (0.7, 0.3)


# ---------------------------------------------------------------------------------------------- sheet 02, 3d


def reparameterize__sigma_for_log_var(mu: Any, log_var: Any, eps: Any) -> Any:
    """mu + log_var * eps: log sigma^2 used as if it were sigma."""
    kind = kind_of(mu, log_var, eps)
    return kind.out(kind.tensor(mu) + kind.tensor(log_var) * kind.tensor(eps))


def reparameterize__var_for_log_var(mu: Any, log_var: Any, eps: Any) -> Any:
    """mu + exp(log_var) * eps: the variance sigma^2 used as the scale instead of sigma = exp(log_var / 2)."""
    kind = kind_of(mu, log_var, eps)
    return kind.out(kind.tensor(mu) + torch.exp(kind.tensor(log_var)) * kind.tensor(eps))


def reparameterize__detached(mu: Any, log_var: Any, eps: Any) -> Any:
    """The right value with the graph cut (e.g. through .detach(), numpy or sampling): no gradient reaches
    mu and log_var."""
    value = sheet02.reparameterize(mu, log_var, eps)
    return value.detach() if isinstance(value, torch.Tensor) else value


# ---------------------------------------------------------------------------------------------- sheet 02, 3g


def _kl_parts(mu: Any, Sigma: Any):
    """(kind, tr Sigma, mu^T mu, k, ln det Sigma) in float64 tensors, from the reference's own checks."""
    kind = kind_of(mu, Sigma)
    mu_t, S_t = kind.tensor(mu).double(), kind.tensor(Sigma).double()
    log_det = torch.linalg.slogdet(S_t).logabsdet
    trace = torch.diagonal(S_t, dim1=-2, dim2=-1).sum(dim=-1)
    return kind, trace, (mu_t * mu_t).sum(dim=-1), mu_t.shape[-1], log_det


def kl_gaussian_std_normal__missing_half(mu: Any, Sigma: Any) -> Any:
    """tr Sigma + mu^T mu - k - ln det Sigma without the factor 1/2."""
    kind, trace, sq, k, log_det = _kl_parts(mu, Sigma)
    return kind.out((trace + sq - k - log_det).to(kind.dtype))


def kl_gaussian_std_normal__missing_k(mu: Any, Sigma: Any) -> Any:
    """1/2 (tr Sigma + mu^T mu - ln det Sigma): the -k (the trace of the identity) forgotten."""
    kind, trace, sq, k, log_det = _kl_parts(mu, Sigma)
    return kind.out((0.5 * (trace + sq - log_det)).to(kind.dtype))


def kl_gaussian_std_normal__plus_log_det(mu: Any, Sigma: Any) -> Any:
    """1/2 (tr Sigma + mu^T mu - k + ln det Sigma): the sign of the log-determinant flipped."""
    kind, trace, sq, k, log_det = _kl_parts(mu, Sigma)
    return kind.out((0.5 * (trace + sq - k + log_det)).to(kind.dtype))

"""Model solutions of sheet 11 ("Sequence Modeling"): the RNN Jacobian of 11.2.3a, bound (1) of 11.2.3b, and the
LSTM cell of the practical part.

The vanilla RNN of the sheet is z_t = W h_{t-1} + U x_t + b, h_t = sigma(z_t). Then
    dh_{k+1}/dh_k = J_{k+1} W   with   J_{k+1} = diag(sigma'(z_{k+1})),
and bound (1) reads  ||dL/dh_t|| <= ||dL/dh_T|| * ||W||^(T-t) * prod_{k=t}^{T-1} ||J_{k+1}||.
Norms of matrices here are spectral norms (the operator norm of the Euclidean vector norm), the norm for which
(1) follows from the chain rule; for the diagonal J it is max_i |sigma'(z_i)|.

All functions accept numpy arrays and torch tensors (float32/float64) and return the caller's kind
(see reference._arrays).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np
import torch

from reference._arrays import kind_of

Activation = Literal["tanh", "sigmoid"]

# max |sigma'| over the real line: tanh'(0) = 1, sigmoid'(0) = 1/4
MAX_DERIVATIVE: dict[str, float] = {"tanh": 1.0, "sigmoid": 0.25}


def _check_activation(activation: str) -> str:
    if activation not in MAX_DERIVATIVE:
        raise ValueError(f"activation must be 'tanh' or 'sigmoid', got {activation!r}")
    return activation


def activation_derivative(z: torch.Tensor, activation: Activation) -> torch.Tensor:
    """sigma'(z) elementwise, written through sigma itself (tanh' = 1 - tanh^2, sigmoid' = s (1 - s))."""
    if _check_activation(activation) == "tanh":
        return 1 - torch.tanh(z) ** 2
    s = torch.sigmoid(z)
    return s * (1 - s)


def rnn_jacobian_J(z: Any, activation: Activation) -> Any:
    """11.2.3a: J_{k+1} = diag(sigma'(z_{k+1})). z has shape (n,) (or (..., n) for a batch); returns (n, n)."""
    kind = kind_of(z)
    z_t = kind.tensor(z)
    if z_t.ndim == 0:
        raise ValueError("z must be a vector of pre-activations (shape (n,)), got a scalar")
    return kind.out(torch.diag_embed(activation_derivative(z_t, activation)))


def rnn_state_jacobian(z: Any, W: Any, activation: Activation) -> Any:
    """dh_{k+1}/dh_k = J_{k+1} W, with z = z_{k+1} of shape (n,) and W of shape (n, n)."""
    kind = kind_of(z, W)
    z_t, W_t = kind.tensor(z), kind.tensor(W)
    if W_t.ndim != 2 or W_t.shape[0] != z_t.shape[-1]:
        raise ValueError(f"W must have shape ({z_t.shape[-1]}, m) to match z of shape {tuple(z_t.shape)}, "
                         f"got {tuple(W_t.shape)}")
    return kind.out(torch.diag_embed(activation_derivative(z_t, activation)) @ W_t)


def gradient_bound_rhs(grad_norm_T: Any, W: Any, Js: Sequence[Any] | Any) -> Any:
    """The right-hand side of bound (1) for every t from T down to t0 = T - len(Js).

    Convention: `Js` holds J_{t0+1}, ..., J_T in time order (a list of (n, n) matrices or one (m, n, n) stack,
    m = len(Js)); `grad_norm_T` is ||dL/dh_T||. The result is a vector of length m + 1 in the order
    t = T, T-1, ..., t0 (the order in which backpropagation visits the steps):
        result[i] = grad_norm_T * ||W||^i * prod_{k=T-i}^{T-1} ||J_{k+1}||      (t = T - i),
    so result[0] = grad_norm_T. Norms are spectral norms.
    """
    listed = isinstance(Js, (list, tuple))
    kind = kind_of(grad_norm_T, W, *(Js if listed else [Js]))
    W_t = kind.tensor(W)
    if listed:
        J_t = torch.stack([kind.tensor(J) for J in Js]) if Js else W_t.new_zeros((0,) + tuple(W_t.shape))
    else:
        J_t = kind.tensor(Js)
    if J_t.ndim != 3:
        raise ValueError(f"Js must be a sequence of (n, n) matrices, got shape {tuple(J_t.shape)}")
    w_norm = torch.linalg.matrix_norm(W_t, ord=2)
    # going back one step (t -> t-1) multiplies by ||W|| and by the norm of the next J from the end
    factors = w_norm * torch.linalg.matrix_norm(J_t.flip(0), ord=2)
    ones = torch.ones(1, dtype=kind.dtype, device=kind.device)
    return kind.out(kind.tensor(grad_norm_T) * torch.cumprod(torch.cat([ones, factors]), dim=0))


@dataclass(frozen=True)
class GradientDemo:
    """What gradient_norms_demo found. Arrays are ordered t = T, T-1, ..., 1 (index i is step t = T - i)."""

    norms: np.ndarray  # ||dL/dh_t|| by autograd
    bounds: np.ndarray  # the right-hand side of (1) for the same t
    regime: Literal["vanishing", "exploding"]  # did ||dL/dh_1|| end below or above ||dL/dh_T||?
    contraction: float  # ||W|| * max|sigma'|: below 1 guarantees vanishing through the bound
    growth_per_step: float  # (ln ||dL/dh_1|| - ln ||dL/dh_T||) / (T - 1)


def gradient_norms_demo(T: int = 40, n: int = 32, weight_scale: float = 0.5, activation: Activation = "tanh",
                        seed: int = 0, input_dim: int = 4) -> GradientDemo:
    """11.2.3b: backpropagate through a random vanilla RNN and report ||dL/dh_t|| for t = T..1 beside bound (1).

    W = weight_scale * Q with Q a random orthogonal matrix, so ||W|| = weight_scale exactly and the regime is
    set by one number: with weight_scale * max|sigma'| < 1 the bound shrinks geometrically and the gradient
    must vanish. Growth is not implied by the bound; it shows for tanh with weight_scale well above 1 (the
    network is then chaotic: nearby trajectories separate, and so do gradients backwards in time); with
    n = 64, T = 40 and weight_scale in [4, 6] every seed tried grew by a factor above 1e5. Small n (16) is
    erratic: saturated units can stop the growth.
    U, b and the inputs x_t are standard normal (U scaled by 1/sqrt(input_dim)), h_0 = 0, and the loss is
    L = <v, h_T> for a random unit vector v, so ||dL/dh_T|| = 1 and the loss touches only h_T, which is what
    (1) assumes. Computed in float64 with torch autograd (retain_grad on every h_t).
    """
    _check_activation(activation)
    if T < 2 or n < 1 or input_dim < 1:
        raise ValueError(f"need T >= 2, n >= 1, input_dim >= 1; got T={T}, n={n}, input_dim={input_dim}")
    generator = torch.Generator().manual_seed(seed)
    gauss = lambda *shape: torch.randn(*shape, generator=generator, dtype=torch.float64)  # noqa: E731
    Q, R = torch.linalg.qr(gauss(n, n))
    W = weight_scale * Q * torch.sign(torch.diagonal(R))  # sign fix: Q uniformly distributed (Haar)
    U, b = gauss(n, input_dim) / input_dim ** 0.5, gauss(n)
    xs, v = gauss(T, input_dim), gauss(n)
    v = v / torch.linalg.vector_norm(v)
    sigma = torch.tanh if activation == "tanh" else torch.sigmoid

    h = torch.zeros(n, dtype=torch.float64, requires_grad=True)  # so every h_t is on the graph
    states, pre_activations = [], []
    for t in range(T):
        z = W @ h + U @ xs[t] + b
        h = sigma(z)
        h.retain_grad()
        states.append(h)
        pre_activations.append(z.detach())
    loss = v @ states[-1]
    loss.backward()

    norms = np.array([torch.linalg.vector_norm(h.grad).item() for h in reversed(states)])
    Js = rnn_jacobian_J(torch.stack(pre_activations[1:]), activation)  # J_2 .. J_T; (1) for t = 1 needs J_2..J_T
    bounds = gradient_bound_rhs(torch.tensor(norms[0], dtype=torch.float64), W, Js).numpy()
    growth = (np.log(norms[-1]) - np.log(norms[0])) / (T - 1) if norms[-1] > 0 else -np.inf
    return GradientDemo(norms=norms, bounds=bounds, regime="vanishing" if norms[-1] < norms[0] else "exploding",
                        contraction=weight_scale * MAX_DERIVATIVE[activation], growth_per_step=float(growth))


def lstm_cell(x: Any, h: Any, c: Any, W_ih: Any, W_hh: Any, b_ih: Any, b_hh: Any) -> tuple[Any, Any]:
    """One LSTM step, gate order i, f, g, o as torch.nn.LSTMCell.

    x (B, d), h and c (B, H), W_ih (4H, d), W_hh (4H, H), b_ih and b_hh (4H,); unbatched x (d,), h, c (H,)
    work too. gates = x W_ih^T + b_ih + h W_hh^T + b_hh, split into i, f, g, o;
    c' = sigmoid(f) * c + sigmoid(i) * tanh(g), h' = sigmoid(o) * tanh(c'). Returns (h', c').
    """
    kind = kind_of(x, h, c, W_ih, W_hh, b_ih, b_hh)
    x_t, h_t, c_t, W_ih_t, W_hh_t, b_ih_t, b_hh_t = map(kind.tensor, (x, h, c, W_ih, W_hh, b_ih, b_hh))
    hidden = h_t.shape[-1]
    if W_ih_t.shape != (4 * hidden, x_t.shape[-1]) or W_hh_t.shape != (4 * hidden, hidden):
        raise ValueError(f"lstm_cell: with x {tuple(x_t.shape)} and h {tuple(h_t.shape)}, W_ih must be "
                         f"({4 * hidden}, {x_t.shape[-1]}) and W_hh ({4 * hidden}, {hidden}); got "
                         f"{tuple(W_ih_t.shape)} and {tuple(W_hh_t.shape)}")
    gates = x_t @ W_ih_t.T + b_ih_t + h_t @ W_hh_t.T + b_hh_t
    i, f, g, o = gates.chunk(4, dim=-1)
    c_new = torch.sigmoid(f) * c_t + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(c_new)
    return kind.out(h_new), kind.out(c_new)


def lstm_cell_grads(x: Any, h: Any, c: Any, W_ih: Any, W_hh: Any, b_ih: Any, b_hh: Any) -> tuple[Any, ...]:
    """d(sum h' + sum c')/d of each of the seven arguments of lstm_cell, in argument order.

    What autograd gives for `(h_new.sum() + c_new.sum()).backward()` through a cell whose graph reaches every
    argument (the task asks for gradients to all of them); the grader's gradient check compares a student's
    autograd gradients with these. Same kind and dtype as the inputs.
    """
    kind = kind_of(x, h, c, W_ih, W_hh, b_ih, b_hh)
    leaves = [kind.tensor(v).detach().clone().requires_grad_(True) for v in (x, h, c, W_ih, W_hh, b_ih, b_hh)]
    with torch.enable_grad():
        h_new, c_new = lstm_cell(*leaves)
        grads = torch.autograd.grad(h_new.sum() + c_new.sum(), leaves)
    return tuple(kind.out(g) for g in grads)

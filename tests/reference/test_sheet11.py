"""Proofs of the sheet 11 reference against independent computations: torch autograd, torch.nn.LSTMCell,
finite differences (gradcheck) and numpy's own matrix norms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.sheet11 import (MAX_DERIVATIVE, gradient_bound_rhs, gradient_norms_demo, lstm_cell, lstm_cell_grads,
                               rnn_jacobian_J, rnn_state_jacobian)

FAST = settings(max_examples=25, deadline=None)
KINDS = st.sampled_from(["numpy", "torch"])
DTYPES = st.sampled_from(["float32", "float64"])
ACTIVATIONS = st.sampled_from(["tanh", "sigmoid"])
SIGMA = {"tanh": torch.tanh, "sigmoid": torch.sigmoid}
TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-12)}


def as_kind(array: np.ndarray, kind: str, dtype: str):
    array = np.asarray(array, dtype=dtype)
    return torch.from_numpy(array) if kind == "torch" else array


def assert_kind(result, kind: str, dtype: str) -> None:
    if kind == "torch":
        assert isinstance(result, torch.Tensor) and result.dtype == getattr(torch, dtype)
    else:
        assert isinstance(result, (np.ndarray, np.generic)) and result.dtype == np.dtype(dtype)


def plain(value) -> np.ndarray:
    return value.detach().double().numpy() if isinstance(value, torch.Tensor) else np.asarray(value, np.float64)


@FAST
@given(n=st.integers(1, 8), seed=st.integers(0, 10_000), kind=KINDS, dtype=DTYPES, activation=ACTIVATIONS)
def test_rnn_jacobian_J_is_the_autograd_jacobian_of_the_activation(n, seed, kind, dtype, activation):
    z = np.random.default_rng(seed).normal(scale=2.0, size=n)
    J = rnn_jacobian_J(as_kind(z, kind, dtype), activation)
    assert_kind(J, kind, dtype)
    expected = torch.autograd.functional.jacobian(SIGMA[activation], torch.from_numpy(z))
    np.testing.assert_allclose(plain(J), expected.numpy(), **TOL[dtype])
    assert J.shape == (n, n)


@FAST
@given(n=st.integers(1, 6), m=st.integers(1, 4), seed=st.integers(0, 10_000), kind=KINDS, dtype=DTYPES,
       activation=ACTIVATIONS)
def test_rnn_state_jacobian_is_dh_next_dh(n, m, seed, kind, dtype, activation):
    rng = np.random.default_rng(seed)
    W, U, b, x, h = rng.normal(size=(n, n)), rng.normal(size=(n, m)), rng.normal(size=n), rng.normal(size=m), \
        rng.normal(size=n)
    W_t, U_t, b_t, x_t = map(torch.from_numpy, (W, U, b, x))
    step = lambda h_prev: SIGMA[activation](W_t @ h_prev + U_t @ x_t + b_t)  # noqa: E731
    expected = torch.autograd.functional.jacobian(step, torch.from_numpy(h))
    z_next = W @ h + U @ x + b
    got = rnn_state_jacobian(as_kind(z_next, kind, dtype), as_kind(W, kind, dtype), activation)
    assert_kind(got, kind, dtype)
    np.testing.assert_allclose(plain(got), expected.numpy(), rtol=TOL[dtype]["rtol"] * 10, atol=1e-5 if
                               dtype == "float32" else 1e-12)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_rnn_jacobian_J_keeps_the_graph_and_its_derivative_passes_gradcheck(activation):
    z = torch.randn(5, dtype=torch.float64, requires_grad=True)
    J = rnn_jacobian_J(z, activation)
    assert J.requires_grad and J.grad_fn is not None
    assert torch.autograd.gradcheck(lambda v: rnn_jacobian_J(v, activation), (z,))


def test_inputs_without_an_array_type_are_numpy_float64():
    J = rnn_jacobian_J([0.0, 1.0], "tanh")
    assert isinstance(J, np.ndarray) and J.dtype == np.float64
    np.testing.assert_allclose(np.diag(J), [1.0, 1 - np.tanh(1.0) ** 2])


def test_an_unknown_activation_is_named_in_the_error():
    with pytest.raises(ValueError, match="relu"):
        rnn_jacobian_J(np.zeros(3), "relu")


@FAST
@given(T_minus_t0=st.integers(0, 6), n=st.integers(1, 5), seed=st.integers(0, 10_000), kind=KINDS, dtype=DTYPES)
def test_gradient_bound_rhs_follows_its_documented_convention(T_minus_t0, n, seed, kind, dtype):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(n, n))
    Js = [rng.normal(size=(n, n)) for _ in range(T_minus_t0)]  # J_{t0+1}, ..., J_T
    grad_norm_T = float(rng.uniform(0.1, 3.0))
    got = gradient_bound_rhs(as_kind(np.array(grad_norm_T), kind, dtype), as_kind(W, kind, dtype),
                             [as_kind(J, kind, dtype) for J in Js])
    assert_kind(got, kind, dtype)
    # independently: numpy's spectral norms, bound for t = T - i written out literally from (1)
    T = T_minus_t0  # label steps so that Js[j] is J_{j+1} and t0 = 0
    expected = []
    for t in range(T, -1, -1):
        product = np.prod([np.linalg.norm(Js[k], 2) for k in range(t, T)])  # J_{k+1} for k = t..T-1
        expected.append(grad_norm_T * np.linalg.norm(W, 2) ** (T - t) * product)
    rtol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(plain(got), expected, rtol=rtol)
    if Js:  # a stacked (m, n, n) array means the same as the list
        stacked = gradient_bound_rhs(grad_norm_T, W, np.stack(Js))
        np.testing.assert_allclose(stacked, expected, rtol=1e-10)


@settings(max_examples=20, deadline=None)
@given(T=st.integers(2, 30), n=st.integers(2, 24), weight_scale=st.floats(0.1, 8.0), activation=ACTIVATIONS,
       seed=st.integers(0, 10_000))
def test_bound_one_holds_on_every_run(T, n, weight_scale, activation, seed):
    demo = gradient_norms_demo(T=T, n=n, weight_scale=weight_scale, activation=activation, seed=seed)
    assert demo.norms.shape == demo.bounds.shape == (T,)
    assert demo.norms[0] == pytest.approx(1.0)  # L = <v, h_T> with |v| = 1
    assert demo.bounds[0] == pytest.approx(demo.norms[0])
    assert np.all(demo.norms <= demo.bounds * (1 + 1e-9))


@settings(max_examples=15, deadline=None)
@given(contraction=st.floats(0.2, 0.95), activation=ACTIVATIONS, T=st.integers(5, 40), seed=st.integers(0, 10_000))
def test_gradients_vanish_when_norm_W_times_max_derivative_is_below_one(contraction, activation, T, seed):
    weight_scale = contraction / MAX_DERIVATIVE[activation]
    demo = gradient_norms_demo(T=T, n=16, weight_scale=weight_scale, activation=activation, seed=seed)
    assert demo.regime == "vanishing"
    assert demo.contraction == pytest.approx(contraction)
    steps_back = np.arange(T)
    # the bound itself decays geometrically, and with it the gradient
    assert np.all(demo.norms <= contraction ** steps_back * (1 + 1e-9))
    assert demo.growth_per_step <= np.log(contraction) + 1e-9


@settings(max_examples=8, deadline=None)
@given(weight_scale=st.floats(4.0, 6.0), seed=st.integers(0, 10_000))
def test_gradients_explode_for_a_chaotic_tanh_rnn(weight_scale, seed):
    # n = 64, T = 40: over 300 random draws the smallest growth seen was a factor of 1e5, so 100 is a safe margin
    demo = gradient_norms_demo(T=40, n=64, weight_scale=weight_scale, activation="tanh", seed=seed)
    assert demo.regime == "exploding"
    assert demo.norms[-1] > 100 * demo.norms[0]
    assert np.all(demo.norms <= demo.bounds * (1 + 1e-9))


def _torch_cell(d: int, H: int, rng: np.random.Generator) -> torch.nn.LSTMCell:
    cell = torch.nn.LSTMCell(d, H).double()
    with torch.no_grad():
        for parameter in cell.parameters():
            parameter.copy_(torch.from_numpy(rng.normal(size=tuple(parameter.shape))))
    return cell


@FAST
@given(B=st.integers(1, 4), d=st.integers(1, 5), H=st.integers(1, 5), seed=st.integers(0, 10_000), kind=KINDS,
       dtype=DTYPES)
def test_lstm_cell_matches_torch_lstm_cell(B, d, H, seed, kind, dtype):
    rng = np.random.default_rng(seed)
    cell = _torch_cell(d, H, rng)
    x, h, c = rng.normal(size=(B, d)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    with torch.no_grad():
        h_ref, c_ref = cell(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)))
    weights = [p.detach().numpy() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
    h_new, c_new = lstm_cell(*(as_kind(v, kind, dtype) for v in (x, h, c, *weights)))
    assert_kind(h_new, kind, dtype)
    assert_kind(c_new, kind, dtype)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(plain(h_new), h_ref.numpy(), **tol)
    np.testing.assert_allclose(plain(c_new), c_ref.numpy(), **tol)


def test_lstm_cell_gradients_match_torch_lstm_cell():
    rng = np.random.default_rng(3)
    cell = _torch_cell(3, 4, rng)
    x = torch.from_numpy(rng.normal(size=(2, 3))).requires_grad_()
    h = torch.from_numpy(rng.normal(size=(2, 4))).requires_grad_()
    c = torch.from_numpy(rng.normal(size=(2, 4))).requires_grad_()
    weights = [p.detach().clone().requires_grad_() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih,
                                                             cell.bias_hh)]
    h_new, c_new = lstm_cell(x, h, c, *weights)
    ours = torch.autograd.grad((h_new.sum() + 2 * c_new.sum()), (x, h, c, *weights))
    h_ref, c_ref = cell(x, (h, c))
    theirs = torch.autograd.grad((h_ref.sum() + 2 * c_ref.sum()), (x, h, c, cell.weight_ih, cell.weight_hh,
                                                                   cell.bias_ih, cell.bias_hh))
    for mine, reference in zip(ours, theirs):
        torch.testing.assert_close(mine, reference)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_lstm_cell_grads_are_torch_lstm_cells_autograd_gradients(kind):
    """The expected values of 11.3a's gradient check: d(sum h' + sum c')/d every argument, from nn.LSTMCell."""
    rng = np.random.default_rng(8)
    cell = _torch_cell(3, 5, rng)
    x, h, c = (torch.from_numpy(rng.normal(size=shape)).requires_grad_() for shape in ((4, 3), (4, 5), (4, 5)))
    h_ref, c_ref = cell(x, (h, c))
    params = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    theirs = torch.autograd.grad(h_ref.sum() + c_ref.sum(), (x, h, c, *params))
    inputs = [v.detach() for v in (x, h, c, *params)]
    ours = lstm_cell_grads(*(v.numpy() if kind == "numpy" else v for v in inputs))
    assert len(ours) == 7
    for mine, reference in zip(ours, theirs):
        assert isinstance(mine, np.ndarray if kind == "numpy" else torch.Tensor)
        np.testing.assert_allclose(np.asarray(mine), reference.numpy(), rtol=1e-10, atol=1e-12)


def test_lstm_cell_unbatched_matches_the_batched_call():
    rng = np.random.default_rng(5)
    cell = _torch_cell(2, 3, rng)
    x, h, c = rng.normal(size=2), rng.normal(size=3), rng.normal(size=3)
    with torch.no_grad():
        h_ref, c_ref = cell(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)))
    weights = [p.detach().numpy() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
    h_new, c_new = lstm_cell(x, h, c, *weights)
    np.testing.assert_allclose(h_new, h_ref.numpy(), rtol=1e-12)
    np.testing.assert_allclose(c_new, c_ref.numpy(), rtol=1e-12)


def test_lstm_cell_names_the_wrong_weight_shape():
    with pytest.raises(ValueError, match="W_ih must be"):
        lstm_cell(np.zeros((1, 2)), np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((12, 3)), np.zeros((12, 3)),
                  np.zeros(12), np.zeros(12))

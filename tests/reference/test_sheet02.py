"""Proofs of the sheet 02 reference against independent computations: autograd through an LSTM forget gate,
torch.nn.LSTM/GRU, finite differences, torch.func.jacfwd, torch.distributions.kl_divergence, eigenvalues of a
constructed covariance, and Monte Carlo estimates with stated tolerances. Also the grader-side judges."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch.distributions import Categorical, MultivariateNormal, Normal, kl_divergence

from reference import sheet02
from reference.verdicts import judge_online, judge_pq_asymmetric
from reference.sheet02 import (P, Q, first_future_dependent_step, forget_gate_delta, future_dependence,
                               future_perturbations, gan_value, kl_discrete, kl_gaussian_std_normal,
                               kl_gaussian_std_normal_diag, kl_worked_example, optimal_discriminator,
                               reparameterize, reparameterize_grads, residual_block_jacobian)

FAST = settings(max_examples=25, deadline=None)
KINDS = st.sampled_from(["numpy", "torch"])
DTYPES = st.sampled_from(["float32", "float64"])


def as_kind(array, kind: str, dtype: str):
    array = np.asarray(array, dtype=dtype)
    return torch.from_numpy(array) if kind == "torch" else array


def assert_kind(result, kind: str, dtype: str) -> None:
    if kind == "torch":
        assert isinstance(result, torch.Tensor) and result.dtype == getattr(torch, dtype)
    else:
        assert isinstance(result, (np.ndarray, np.generic)) and result.dtype == np.dtype(dtype)


def plain(value) -> np.ndarray:
    return value.detach().double().numpy() if isinstance(value, torch.Tensor) else np.asarray(value, np.float64)


def rtol_for(dtype: str) -> float:
    return 1e-4 if dtype == "float32" else 1e-10


# ------------------------------------------------------------------------------------------------------ 1b

@FAST
@given(D=st.integers(1, 8), seed=st.integers(0, 10_000), kind=KINDS, dtype=DTYPES)
def test_forget_gate_delta_equals_autograd_through_an_lstm_unit(D, seed, kind, dtype):
    rng = np.random.default_rng(seed)
    t = lambda *shape: torch.from_numpy(rng.normal(size=shape))  # noqa: E731
    net_phi = t().requires_grad_()
    s_prev, net_in, cell_input, readout, net_out = t(D), t(), t(D), t(D), t()
    # one LSTM unit, D cells sharing the forget gate: s_c^t = y_phi s_c^{t-1} + y_in g(net_c)
    s_t = torch.sigmoid(net_phi) * s_prev + torch.sigmoid(net_in) * torch.tanh(cell_input)
    error = (readout * torch.sigmoid(net_out) * torch.tanh(s_t)).sum() ** 2  # some loss downstream of s^t
    zeta, = torch.autograd.grad(error, s_t, retain_graph=True)  # zeta_c^t = dE/ds_c^t
    delta, = torch.autograd.grad(error, net_phi)  # delta_phi^t = dE/dnet_phi^t
    got = forget_gate_delta(as_kind(net_phi.item(), kind, dtype), as_kind(zeta.numpy(), kind, dtype),
                            as_kind(s_prev.numpy(), kind, dtype))
    assert_kind(got, kind, dtype)
    assert np.shape(got) == ()
    # A sum over cells can cancel to near 0, where no relative tolerance on the result holds in float32: the
    # error is relative to the size of the terms summed, phi'(net) * sum |zeta_c s_c|.
    scale = (torch.sigmoid(net_phi) * (1 - torch.sigmoid(net_phi)) * (zeta * s_prev).abs().sum()).item()
    assert abs(plain(got) - delta.item()) <= rtol_for(dtype) * scale + 1e-12


def test_forget_gate_delta_names_mismatched_cells():
    with pytest.raises(ValueError, match="shape"):
        forget_gate_delta(0.0, np.ones(3), np.ones(4))


# ------------------------------------------------------------------------------------------------------ 1c

def test_bidirectional_rnns_are_not_online_feasible():
    assert sheet02.bidirectional_online_feasible is False


@pytest.mark.parametrize("layer", [torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN])
def test_a_unidirectional_recurrent_net_passes_the_online_probe(layer):
    torch.manual_seed(0)
    model = layer(3, 5, num_layers=2, batch_first=True)
    assert future_dependence(model, batch=2, T=7, d=3) == sheet02.OnlineProbeResult(True, None)


@pytest.mark.parametrize("layer", [torch.nn.LSTM, torch.nn.GRU])
def test_a_bidirectional_recurrent_net_fails_at_step_0(layer):
    torch.manual_seed(0)
    model = layer(3, 5, batch_first=True, bidirectional=True)
    assert future_dependence(model, batch=2, T=7, d=3) == sheet02.OnlineProbeResult(False, 0)


def _peeks_at(step: int):
    """A model whose output at `step` (only there) adds the next input: it looks one step ahead."""
    def model(x: torch.Tensor) -> torch.Tensor:
        out = torch.cumsum(x, dim=1)  # causal everywhere else
        out[:, step] += x[:, step + 1]
        return out
    return model


@settings(max_examples=15, deadline=None)
@given(T=st.integers(2, 12), data=st.data())
def test_the_first_offending_step_is_the_one_that_reads_the_future(T, data):
    step = data.draw(st.integers(0, T - 2))
    result = future_dependence(_peeks_at(step), batch=3, T=T, d=2, seed=data.draw(st.integers(0, 1000)))
    assert result == sheet02.OnlineProbeResult(False, step)


@FAST
@given(B=st.integers(1, 3), T=st.integers(1, 8), d=st.integers(1, 3), seed=st.integers(0, 1000), kind=KINDS,
       dtype=DTYPES)
def test_future_perturbations_keep_the_past_and_replace_the_future(B, T, d, seed, kind, dtype):
    x = as_kind(np.random.default_rng(seed).normal(size=(B, T, d)), kind, dtype)
    copies = future_perturbations(x, seed=seed)
    assert len(copies) == T - 1
    for t, copy in enumerate(copies):
        assert_kind(copy, kind, dtype)
        assert copy.shape == x.shape
        np.testing.assert_array_equal(plain(copy)[:, :t + 1], plain(x)[:, :t + 1])
        assert np.all(plain(copy)[:, t + 1:] != plain(x)[:, t + 1:])
    again = future_perturbations(x, seed=seed)
    for first, second in zip(copies, again):
        np.testing.assert_array_equal(plain(first), plain(second))


def test_the_pure_judge_works_on_arrays_computed_elsewhere():
    torch.manual_seed(1)
    x = np.random.default_rng(0).normal(size=(2, 6, 3)).astype(np.float32)
    for bidirectional, expected in ((False, None), (True, 0)):
        model = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=bidirectional)
        with torch.no_grad():
            run = lambda inputs: model(torch.from_numpy(inputs))[0].numpy()  # noqa: E731
            base, perturbed = run(x), [run(copy) for copy in future_perturbations(x, seed=3)]
        assert first_future_dependent_step(base, perturbed) == expected
        passed, message = judge_online(base, perturbed)
        assert passed is (expected is None)
        assert ("step 0" in message) is (expected == 0)


def test_the_online_judge_explains_malformed_outputs():
    base = np.zeros((1, 4, 2))
    passed, message = judge_online(base, [base] * 2)
    assert not passed and "expected 3 perturbed outputs" in message
    passed, message = judge_online(base, [base, base, np.zeros((1, 4, 3))])
    assert not passed and "shape" in message


def test_nan_outputs_compare_equal_to_nan():
    base = np.full((1, 3, 1), np.nan)
    assert first_future_dependent_step(base, [base.copy(), base.copy()]) is None


# ------------------------------------------------------------------------------------------------------ 2d

def _block(n: int, seed: int):
    rng = np.random.default_rng(seed)
    A, b = torch.from_numpy(rng.normal(size=(n, n))), torch.from_numpy(rng.normal(size=n))
    C = torch.from_numpy(rng.normal(size=(n, n)))
    return lambda x: C.to(x.dtype) @ torch.tanh(A.to(x.dtype) @ x + b.to(x.dtype))


@FAST
@given(n=st.integers(1, 6), seed=st.integers(0, 10_000), kind=KINDS)
def test_residual_block_jacobian_matches_finite_differences_and_forward_mode(n, seed, kind):
    F = _block(n, seed)
    x = np.random.default_rng(seed + 1).normal(size=n)
    got = residual_block_jacobian(F, as_kind(x, kind, "float64"))
    assert_kind(got, kind, "float64")
    residual = lambda v: v + F(v)  # noqa: E731
    h, columns = 1e-6, []
    for j in range(n):
        step = torch.zeros(n, dtype=torch.float64)
        step[j] = h
        x_t = torch.from_numpy(x)
        columns.append((residual(x_t + step) - residual(x_t - step)) / (2 * h))
    np.testing.assert_allclose(plain(got), torch.stack(columns, dim=1).numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(plain(got), torch.func.jacfwd(residual)(torch.from_numpy(x)).numpy(), rtol=1e-12)


def test_residual_block_jacobian_from_a_given_jacobian_and_with_a_graph():
    J_F = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(residual_block_jacobian(J_F), J_F + np.eye(3))
    x = torch.randn(3, dtype=torch.float64, requires_grad=True)
    jac = residual_block_jacobian(_block(3, 0), x)
    assert jac.requires_grad and jac.grad_fn is not None
    with pytest.raises(ValueError, match="same shape"):
        residual_block_jacobian(lambda v: v[:2], torch.zeros(3))


# ------------------------------------------------------------------------------------------------------ 3c

@FAST
@given(n=st.integers(2, 8), zeros=st.integers(0, 3), seed=st.integers(0, 10_000), kind=KINDS, dtype=DTYPES)
def test_kl_discrete_matches_torch_categorical(n, zeros, seed, kind, dtype):
    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(n))
    p[rng.choice(n, size=min(zeros, n - 1), replace=False)] = 0.0  # p_i = 0 terms contribute 0
    p /= p.sum()
    got = kl_discrete(as_kind(p, kind, dtype), as_kind(q, kind, dtype))
    assert_kind(got, kind, dtype)
    expected = kl_divergence(Categorical(probs=torch.from_numpy(p)), Categorical(probs=torch.from_numpy(q)))
    np.testing.assert_allclose(plain(got), expected.item(), rtol=rtol_for(dtype), atol=1e-6)


def test_kl_discrete_conventions_at_zero():
    assert kl_discrete([0.0, 1.0], [0.0, 1.0]) == 0.0  # 0 ln(0/0) counts as 0
    assert kl_discrete([0.5, 0.5], [1.0, 0.0]) == np.inf  # mass where q has none
    assert kl_divergence(Categorical(probs=torch.tensor([0.5, 0.5])), Categorical(probs=torch.tensor([1.0, 0.0]))) \
        == math.inf


def test_kl_discrete_on_a_batch_and_its_gradient():
    p = torch.tensor([[0.2, 0.8], [0.6, 0.4]], dtype=torch.float64)
    q = torch.tensor([[0.5, 0.5], [0.1, 0.9]], dtype=torch.float64, requires_grad=True)
    kl = kl_discrete(p, q)
    expected = kl_divergence(Categorical(probs=p), Categorical(probs=q.detach()))
    torch.testing.assert_close(kl.detach(), expected)
    kl.sum().backward()
    torch.testing.assert_close(q.grad, -p / q.detach())  # d/dq_i of -p_i ln q_i


def test_the_worked_example_shows_the_asymmetry():
    example = kl_worked_example()
    assert (example["P"], example["Q"]) == (P, Q) == ((0.3, 0.7), (0.5, 0.5))
    P_t = Categorical(probs=torch.tensor(P, dtype=torch.float64))
    Q_t = Categorical(probs=torch.tensor(Q, dtype=torch.float64))
    assert example["kl_PQ"] == pytest.approx(kl_divergence(P_t, Q_t).item(), rel=1e-12)
    assert example["kl_QP"] == pytest.approx(kl_divergence(Q_t, P_t).item(), rel=1e-12)
    assert abs(example["kl_PQ"] - example["kl_QP"]) > 1e-3
    assert judge_pq_asymmetric(P, Q)[0]


def test_judge_pq_asymmetric_accepts_one_infinite_direction():
    """q_i = 0 < p_i: KL(P||Q) = +inf (the template's own definition) and KL(Q||P) finite show the asymmetry."""
    passed, message = judge_pq_asymmetric((0.3, 0.7), (1.0, 0.0))
    assert passed and "+inf" in message and "finite" in message


@pytest.mark.parametrize("P_, Q_, problem", [
    ((0.3, 0.7), (0.7, 0.3), "equal"),
    ((0.5, 0.5), (0.5, 0.5), "equal"),
    ((0.3, 0.6), (0.5, 0.5), "sums to"),
    ((1.2, -0.2), (0.5, 0.5), "negative"),
    ((1.0, 0.0), (0.0, 1.0), "both divergences are infinite"),
    ((1.0,), (1.0,), "at least 2"),
    ((0.2, 0.8), (0.2, 0.3, 0.5), "same outcomes"),
    ("0.3, 0.7", (0.5, 0.5), "list of numbers"),
    (None, (0.5, 0.5), "None"),
])
def test_judge_pq_asymmetric_rejects_with_a_reason(P_, Q_, problem):
    passed, message = judge_pq_asymmetric(P_, Q_)
    assert not passed and problem in message


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 6), seed=st.integers(0, 10_000))
def test_judge_pq_asymmetric_accepts_generic_pairs(n, seed):
    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(n))
    kl_pq = kl_divergence(Categorical(probs=torch.from_numpy(p)), Categorical(probs=torch.from_numpy(q))).item()
    kl_qp = kl_divergence(Categorical(probs=torch.from_numpy(q)), Categorical(probs=torch.from_numpy(p))).item()
    # Two computations of the same KL differ in the last bits: right at the judge's threshold they may disagree.
    assume(abs(abs(kl_pq - kl_qp) - 1e-6) > 1e-12)
    assert judge_pq_asymmetric(list(p), q.tolist())[0] is (abs(kl_pq - kl_qp) > 1e-6)


# ------------------------------------------------------------------------------------------------------ 3d

def test_reparameterize_has_the_right_mean_and_variance_by_monte_carlo():
    mu = torch.tensor([0.5, -2.0, 3.0], dtype=torch.float64)
    log_var = torch.tensor([0.0, -1.5, 1.2], dtype=torch.float64)
    N = 200_000
    eps = torch.randn(N, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    z = reparameterize(mu, log_var, eps)
    var = torch.exp(log_var)
    # 5 standard errors: the mean's is sqrt(var/N), the sample variance's is var*sqrt(2/N) for a Gaussian
    assert torch.all((z.mean(0) - mu).abs() < 5 * torch.sqrt(var / N))
    assert torch.all((z.var(0) - var).abs() < 5 * var * math.sqrt(2 / N))


SHAPES = st.sampled_from([((3,), (3,), (3,)), ((3,), (3,), (4, 3)), ((1, 3), (4, 3), (4, 3)), ((), (2,), (5, 2)),
                          ((2, 1), (1, 3), (2, 3))])


@FAST
@given(shapes=SHAPES, seed=st.integers(0, 10_000), kind=KINDS, dtype=DTYPES)
def test_reparameterize_grads_match_finite_differences(shapes, seed, kind, dtype):
    rng = np.random.default_rng(seed)
    mu, log_var, eps = (rng.normal(size=shape) for shape in shapes)
    grad_mu, grad_lv = reparameterize_grads(*(as_kind(v, kind, dtype) for v in (mu, log_var, eps)))
    assert_kind(grad_mu, kind, dtype)
    assert_kind(grad_lv, kind, dtype)
    total = lambda m, lv: float(np.sum(m + np.exp(0.5 * lv) * eps))  # noqa: E731  (the sheet's formula)
    for which, got in ((0, grad_mu), (1, grad_lv)):
        base = [mu.copy(), log_var.copy()]
        numeric = np.zeros(shapes[which])
        for index in np.ndindex(*shapes[which]):
            up, down = [b.copy() for b in base], [b.copy() for b in base]
            up[which][index] += 1e-6
            down[which][index] -= 1e-6
            numeric[index] = (total(*up) - total(*down)) / 2e-6
        np.testing.assert_allclose(plain(got), numeric, rtol=1e-4 if dtype == "float32" else 1e-7, atol=1e-5)


def test_reparameterize_is_differentiable_in_mu_and_log_var():
    mu = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    log_var = torch.randn(3, dtype=torch.float64, requires_grad=True)
    eps = torch.randn(4, 3, dtype=torch.float64)
    reparameterize(mu, log_var, eps).sum().backward()
    expected_mu, expected_lv = reparameterize_grads(mu.detach(), log_var.detach(), eps)
    torch.testing.assert_close(mu.grad, expected_mu)
    torch.testing.assert_close(log_var.grad, expected_lv)


# ------------------------------------------------------------------------------------------------------ 3g

def _spd(eigenvalues: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Q diag(eigenvalues) Q^T for a random orthogonal Q: a covariance whose spectrum we know exactly."""
    q, r = np.linalg.qr(rng.normal(size=(len(eigenvalues), len(eigenvalues))))
    q = q * np.sign(np.diag(r))
    sigma = (q * eigenvalues) @ q.T
    return (sigma + sigma.T) / 2


def _closed_form_from_spectrum(mu: np.ndarray, eigenvalues: np.ndarray) -> float:
    return 0.5 * (eigenvalues.sum() + mu @ mu - len(mu) - np.log(eigenvalues).sum())


@FAST
@given(k=st.integers(1, 6), seed=st.integers(0, 10_000), kind=KINDS, dtype=DTYPES)
def test_kl_gaussian_matches_torch_multivariate_normal(k, seed, kind, dtype):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(k, k))
    sigma, mu = A @ A.T + 0.3 * np.eye(k), rng.normal(size=k)
    got = kl_gaussian_std_normal(as_kind(mu, kind, dtype), as_kind(sigma, kind, dtype))
    assert_kind(got, kind, dtype)
    expected = kl_divergence(MultivariateNormal(torch.from_numpy(mu), torch.from_numpy(sigma)),
                             MultivariateNormal(torch.zeros(k, dtype=torch.float64), torch.eye(k, dtype=torch.float64)))
    np.testing.assert_allclose(plain(got), expected.item(), rtol=1e-4 if dtype == "float32" else 1e-9, atol=1e-5)


def test_kl_gaussian_is_finite_and_exact_for_k_512():
    rng = np.random.default_rng(0)
    k, mu = 512, rng.normal(size=512)
    sigma = 10.0 * np.eye(k)
    assert np.linalg.det(sigma) == np.inf  # the naive formula would overflow here
    assert kl_gaussian_std_normal(mu, sigma) == pytest.approx(_closed_form_from_spectrum(mu, np.full(k, 10.0)),
                                                              rel=1e-12)
    eigenvalues = np.exp(rng.uniform(np.log(0.05), np.log(50.0), size=k))
    got = kl_gaussian_std_normal(mu, _spd(eigenvalues, rng))
    assert np.isfinite(got)
    assert got == pytest.approx(_closed_form_from_spectrum(mu, eigenvalues), rel=1e-9)


@pytest.mark.parametrize("condition", [1e8, 1e10, 1e12])
def test_kl_gaussian_is_correct_for_an_ill_conditioned_covariance(condition):
    rng = np.random.default_rng(1)
    k = 40
    eigenvalues = np.geomspace(1.0, 1.0 / condition, k)
    sigma, mu = _spd(eigenvalues, rng), rng.normal(size=k)
    assert np.linalg.cond(sigma) > condition / 10
    got = kl_gaussian_std_normal(mu, sigma)
    # rounding Sigma to float64 moves its smallest eigenvalue by about 1e-16 * ||Sigma||: ln of it by 1e-16 * condition
    assert got == pytest.approx(_closed_form_from_spectrum(mu, eigenvalues), abs=1e-4 * condition / 1e8)


def test_kl_gaussian_by_monte_carlo():
    rng = np.random.default_rng(2)
    mu, sigma = torch.from_numpy(rng.normal(size=3)), torch.from_numpy(_spd(np.array([0.3, 1.0, 2.5]), rng))
    q, p = MultivariateNormal(mu, sigma), MultivariateNormal(torch.zeros(3, dtype=torch.float64),
                                                             torch.eye(3, dtype=torch.float64))
    torch.manual_seed(0)
    samples = q.sample((200_000,))
    log_ratio = q.log_prob(samples) - p.log_prob(samples)
    standard_error = log_ratio.std().item() / math.sqrt(len(log_ratio))
    assert abs(kl_gaussian_std_normal(mu, sigma).item() - log_ratio.mean().item()) < 5 * standard_error


def test_kl_gaussian_on_a_batch_equals_item_by_item_and_float32_stays_float32():
    rng = np.random.default_rng(3)
    mus = rng.normal(size=(4, 3))
    sigmas = np.stack([_spd(rng.uniform(0.1, 3.0, size=3), rng) for _ in range(4)])
    batch = kl_gaussian_std_normal(mus, sigmas)
    assert batch.shape == (4,)
    np.testing.assert_allclose(batch, [kl_gaussian_std_normal(m, s) for m, s in zip(mus, sigmas)], rtol=1e-12)
    single = kl_gaussian_std_normal(mus[0].astype(np.float32), _spd(np.geomspace(1, 1e-4, 3), rng).astype(np.float32))
    assert single.dtype == np.float32 and np.isfinite(single)


def test_kl_gaussian_rejects_a_covariance_that_is_not_positive_definite():
    with pytest.raises(ValueError, match="positive definite"):
        kl_gaussian_std_normal(np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="shape"):
        kl_gaussian_std_normal(np.zeros(3), np.eye(2))


def test_kl_gaussian_gradient_in_mu_is_mu():
    mu = torch.randn(5, dtype=torch.float64, requires_grad=True)
    kl = kl_gaussian_std_normal(mu, torch.eye(5, dtype=torch.float64) * 2)
    kl.backward()
    torch.testing.assert_close(mu.grad, mu.detach())


@FAST
@given(k=st.integers(1, 8), seed=st.integers(0, 10_000), kind=KINDS, dtype=DTYPES)
def test_kl_gaussian_diag_matches_normal_and_the_full_form(k, seed, kind, dtype):
    rng = np.random.default_rng(seed)
    mu, log_var = rng.normal(size=k), rng.normal(size=k)
    got = kl_gaussian_std_normal_diag(as_kind(mu, kind, dtype), as_kind(log_var, kind, dtype))
    assert_kind(got, kind, dtype)
    expected = kl_divergence(Normal(torch.from_numpy(mu), torch.exp(0.5 * torch.from_numpy(log_var))),
                             Normal(0.0, 1.0)).sum().item()
    np.testing.assert_allclose(plain(got), expected, rtol=rtol_for(dtype), atol=1e-5)
    np.testing.assert_allclose(plain(got), kl_gaussian_std_normal(mu, np.diag(np.exp(log_var))),
                               rtol=rtol_for(dtype), atol=1e-5)


# ------------------------------------------------------------------------------------------------ task 04

GRID = np.linspace(-20.0, 20.0, 8001)


def _log_density(mean: float, std: float) -> torch.Tensor:
    mean_t, std_t = torch.tensor(mean, dtype=torch.float64), torch.tensor(std, dtype=torch.float64)
    return Normal(mean_t, std_t).log_prob(torch.from_numpy(GRID))


def _density(mean: float, std: float) -> np.ndarray:
    return _log_density(mean, std).exp().numpy()


def _jsd_on_the_grid(data: tuple[float, float], generator: tuple[float, float]) -> float:
    """JSD of two normal densities, as the JSD of their discretisations on the (uniform) grid.

    Computed from log densities throughout: far in a tail a density underflows to 0 (or to a subnormal that
    (p + g) / 2 rounds to 0), and a KL of categoricals then becomes inf or nan although every term is finite.
    """
    def log_weights(log_density: torch.Tensor) -> torch.Tensor:
        return log_density - torch.logsumexp(log_density, dim=0)

    log_p, log_g = log_weights(_log_density(*data)), log_weights(_log_density(*generator))
    log_m = torch.logaddexp(log_p, log_g) - math.log(2)
    kl_pm = (log_p.exp() * (log_p - log_m)).sum()
    kl_gm = (log_g.exp() * (log_g - log_m)).sum()
    return (0.5 * (kl_pm + kl_gm)).item()


def test_the_tests_jsd_is_finite_where_a_density_underflows():
    """m1=0, s1=0.5, m2=1, s2=0.5: both densities underflow at the grid's ends (the example that broke it)."""
    assert (_density(0.0, 0.5) == 0).any() and (_density(1.0, 0.5) == 0).any()
    jsd = _jsd_on_the_grid((0.0, 0.5), (1.0, 0.5))
    assert 0 < jsd < math.log(2)
    assert _jsd_on_the_grid((0.3, 1.2), (0.3, 1.2)) == pytest.approx(0.0, abs=1e-12)
    assert _jsd_on_the_grid((-3.0, 0.5), (3.0, 0.5)) == pytest.approx(math.log(2), abs=1e-7)  # nearly disjoint


@settings(max_examples=15, deadline=None)
@given(m1=st.floats(-3, 3), s1=st.floats(0.5, 2.0), m2=st.floats(-3, 3), s2=st.floats(0.5, 2.0))
def test_value_at_the_optimal_discriminator_is_minus_log_4_plus_twice_the_jsd(m1, s1, m2, s2):
    p_data, p_g = _density(m1, s1), _density(m2, s2)
    D_star = optimal_discriminator(p_data, p_g)
    value = gan_value(D_star, p_data, p_g, GRID)
    assert value == pytest.approx(-math.log(4) + 2 * _jsd_on_the_grid((m1, s1), (m2, s2)), abs=1e-6)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), size=st.floats(0.01, 0.3))
def test_the_optimal_discriminator_maximises_the_value(seed, size):
    p_data, p_g = _density(-1.0, 1.0), _density(1.5, 0.7)
    D_star = optimal_discriminator(p_data, p_g)
    bump = size * np.random.default_rng(seed).normal(size=GRID.shape)
    D_other = np.clip(D_star + bump, 1e-9, 1 - 1e-9)
    assert gan_value(D_other, p_data, p_g, GRID) < gan_value(D_star, p_data, p_g, GRID)


def test_value_matches_monte_carlo_and_equal_densities_give_minus_log_4():
    data, generator = Normal(0.0, 1.0), Normal(1.0, 1.5)
    p_data, p_g = _density(0.0, 1.0), _density(1.0, 1.5)
    quadrature = gan_value(optimal_discriminator(p_data, p_g), p_data, p_g, GRID)
    torch.manual_seed(0)
    N = 200_000
    x_real, x_fake = data.sample((N,)).double(), generator.sample((N,)).double()
    d_star = lambda x: 1 / (1 + torch.exp(generator.log_prob(x) - data.log_prob(x)))  # noqa: E731
    real_terms, fake_terms = torch.log(d_star(x_real)), torch.log(1 - d_star(x_fake))
    estimate = (real_terms.mean() + fake_terms.mean()).item()
    standard_error = math.sqrt((real_terms.var() + fake_terms.var()).item() / N)
    assert abs(quadrature - estimate) < 5 * standard_error
    same = _density(0.3, 1.2)
    np.testing.assert_allclose(optimal_discriminator(same, same), 0.5)
    assert gan_value(optimal_discriminator(same, same), same, same, GRID) == pytest.approx(-math.log(4), abs=1e-9)


def test_optimal_discriminator_stays_strictly_inside_0_1_where_both_densities_are_positive():
    p_data, p_g = np.array([1.0, 1e-320, 1.0]), np.array([1e-30, 1e10, 0.0])
    D = optimal_discriminator(p_data, p_g)
    assert 0 < D[0] < 1 and 0 < D[1] < 1 and D[2] == 1.0
    assert np.isfinite(gan_value(D, p_data, p_g, np.arange(3.0)))


def test_gan_value_edge_cases():
    xs = np.array([0.0, 1.0, 2.0])
    p_data, p_g = np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0])
    D = optimal_discriminator(p_data, p_g)
    np.testing.assert_array_equal(D, [0.5, 1.0, 0.0])  # no mass at 0: 1/2
    assert gan_value(D, p_data, p_g, xs) == 0.0  # D* = 1 on the data and 0 on the fakes: ln 1 + ln 1
    assert gan_value(np.zeros(3), p_data, p_g, xs) == -np.inf  # D = 0 where real data lives
    with pytest.raises(ValueError, match="1-D of one length"):
        gan_value(np.zeros(2), p_data, p_g, xs)


# ---------------------------------------------------------------------------------------- kinds and graphs

def _inputs():
    rng = np.random.default_rng(0)
    spd = _spd(np.array([0.5, 1.0, 2.0]), rng)
    dens = np.abs(rng.normal(size=5))
    return {
        "forget_gate_delta": (forget_gate_delta, (0.3, rng.normal(size=3), rng.normal(size=3))),
        "kl_discrete": (kl_discrete, (np.array([0.2, 0.3, 0.5]), np.array([0.4, 0.4, 0.2]))),
        "reparameterize": (reparameterize, (rng.normal(size=3), rng.normal(size=3), rng.normal(size=3))),
        "kl_gaussian_std_normal": (kl_gaussian_std_normal, (rng.normal(size=3), spd)),
        "kl_gaussian_std_normal_diag": (kl_gaussian_std_normal_diag, (rng.normal(size=3), rng.normal(size=3))),
        "optimal_discriminator": (optimal_discriminator, (dens, np.abs(rng.normal(size=5)))),
        "gan_value": (gan_value, (np.full(5, 0.4), dens, dens[::-1].copy(), np.arange(5.0))),
    }


@pytest.mark.parametrize("name", list(_inputs()))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kind_dtype_and_graph_are_preserved(name, dtype):
    function, args = _inputs()[name]
    numpy_args = [np.asarray(a, dtype=dtype) for a in args]
    result = function(*numpy_args)
    assert_kind(result, "numpy", dtype)
    torch_args = [torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True) for a in args]
    result = function(*torch_args)
    assert_kind(result, "torch", dtype)
    assert result.grad_fn is not None
    result.sum().backward()
    assert any(a.grad is not None and torch.isfinite(a.grad).all() for a in torch_args)
    np.testing.assert_allclose(plain(result), plain(function(*numpy_args)), rtol=1e-6)

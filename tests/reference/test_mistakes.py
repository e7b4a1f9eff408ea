"""The catalogue of known mistakes: each imitates a student-facing function, differs from the reference on
generic inputs (in value, or for graph-cutting mistakes in the gradient), and the judges catch the data ones."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import sheet02, sheet11
from reference.verdicts import judge_pq_asymmetric, judge_reparam_grads
from reference.mistakes import MISTAKES, Mistake

REFERENCE = {**{name: getattr(sheet11, name) for name in ("rnn_jacobian_J", "lstm_cell")},
             **{name: getattr(sheet02, name) for name in ("forget_gate_delta", "kl_discrete", "reparameterize",
                                                          "kl_gaussian_std_normal")}}
ALL = [(name, mistake) for name, mistakes in MISTAKES.items() for mistake in mistakes]
IMITATORS = [pair for pair in ALL if pair[0] in REFERENCE]  # mistakes standing in for a function


def mistake_id(value) -> str:
    return getattr(value, "id", str(value))


def generic_args(name: str, rng: np.random.Generator) -> tuple:
    """Arguments in general position for the student-facing function `name` (float64 numpy)."""
    normal = rng.normal
    if name == "rnn_jacobian_J":
        return normal(size=4), str(rng.choice(["tanh", "sigmoid"]))
    if name == "lstm_cell":
        B, d, H = 2, 3, 4
        return (normal(size=(B, d)), normal(size=(B, H)), normal(size=(B, H)), normal(size=(4 * H, d)),
                normal(size=(4 * H, H)), normal(size=4 * H), normal(size=4 * H))
    if name == "forget_gate_delta":
        return np.float64(normal()), normal(size=3), normal(size=3)
    if name == "kl_discrete":
        return rng.dirichlet(np.ones(4)), rng.dirichlet(np.ones(4))
    if name == "reparameterize":
        return normal(size=3), normal(size=3), normal(size=3)
    if name == "kl_gaussian_std_normal":
        A = normal(size=(3, 3))
        return normal(size=3), A @ A.T + 0.5 * np.eye(3)
    raise KeyError(name)


def as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def differs(got, expected) -> bool:
    for g, e in zip(as_tuple(got), as_tuple(expected)):
        g, e = np.asarray(g, dtype=np.float64), np.asarray(e, dtype=np.float64)
        if g.shape != e.shape or not np.allclose(g, e, rtol=1e-6, atol=1e-9):
            return True
    return False


def test_the_registry_is_keyed_by_student_facing_names_and_entries_are_described():
    ids = [mistake.id for _, mistake in ALL]
    assert len(ids) == len(set(ids))
    for name, mistake in ALL:
        assert isinstance(mistake, Mistake) and mistake.id == mistake.function.__name__
        assert mistake.id.startswith(name.split(",")[0]) or name == "P,Q"
        assert len(mistake.description) > 20
        for part in name.split(","):
            assert hasattr(sheet11, part) or hasattr(sheet02, part), part
    assert set(REFERENCE) | {"P,Q"} == set(MISTAKES)


@pytest.mark.parametrize("name, mistake", IMITATORS, ids=mistake_id)
def test_a_mistake_has_the_signature_of_the_function_it_imitates(name, mistake):
    expected = list(inspect.signature(REFERENCE[name]).parameters)
    assert list(inspect.signature(mistake.function).parameters) == expected


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 100_000))
def test_every_value_mistake_differs_from_the_reference_on_generic_inputs(seed):
    for name, mistake in ALL:
        if name not in REFERENCE or mistake.shows_in != "value":
            continue
        args = generic_args(name, np.random.default_rng(seed))
        assert differs(mistake.function(*args), REFERENCE[name](*args)), mistake.id


@pytest.mark.parametrize("name, mistake", IMITATORS, ids=mistake_id)
def test_mistakes_keep_the_kind_and_dtype_of_their_inputs(name, mistake):
    args = generic_args(name, np.random.default_rng(0))
    torch_args = [torch.tensor(a, dtype=torch.float32) if not isinstance(a, str) else a for a in args]
    for value in as_tuple(mistake.function(*torch_args)):
        assert isinstance(value, torch.Tensor) and value.dtype == torch.float32
    numpy_args = [np.asarray(a, dtype=np.float32) if not isinstance(a, str) else a for a in args]
    for value in as_tuple(mistake.function(*numpy_args)):
        assert isinstance(value, (np.ndarray, np.generic)) and value.dtype == np.float32


def test_the_unmasked_kl_agrees_on_generic_inputs_and_gives_nan_for_a_zero_in_p():
    [unmasked] = [m for m in MISTAKES["kl_discrete"] if m.shows_in == "edge"]
    p, q = generic_args("kl_discrete", np.random.default_rng(2))
    assert not differs(unmasked.function(p, q), sheet02.kl_discrete(p, q))
    p_zero = np.array([0.0, 0.25, 0.75])
    assert np.isnan(unmasked.function(p_zero, np.full(3, 1 / 3)))
    assert np.isfinite(sheet02.kl_discrete(p_zero, np.full(3, 1 / 3)))


def test_the_no_grad_lstm_cell_has_the_right_values_but_no_gradient():
    [no_grad] = [m for m in MISTAKES["lstm_cell"] if m.shows_in == "gradient"]
    args = [torch.tensor(a, requires_grad=True) for a in generic_args("lstm_cell", np.random.default_rng(3))]
    for got, expected in zip(no_grad.function(*args), sheet11.lstm_cell(*args)):
        torch.testing.assert_close(got, expected.detach())
        assert expected.grad_fn is not None and got.grad_fn is None


def test_the_detached_mistake_has_the_right_value_but_no_gradient():
    [detached] = [m for m in MISTAKES["reparameterize"] if m.shows_in == "gradient"]
    args = [torch.tensor(a, requires_grad=True) for a in generic_args("reparameterize", np.random.default_rng(1))]
    got, expected = detached.function(*args), sheet02.reparameterize(*args)
    torch.testing.assert_close(got, expected.detach())
    assert expected.grad_fn is not None and got.grad_fn is None and not got.requires_grad


def test_the_mirrored_pair_fails_the_asymmetry_judge_and_the_reference_pair_passes():
    [mirrored] = MISTAKES["P,Q"]
    P, Q = mirrored.function()
    passed, message = judge_pq_asymmetric(P, Q)
    assert not passed and "equal" in message
    assert judge_pq_asymmetric(sheet02.P, sheet02.Q)[0]


def _autograd_grads(function, mu, log_var, eps):
    mu_t, lv_t = torch.tensor(mu, requires_grad=True), torch.tensor(log_var, requires_grad=True)
    z = function(mu_t, lv_t, torch.tensor(eps))
    if z.requires_grad:
        z.sum().backward()
    return (None if mu_t.grad is None else mu_t.grad.numpy(), None if lv_t.grad is None else lv_t.grad.numpy())


@pytest.mark.parametrize("shapes", [((3,), (3,), (3,)), ((3,), (3,), (5, 3)), ((1, 3), (4, 3), (4, 3))])
def test_the_reparam_gradient_judge_passes_autograd_of_the_reference_and_names_each_mistake(shapes):
    rng = np.random.default_rng(4)
    mu, log_var, eps = (rng.normal(size=shape) for shape in shapes)
    grads = _autograd_grads(sheet02.reparameterize, mu, log_var, eps)
    passed, message = judge_reparam_grads(grads, mu, log_var, eps)
    assert passed, message
    hints = {"reparameterize__sigma_for_log_var": "log_var itself were the standard deviation",
             "reparameterize__var_for_log_var": "exp(log_var) were the standard deviation",
             "reparameterize__detached": "no gradient reached mu"}
    for mistake in MISTAKES["reparameterize"]:
        grads = _autograd_grads(mistake.function, mu, log_var, eps)
        passed, message = judge_reparam_grads(grads, mu, log_var, eps)
        assert not passed and hints[mistake.id] in message, (mistake.id, message)


def test_the_reparam_gradient_judge_reads_a_mapping_and_rejects_wrong_shapes():
    mu, log_var, eps = np.zeros(2), np.zeros(2), np.ones(2)
    assert judge_reparam_grads({"mu": [1.0, 1.0], "log_var": [0.5, 0.5]}, mu, log_var, eps)[0]
    passed, message = judge_reparam_grads({"mu": [1.0], "log_var": [0.5, 0.5]}, mu, log_var, eps)
    assert not passed and "shape" in message
    passed, message = judge_reparam_grads([np.ones(2)], mu, log_var, eps)
    assert not passed and "two gradients" in message

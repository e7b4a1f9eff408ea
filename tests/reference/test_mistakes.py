"""The known mistakes (reference/mistakes.py): each imitates a student-facing function, differs from the reference
on generic inputs (in value, or for graph-cutting mistakes in the gradient), the judges catch the data ones, and
every hint a rubric gives can show on that check's own cases."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.checks.kinds import PlanContext
from grader.rubric.load import load_rubric
from reference import mistakes, sheet02, sheet11
from reference.verdicts import judge_pq_asymmetric

REPO = Path(__file__).resolve().parents[2]
REFERENCE = {**{name: getattr(sheet11, name) for name in ("rnn_jacobian_J", "lstm_cell")},
             **{name: getattr(sheet02, name) for name in ("forget_gate_delta", "kl_discrete", "reparameterize",
                                                          "kl_gaussian_std_normal")}}
# Mistakes standing in for a function: (the function's name, the mistake), from the `name__mistake` convention.
IMITATORS = [(name.split("__")[0], function) for name, function in vars(mistakes).items()
             if callable(function) and "__" in name.strip("_") and function.__module__ == mistakes.__name__]
# Mistakes whose value is right on generic inputs: they show only in the gradient or on the edge case they name.
NOT_IN_VALUE = {mistakes.lstm_cell__no_grad, mistakes.reparameterize__detached, mistakes.kl_discrete__unmasked}


def mistake_id(value) -> str:
    return getattr(value, "__name__", str(value))


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


def test_every_mistake_imitates_a_student_facing_function_and_says_what_went_wrong():
    assert {name for name, _ in IMITATORS} == set(REFERENCE)
    assert len(IMITATORS) >= 3 * len(REFERENCE) - 1
    for _, function in [*IMITATORS, ("P,Q", mistakes.PQ_equal_kl)]:
        assert len(inspect.getdoc(function) or "") > 20, function.__name__


@pytest.mark.parametrize("name, mistake", IMITATORS, ids=mistake_id)
def test_a_mistake_has_the_signature_of_the_function_it_imitates(name, mistake):
    expected = list(inspect.signature(REFERENCE[name]).parameters)
    assert list(inspect.signature(mistake).parameters) == expected


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 100_000))
def test_every_value_mistake_differs_from_the_reference_on_generic_inputs(seed):
    for name, mistake in IMITATORS:
        if mistake in NOT_IN_VALUE:
            continue
        args = generic_args(name, np.random.default_rng(seed))
        assert differs(mistake(*args), REFERENCE[name](*args)), mistake.__name__


@pytest.mark.parametrize("name, mistake", IMITATORS, ids=mistake_id)
def test_mistakes_keep_the_kind_and_dtype_of_their_inputs(name, mistake):
    args = generic_args(name, np.random.default_rng(0))
    torch_args = [torch.tensor(a, dtype=torch.float32) if not isinstance(a, str) else a for a in args]
    for value in as_tuple(mistake(*torch_args)):
        assert isinstance(value, torch.Tensor) and value.dtype == torch.float32
    numpy_args = [np.asarray(a, dtype=np.float32) if not isinstance(a, str) else a for a in args]
    for value in as_tuple(mistake(*numpy_args)):
        assert isinstance(value, (np.ndarray, np.generic)) and value.dtype == np.float32


def test_the_unmasked_kl_agrees_on_generic_inputs_and_gives_nan_for_a_zero_in_p():
    unmasked = mistakes.kl_discrete__unmasked
    p, q = generic_args("kl_discrete", np.random.default_rng(2))
    assert not differs(unmasked(p, q), sheet02.kl_discrete(p, q))
    p_zero = np.array([0.0, 0.25, 0.75])
    assert np.isnan(unmasked(p_zero, np.full(3, 1 / 3)))
    assert np.isfinite(sheet02.kl_discrete(p_zero, np.full(3, 1 / 3)))


def test_the_no_grad_lstm_cell_has_the_right_values_but_no_gradient():
    no_grad = mistakes.lstm_cell__no_grad
    args = [torch.tensor(a, requires_grad=True) for a in generic_args("lstm_cell", np.random.default_rng(3))]
    for got, expected in zip(no_grad(*args), sheet11.lstm_cell(*args)):
        torch.testing.assert_close(got, expected.detach())
        assert expected.grad_fn is not None and got.grad_fn is None


def test_the_detached_mistake_has_the_right_value_but_no_gradient():
    detached = mistakes.reparameterize__detached
    args = [torch.tensor(a, requires_grad=True) for a in generic_args("reparameterize", np.random.default_rng(1))]
    got, expected = detached(*args), sheet02.reparameterize(*args)
    torch.testing.assert_close(got, expected.detach())
    assert expected.grad_fn is not None and got.grad_fn is None and not got.requires_grad


def test_the_mirrored_pair_fails_the_asymmetry_judge_and_the_reference_pair_passes():
    P, Q = mistakes.PQ_equal_kl()
    passed, message = judge_pq_asymmetric(P, Q)
    assert not passed and "equal" in message
    assert judge_pq_asymmetric(sheet02.P, sheet02.Q)[0]


@pytest.mark.parametrize("sheet", ["sheet02", "sheet11"])
def test_every_hint_a_rubric_gives_can_show_on_its_checks_own_cases(sheet):
    """A hint shows when a failing answer equals what its mistake computes: on at least one of the check's cases
    that value must differ from the reference's (else no answer that fails could ever match it)."""
    loaded = load_rubric(REPO / "rubrics" / f"{sheet}.yaml", course_root=REPO)
    context = PlanContext(seed=loaded.rubric.seed, resolve=loaded.resolve)
    hinted = [(question.id, check) for question in loaded.rubric.questions for check in question.checks if check.hints]
    assert hinted
    for question_id, check in hinted:
        plan = check.plan_check(question_id, context)
        for hint in check.hints:
            assert hint.mistake.split(":")[-1] in vars(mistakes), hint.mistake
            assert any(differs(wrong, run.expected) for run in plan.runs for message, wrong in run.mistakes
                       if message == hint.message), (check.id, hint.mistake)

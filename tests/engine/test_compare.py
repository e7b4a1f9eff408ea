"""The comparison policy: right answers in another form pass, wrong ones fail with a reason."""

import numpy as np
import pytest

from grader.checks.compare import compare
from grader.checks.schema import Comparison, Tolerance

POLICY = Comparison()


@pytest.mark.parametrize("got", [
    np.array([[1.0, 0.0], [0.0, 2.0]], dtype=np.float32),
    [[1, 0], [0, 2]],
    np.array([[1.0, 0.0], [0.0, 2.0 + 1e-9]]),
])
def test_other_forms_of_the_right_answer_pass(got):
    assert compare(got, np.diag([1.0, 2.0]), POLICY).equal


def test_singleton_axes_are_ignored_with_squeeze_but_not_exact():
    assert compare(np.array([0.5]), 0.5, POLICY).equal
    exact = Comparison(shape="exact")
    verdict = compare(np.array([0.5]), np.array(0.5), exact)
    assert not verdict.equal and "shape" in verdict.reason


def test_vector_instead_of_matrix_fails_with_the_shapes():
    verdict = compare(np.array([1.0, 2.0]), np.diag([1.0, 2.0]), POLICY)
    assert not verdict.equal and "(2,)" in verdict.reason and "(2, 2)" in verdict.reason


def test_tolerance_is_respected():
    loose = Comparison(tolerance=Tolerance(rtol=1e-2, atol=0))
    assert compare(1.005, 1.0, loose).equal
    assert not compare(1.05, 1.0, loose).equal


def test_infinities_and_nan():
    assert compare(float("inf"), np.inf, POLICY).equal
    assert not compare(-np.inf, np.inf, POLICY).equal
    assert compare(np.nan, np.nan, POLICY).equal
    assert not compare(1.0, np.inf, POLICY).equal


def test_tuples_compare_element_wise_and_accept_lists():
    expected = (np.ones(2), np.zeros(2))
    assert compare([np.ones(2), np.zeros(2)], expected, POLICY).equal
    verdict = compare((np.ones(2), np.ones(2)), expected, POLICY)
    assert not verdict.equal and verdict.reason.startswith("result 2")
    assert "single" in compare(np.ones(2), expected, POLICY).reason


@pytest.mark.parametrize("got, reason", [(None, "return"), ("0.5", "text"), ({"a": 1}, "dict"),
                                         ([[1, 2], [3]], "ragged")])
def test_non_numbers_fail_with_a_reason(got, reason):
    verdict = compare(got, 0.5, POLICY)
    assert not verdict.equal and reason in verdict.reason

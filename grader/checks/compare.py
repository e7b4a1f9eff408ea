"""Compare a student's result with the expected one, by tolerance, with a stated policy.

Policy (the same for every check unless the rubric says otherwise):
- kind: numpy arrays, torch tensors, Python lists and scalars are all accepted (result_kind: any);
- dtype: values are compared in float64 (or complex128), so float32 answers pass within the tolerance;
- shape: with shape: squeeze, singleton axes are ignored ((1,) equals (), (n, 1) equals (n,)); otherwise exact;
- several outputs (the reference returns a tuple) are compared element by element; a list is accepted where a tuple was expected;
- NaN equals NaN, infinities must match in sign, booleans compare as 0/1.
The comparison only ever touches plain data received from the worker, never a student object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.rubric.models import Comparison

SEQUENCE_KINDS = (list, tuple)


@dataclass(frozen=True)
class Verdict:
    equal: bool
    reason: str = ""  # why not, in words a student understands


def compare(got: Any, expected: Any, policy: Comparison) -> Verdict:
    if isinstance(expected, tuple):
        if not isinstance(got, SEQUENCE_KINDS):
            return Verdict(False, f"expected {len(expected)} results (a tuple), got a single {_kind(got)}")
        if len(got) != len(expected):
            return Verdict(False, f"expected {len(expected)} results, got {len(got)}")
        for position, (g, e) in enumerate(zip(got, expected)):
            verdict = compare(g, e, policy)
            if not verdict.equal:
                return Verdict(False, f"result {position + 1}: {verdict.reason}")
        return Verdict(True)
    got_array, problem = as_numeric(got)
    if problem:
        return Verdict(False, problem)
    expected_array, problem = as_numeric(expected)
    if problem:
        raise ValueError(f"the expected value is not numeric: {problem}")
    if policy.shape == "squeeze":
        got_array, expected_array = np.squeeze(got_array), np.squeeze(expected_array)
    if got_array.shape != expected_array.shape:
        return Verdict(False, f"shape {got_array.shape}, expected shape {expected_array.shape}")
    close = np.isclose(got_array, expected_array, rtol=policy.tolerance.rtol, atol=policy.tolerance.atol,
                       equal_nan=True)
    if close.all():
        return Verdict(True)
    wrong = int((~close).sum())
    finite = np.isfinite(got_array) & np.isfinite(expected_array)
    detail = ""
    if finite.any():
        diff = np.abs(got_array - expected_array)[finite]
        detail = f", largest difference {diff.max():.3g}"
    return Verdict(False, f"{wrong} of {close.size} values differ beyond rtol={policy.tolerance.rtol:g}, "
                          f"atol={policy.tolerance.atol:g}{detail}")


def as_numeric(value: Any) -> tuple[np.ndarray | None, str]:
    """A float64/complex128 array from plain data, or a reason why the value is not a number or array."""
    if value is None:
        return None, "the function returned None (is a `return` missing?)"
    if isinstance(value, str):
        return None, f"got the text {value[:80]!r}, expected a number or an array"
    if isinstance(value, dict):
        return None, "got a dict, expected a number or an array"
    try:
        array = np.asarray(value)
    except ValueError:
        return None, "got a ragged nested list, expected a number or an array"
    if array.dtype.kind not in "biufc":
        return None, f"got values of type {array.dtype}, expected numbers"
    return array.astype(np.complex128 if array.dtype.kind == "c" else np.float64), ""


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}"
    return type(value).__name__


def show(value: Any, limit: int = 500) -> str:
    """A value as feedback shows it: short, with shape and dtype for arrays."""
    if isinstance(value, np.ndarray):
        text = np.array2string(value, precision=5, threshold=30, edgeitems=3, suppress_small=True)
        text = f"array{value.shape} {value.dtype}: {text}"
    elif isinstance(value, tuple):
        text = "(" + ", ".join(show(v, limit // max(1, len(value))) for v in value) + ")"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + " …"

"""Compare a student's result with the expected one, by tolerance, with a stated policy.

Policy (the same for every check kind unless the rubric says otherwise):
- kind: numpy arrays, torch tensors, Python lists and scalars are all accepted (result_kind: any);
- dtype: values are compared in float64 (or complex128), so float32 answers pass within the tolerance;
- shape: with shape: squeeze, singleton axes are ignored ((1,) equals (), (n, 1) equals (n,)); otherwise exact;
- 0-d values: a 0-d array or tensor and numpy scalars (np.float64, np.bool_) are the plain number or truth
  value they hold, in every check kind (a yes/no answer given as np.bool_(False) or a 0-d tensor is False);
- several outputs (the reference returns a tuple) are compared element by element; a list is accepted where a tuple was expected;
- infinities: +inf equals +inf and -inf equals -inf, never a finite number however large; NaN equals NaN;
  booleans compare as 0/1. Judges of property checks apply the same rule (reference values of +inf are
  answers like any other);
- input kinds (function checks): a call that raises is retried with the same values in the other array kind
  (numpy <-> torch) and the other float dtype (float64 <-> float32) before the case counts as failed; the
  message names the kind that was used (see grader.checks.inputs.variants).
The comparison only ever touches plain data received from the worker, never a student object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.checks.schema import Comparison

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
    finite = np.isfinite(got_array) & np.isfinite(expected_array) & ~close
    detail = ""
    if finite.any():
        diff = np.abs(got_array - expected_array)[finite]
        detail = f", largest difference {diff.max():.3g}"
    not_finite = ~close & ~finite
    if not_finite.any():
        index = tuple(int(i) for i in np.argwhere(not_finite)[0])
        where = f" at index {index}" if index else ""
        detail += (f"; {int(not_finite.sum())} of them infinite or NaN on one side only "
                   f"(expected {_number(expected_array[index])}, got {_number(got_array[index])}{where})")
    return Verdict(False, f"{wrong} of {close.size} values differ beyond rtol={policy.tolerance.rtol:g}, "
                          f"atol={policy.tolerance.atol:g}{detail}")


def _number(value: Any) -> str:
    value = complex(value) if np.iscomplexobj(value) else float(value)
    if isinstance(value, float) and np.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def plain_scalar(value: Any) -> Any:
    """A value holding one number or truth value (0-d or size-1 array, numpy scalar) as that Python scalar.

    Anything else comes back unchanged. Used wherever a single answer is expected (choice checks, judges).
    """
    if isinstance(value, (np.ndarray, np.generic)) and np.size(value) == 1 and value.dtype.kind in "biufc":
        return np.asarray(value).reshape(()).item()
    return value


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

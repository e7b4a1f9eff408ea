"""Seeded inputs for checks: the rubric says what to generate, this makes the same arrays every time."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from grader.execution.protocol import Argument
from grader.checks.schema import CaseSpec, Generated


@dataclass
class GeneratedCase:
    """The arguments of one call, and grader-only context (e.g. labels) that is never sent to the worker."""

    name: str
    args: tuple[Argument, ...] = ()
    kwargs: tuple[tuple[str, Argument], ...] = ()
    context: dict[str, Any] = field(default_factory=dict)

    def describe(self, limit: int = 600) -> str:
        parts = [_short(a.value) for a in self.args] + [f"{k}={_short(a.value)}" for k, a in self.kwargs]
        text = ", ".join(parts)
        return text if len(text) <= limit else text[:limit] + " …"


ARRAY_KINDS = ("numpy", "list", "torch")
_FLOATS = ("float64", "float32")


@dataclass(frozen=True)
class Variant:
    """The same case in another array kind or float dtype, tried when the call with the rubric's kind raises."""

    case: GeneratedCase
    label: str  # the kinds in words: "torch float32 tensors"
    changes_values: bool  # a float dtype changed, so the reference's result is computed again for it


def describe_kinds(case: GeneratedCase) -> str:
    """What kind of inputs a case passes, in words: "a Python float and numpy float64 arrays"."""
    counts: dict[tuple[str, str], int] = {}
    for argument in [*case.args, *(a for _, a in case.kwargs)]:
        if argument.kind in ARRAY_KINDS:
            noun = {"numpy": "array", "list": "list", "torch": "tensor"}[argument.kind]
            what = "Python" if argument.kind == "list" else f"{argument.kind} {np.asarray(argument.value).dtype}"
        else:
            what, noun = "Python", type(argument.value).__name__
        counts[(what, noun)] = counts.get((what, noun), 0) + 1
    words = [f"{what} {noun}s" if n > 1 else f"{'an' if what[0] in 'aeiou' else 'a'} {what} {noun}"
             for (what, noun), n in counts.items()]
    if not words:
        return "no arguments"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def variants(case: GeneratedCase, *, torch_only: bool = False) -> list[Variant]:
    """The retries of a case whose call raised, in order: the other array kind (numpy <-> torch) with the same
    dtype, then the other float dtype (float64 <-> float32) in the same kind, then in the other kind.

    Python floats become 0-d tensors of that dtype in a torch variant (a function written for tensors calls
    torch functions on every input). torch_only: only torch variants (the case checks gradients).
    """
    arrays = [a for a in [*case.args, *(a for _, a in case.kwargs)] if a.kind in ARRAY_KINDS]
    if not arrays:
        return []
    kinds = {"torch" if a.kind == "torch" else "numpy" for a in arrays}
    floats = {str(np.asarray(a.value).dtype) for a in arrays if np.asarray(a.value).dtype.kind == "f"}
    kind = kinds.pop() if len(kinds) == 1 else None
    dtype = floats.pop() if len(floats) == 1 and floats <= set(_FLOATS) else None
    other_kind = {"numpy": "torch", "torch": "numpy"}.get(kind or "")
    other_dtype = {"float64": "float32", "float32": "float64"}.get(dtype or "")
    plan = [(k, dtype) for k in (kind, other_kind) if k] + [(k, other_dtype) for k in (kind, other_kind)
                                                           if k and other_dtype]
    found, seen = [], {_key(case)}
    for target_kind, target_dtype in plan:
        if torch_only and target_kind != "torch":
            continue
        made = _convert(case, target_kind, target_dtype)
        if _key(made) in seen:
            continue
        seen.add(_key(made))
        found.append(Variant(case=made, label=describe_kinds(made), changes_values=target_dtype != dtype))
    return found


def _convert(case: GeneratedCase, kind: str, dtype: str | None) -> GeneratedCase:
    def one(argument: Argument) -> Argument:
        if argument.kind in ARRAY_KINDS:
            value = np.asarray(argument.value)
            if dtype and value.dtype.kind == "f":
                value = value.astype(dtype)
            return Argument(value=value, kind=kind, requires_grad=argument.requires_grad and kind == "torch")
        if kind == "torch" and type(argument.value) is float:
            return Argument(value=np.asarray(argument.value, dtype=dtype or "float64"), kind="torch")
        return argument

    return GeneratedCase(name=case.name, args=tuple(one(a) for a in case.args),
                         kwargs=tuple((k, one(a)) for k, a in case.kwargs), context=case.context)


def _key(case: GeneratedCase) -> tuple:
    def one(argument: Argument) -> tuple:
        if argument.kind in ARRAY_KINDS or isinstance(argument.value, np.ndarray):
            return argument.kind, str(np.asarray(argument.value).dtype), argument.requires_grad
        return argument.kind, type(argument.value).__name__
    return tuple(one(a) for a in case.args) + tuple((k, *one(a)) for k, a in case.kwargs)


def seeded_rng(*keys: Any) -> np.random.Generator:
    """A generator that depends only on the rubric seed and the check's identity, never on run order."""
    return np.random.default_rng([zlib.crc32(str(k).encode()) for k in keys])


def generate_cases(spec: CaseSpec, rng: np.random.Generator, resolve: Callable[[str], Any]) -> list[GeneratedCase]:
    cases = []
    for repeat in range(spec.repeat):
        name = spec.name if spec.repeat == 1 else f"{spec.name} #{repeat + 1}"
        if spec.generator:
            made = resolve(spec.generator)(rng)
            cases.append(_from_generator(made, name, spec.generator))
            continue
        dims = {key: (value if isinstance(value, int) else int(rng.integers(value[0], value[1] + 1)))
                for key, value in spec.dims.items()}
        args = tuple(make_argument(a, rng, dims) for a in spec.args)
        kwargs = tuple((k, make_argument(a, rng, dims)) for k, a in spec.kwargs.items())
        cases.append(GeneratedCase(name=name, args=args, kwargs=kwargs))
    return cases


def _from_generator(made: Any, name: str, where: str) -> GeneratedCase:
    if isinstance(made, GeneratedCase):
        return GeneratedCase(name=made.name or name, args=made.args, kwargs=made.kwargs, context=made.context)
    raise TypeError(f"generator {where} returned {type(made).__name__}, not a GeneratedCase")


def make_argument(spec: Any, rng: np.random.Generator, dims: dict[str, int]) -> Argument:
    if not isinstance(spec, Generated):
        return Argument(value=spec, kind="python")
    value = _generate(spec, rng, dims)
    if spec.as_ == "python":
        return Argument(value=value.item() if value.ndim == 0 else value.tolist(), kind="python")
    return Argument(value=value, kind=spec.as_, requires_grad=spec.requires_grad)


def _shape(dims_spec: list, dims: dict[str, int]) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) else dim_value(d, dims) for d in dims_spec)


def dim_value(expression: str, dims: dict[str, int]) -> int:
    """A named dimension or a product such as "4*H" (e.g. four stacked blocks)."""
    value = 1
    for factor in expression.replace(" ", "").split("*"):
        value *= int(factor) if factor.isdigit() else dims[factor]
    return value


def _generate(spec: Generated, rng: np.random.Generator, dims: dict[str, int]) -> np.ndarray:
    if spec.value is not None:
        value = np.asarray(spec.value)
    elif spec.normal is not None:
        value = rng.normal(spec.mean, spec.std, size=_shape(spec.normal, dims))
    elif spec.uniform is not None:
        value = rng.uniform(spec.low, spec.high, size=_shape(spec.uniform, dims))
    elif spec.zeros is not None:
        value = np.zeros(_shape(spec.zeros, dims))
    elif spec.ones is not None:
        value = np.ones(_shape(spec.ones, dims))
    elif spec.simplex is not None:
        shape = _shape(spec.simplex, dims)
        value = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1] or None)
    elif spec.integers is not None:
        value = rng.integers(int(spec.low), int(spec.high) + 1, size=_shape(spec.integers, dims))
    else:
        k = spec.spd if isinstance(spec.spd, int) else dim_value(spec.spd, dims)
        value = random_spd(rng, k, spec.condition)
    return value.astype(spec.dtype)


def random_spd(rng: np.random.Generator, k: int, condition: float | None) -> np.ndarray:
    """A symmetric positive definite matrix; with `condition`, its eigenvalues span exactly that ratio."""
    q, _ = np.linalg.qr(rng.normal(size=(k, k)))
    top = condition if condition else 10.0
    eigenvalues = np.logspace(0, np.log10(top), k) if k > 1 else np.array([rng.uniform(0.5, 2.0)])
    matrix = (q * eigenvalues) @ q.T
    return (matrix + matrix.T) / 2


def materialize(argument: Argument) -> Any:
    """The object a grader-side function (reference, mistake) receives for this argument."""
    if argument.kind == "python":
        return argument.value
    value = np.array(argument.value, copy=True)
    if argument.kind == "numpy":
        return value
    if argument.kind == "list":
        return value.tolist()
    import torch

    tensor = torch.from_numpy(value)
    return tensor.requires_grad_(True) if argument.requires_grad else tensor


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        text = np.array2string(value, precision=4, threshold=12, edgeitems=2, suppress_small=True)
        return f"array(shape={value.shape}, dtype={value.dtype}): {' '.join(text.split())}"
    return repr(value)

"""The schema every check kind shares: tolerances, generated arguments, cases, hints, comparison policy.

Validated once, when a rubric is loaded (grader.rubric.models puts the checks into questions and sheets); the
check kinds themselves (model and behaviour, one module each) are in grader.checks.kinds.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

DottedPath = Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$")]
Dim = Union[int, str]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Tolerance(Strict):
    rtol: float = Field(1e-5, ge=0)
    atol: float = Field(1e-6, ge=0)


class Generated(Strict):
    """One generated argument. Exactly one generator field is set; shapes may name dims drawn per case."""

    normal: list[Dim] | None = None
    uniform: list[Dim] | None = None
    zeros: list[Dim] | None = None
    ones: list[Dim] | None = None
    simplex: list[Dim] | None = None
    integers: list[Dim] | None = None
    spd: Dim | None = None
    value: Any = None
    mean: float = 0.0
    std: float = 1.0
    low: float = -1.0
    high: float = 1.0
    condition: float | None = Field(None, gt=1)
    dtype: Literal["float32", "float64", "int64", "int32", "bool"] = "float64"
    as_: Literal["numpy", "torch", "list", "python"] = Field("numpy", alias="as")
    requires_grad: bool = False

    def named_dims(self) -> list[str]:
        shapes = [self.normal, self.uniform, self.zeros, self.ones, self.simplex, self.integers, [self.spd]]
        return [d for shape in shapes if shape for d in shape if isinstance(d, str)]

    @model_validator(mode="after")
    def _one_generator(self) -> Generated:
        chosen = [name for name in ("normal", "uniform", "zeros", "ones", "simplex", "integers", "spd")
                  if getattr(self, name) is not None]
        if self.value is not None:
            chosen.append("value")
        if len(chosen) != 1:
            raise ValueError("give exactly one of normal, uniform, zeros, ones, simplex, integers, spd, value"
                             f" (got {', '.join(chosen) or 'none'})")
        return self


Literal_ = Union[bool, int, float, str, None]
ArgSpec = Union[Generated, Literal_]


class CaseSpec(Strict):
    """Inputs for one or more calls: literal or generated arguments, or a course function that builds them."""

    name: str
    args: list[ArgSpec] = []
    kwargs: dict[str, ArgSpec] = {}
    dims: dict[str, Union[int, tuple[int, int]]] = {}
    repeat: int = Field(1, ge=1, le=1000)
    generator: DottedPath | None = None

    @model_validator(mode="after")
    def _args_or_generator(self) -> CaseSpec:
        if self.generator and (self.args or self.kwargs):
            raise ValueError("a case has either a generator or args/kwargs, not both")
        for arg in [*self.args, *self.kwargs.values()]:
            if not isinstance(arg, Generated):
                continue
            for dim in arg.named_dims():
                for factor in dim.replace(" ", "").split("*"):
                    if not factor.isdigit() and factor not in self.dims:
                        raise ValueError(f"shape names the dimension {factor!r}, which dims does not define")
        return self


class Hint(Strict):
    """A known mistake: when the student's result equals what `mistake` computes, show `message`."""

    mistake: DottedPath
    message: str


class Comparison(Strict):
    tolerance: Tolerance = Tolerance()
    # squeeze: a (1,) and a () result are the same answer; exact: shapes must match as they are.
    shape: Literal["squeeze", "exact"] = "squeeze"
    # any: numpy, torch, list and scalars are all fine; same: the kind the function was given.
    result_kind: Literal["any", "same"] = "any"

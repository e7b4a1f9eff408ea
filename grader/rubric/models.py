"""The rubric schema: what a sheet's questions are worth and how each one is checked.

Everything here is validated once, when the file is loaded; the rest of the engine trusts these types.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from grader.intake.deadline import Deadline, LatePolicy
from grader.intake.naming import NamingRule

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


class CheckBase(Strict):
    """What every check kind has. A kind is a subclass with a `kind` literal, listed in CHECK_MODELS, and its
    behaviour (planning, judging) registered under the same name in grader.checks.kinds.CHECK_KINDS; what the
    loader, the released rubric and the selftest need to know of a kind is asked of the model, below."""

    id: str = Field(pattern=r"^[\w.-]+$")
    points: float = Field(ge=0)
    visibility: Literal["public", "hidden"] = "hidden"
    description: str = ""
    hints: list[Hint] = []

    # Judged from precomputed expected values alone, so its public plans can be released to students.
    precomputable: ClassVar[bool] = False
    # Scored by a tutor, not by the grader.
    tutor_graded: ClassVar[bool] = False

    def student_names(self) -> list[str]:
        """The student-facing names the check reads or calls, as the rubric writes them."""
        return []

    def course_code(self) -> list[tuple[str, str]]:
        """(field, 'module:name' or bare name) of every piece of the course's code the check uses: the hints'
        mistakes, the kind's own (reference, judge), the cases' generators."""
        names = [(f"hints[{i}].mistake", h.mistake) for i, h in enumerate(self.hints)] + self._own_code()
        for case_index, case in enumerate(getattr(self, "cases", [])):
            if case.generator:
                names.append((f"cases[{case_index}].generator", case.generator))
        return names

    def _own_code(self) -> list[tuple[str, str]]:
        return []


class Comparison(Strict):
    tolerance: Tolerance = Tolerance()
    # squeeze: a (1,) and a () result are the same answer; exact: shapes must match as they are.
    shape: Literal["squeeze", "exact"] = "squeeze"
    # any: numpy, torch, list and scalars are all fine; same: the kind the function was given.
    result_kind: Literal["any", "same"] = "any"


class FunctionCheck(CheckBase, Comparison):
    kind: Literal["function"]
    function: str = Field(pattern=r"^[A-Za-z_][\w.]*$")
    reference: DottedPath
    cases: list[CaseSpec] = Field(min_length=1)
    # output: compare the return value; grads: compare d(sum of output)/d(args named in grad_wrt)
    compare: Literal["output", "grads"] = "output"
    grad_wrt: list[Union[int, str]] = []
    call_timeout: float | None = Field(None, gt=0)
    # A call that raises is tried again with the same values in the other array kind (numpy <-> torch) and
    # float dtype (float64 <-> float32) before the case fails; false for a task that demands one kind.
    retry_other_kinds: bool = True
    precomputable: ClassVar[bool] = True

    def student_names(self) -> list[str]:
        return [self.function]

    def _own_code(self) -> list[tuple[str, str]]:
        return [("reference", self.reference)]

    @model_validator(mode="after")
    def _grads_need_inputs(self) -> FunctionCheck:
        if self.compare == "grads" and not self.grad_wrt:
            raise ValueError("compare: grads needs grad_wrt (the arguments to differentiate by)")
        return self


class ValueCheck(CheckBase, Comparison):
    kind: Literal["value"]
    name: str = Field(pattern=r"^[A-Za-z_][\w.]*$")
    expected: Any = None
    reference: DottedPath | None = None
    precomputable: ClassVar[bool] = True

    def student_names(self) -> list[str]:
        return [self.name]

    def _own_code(self) -> list[tuple[str, str]]:
        return [("reference", self.reference)] if self.reference else []

    @model_validator(mode="after")
    def _one_source(self) -> ValueCheck:
        if (self.expected is None) == (self.reference is None):
            raise ValueError("a value check has exactly one of expected or reference")
        return self


DEFAULT_CHOICES = {
    "yes": ["yes", "y", "true", "ja", "j", "1", "correct", "possible"],
    "no": ["no", "n", "false", "nein", "0", "not possible", "impossible"],
}


class ChoiceCheck(CheckBase):
    kind: Literal["choice"]
    name: str = Field(pattern=r"^[A-Za-z_][\w.]*$")
    expected: str
    options: dict[str, list[str]] = DEFAULT_CHOICES
    precomputable: ClassVar[bool] = True

    def student_names(self) -> list[str]:
        return [self.name]

    @model_validator(mode="after")
    def _expected_is_an_option(self) -> ChoiceCheck:
        if self.expected not in self.options:
            raise ValueError(f"expected {self.expected!r} is not one of the options {sorted(self.options)}")
        return self


class PropertyCheck(CheckBase):
    """A probe: collect student values and/or call results, and let a grader-side judge decide."""

    kind: Literal["property"]
    get: list[str] = []
    call: str | None = None
    cases: list[CaseSpec] = []
    grad_wrt: list[Union[int, str]] = []
    judge: DottedPath
    judge_options: dict[str, Any] = {}
    call_timeout: float | None = Field(None, gt=0)

    def student_names(self) -> list[str]:
        return [*self.get, *([self.call] if self.call else [])]

    def _own_code(self) -> list[tuple[str, str]]:
        return [("judge", self.judge)]

    @model_validator(mode="after")
    def _something_to_judge(self) -> PropertyCheck:
        if not self.get and not self.call:
            raise ValueError("a property check needs get (student names) or call (a student callable)")
        if self.call and not self.cases:
            raise ValueError("a property check that calls needs cases")
        return self


class ManualCheck(CheckBase):
    kind: Literal["manual"]
    answer: str | None = None  # key in the model answers file; defaults to the question id
    tutor_graded: ClassVar[bool] = True


# The check kinds: one model each (its behaviour: grader.checks.kinds.CHECK_KINDS under the same name).
CHECK_MODELS: tuple[type[CheckBase], ...] = (FunctionCheck, ValueCheck, ChoiceCheck, PropertyCheck, ManualCheck)
CHECK_KIND_NAMES: tuple[str, ...] = tuple(model.model_fields["kind"].annotation.__args__[0] for model in CHECK_MODELS)
Check = Annotated[Union[CHECK_MODELS], Field(discriminator="kind")]


class Question(Strict):
    id: str = Field(pattern=r"^[\w.]+$")
    title: str = ""
    points: float = Field(gt=0)
    bonus: bool = False
    checks: list[Check] = Field(min_length=1)

    @model_validator(mode="after")
    def _points_add_up(self) -> Question:
        total = sum(check.points for check in self.checks)
        if abs(total - self.points) > 1e-9:
            raise ValueError(f"the checks' points add up to {total:g}, the question is worth {self.points:g}")
        ids = [check.id for check in self.checks]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"check ids used twice: {', '.join(duplicates)}")
        return self


class ExecutionSpec(Strict):
    cell_timeout: float = Field(60, gt=0)
    call_timeout: float = Field(30, gt=0)
    total_timeout: float = Field(900, gt=0)
    memory_mb: int = Field(3072, ge=256)
    max_processes: int = Field(64, ge=4)
    output_limit: int = Field(20_000, ge=1000)
    preload: list[str] = ["numpy"]
    seed: int = 0


_ROUNDING_MODES = {"half_up": ROUND_HALF_UP, "down": ROUND_FLOOR, "up": ROUND_CEILING}


class Rounding(Strict):
    """How a hand-in's final points (after manual scores and the late factor) are rounded for the course
    systems (`grader export`): to a multiple of `step`; half_up rounds 0.5 steps up, down and up always go
    that way. The default keeps every quarter and eighth point and cuts float noise: step 0.01, half_up."""

    step: float = Field(0.01, gt=0, le=100)
    mode: Literal["half_up", "down", "up"] = "half_up"

    @field_validator("step")
    @classmethod
    def _plain_decimal(cls, value: float) -> float:
        if Decimal(str(value)).as_tuple().exponent < -4:
            raise ValueError(f"step {value!r} has more than 4 decimal places (e.g. 0.5, 0.25, 0.01)")
        return value

    def apply(self, points: float) -> Decimal:
        """The points as an exact decimal multiple of step, e.g. 5.625 -> Decimal('5.63') with 0.01, half_up."""
        step = Decimal(str(self.step))
        # Binary floats carry noise (0.1 + 0.2): settle it at 1e-9 steps before rounding to the rubric's step.
        units = (Decimal(repr(float(points))) / step).quantize(Decimal("1e-9"), rounding=ROUND_HALF_EVEN)
        return units.to_integral_value(rounding=_ROUNDING_MODES[self.mode]) * step


class Rubric(Strict):
    sheet: str = Field(pattern=r"^[\w-]+$")
    title: str
    deadline: Deadline
    late_policy: LatePolicy = LatePolicy()
    rounding: Rounding = Rounding()
    naming: NamingRule = NamingRule()
    execution: ExecutionSpec = ExecutionSpec()
    reference_module: str | None = None
    model_answers: str | None = None
    master_notebook: str | None = None  # the model solution with solution markup, relative to the course root
    seed: int = 0
    questions: list[Question] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_questions(self) -> Rubric:
        ids = [q.id for q in self.questions]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"question ids used twice: {', '.join(duplicates)}")
        return self

    @property
    def max_points(self) -> float:
        return sum(q.points for q in self.questions if not q.bonus)

    @property
    def bonus_points(self) -> float:
        return sum(q.points for q in self.questions if q.bonus)

    def question(self, question_id: str) -> Question:
        return next(q for q in self.questions if q.id == question_id)

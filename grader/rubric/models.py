"""The rubric schema: a sheet's questions, what each is worth, and the checks (grader.checks.kinds) that score it.

Everything here is validated once, when the file is loaded; the rest of the engine trusts these types.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from grader.checks.kinds import Check
from grader.checks.schema import Strict
from grader.intake.deadline import Deadline, LatePolicy
from grader.intake.naming import NamingRule

# A name `dask worker --resources "NAME=1"` can declare: no blanks, '=' or ',' that would split it there.
ResourceName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,39}$")]


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
    # What one hand-in needs on a Dask worker (grader/cluster): passed as Dask worker resources, so these
    # hand-ins only go to workers started with them (`dask worker ... --resources "GPU=1"`). Unused locally.
    resources: dict[ResourceName, Annotated[float, Field(gt=0, allow_inf_nan=False)]] = {}
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

"""What a check asks of the worker, what it expects back, and what it concluded.

A CheckPlan is made grader-side before the hand-in runs (inputs generated, expected values computed by the
reference); it holds only plain data, so the public plans can be precomputed into a released rubric and
judged later without the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from grader.checks.inputs import GeneratedCase
from grader.execution.protocol import Reply, Request

if TYPE_CHECKING:  # the kinds import these types to build their plans
    from grader.checks.kinds import CheckBase


@dataclass
class CaseVariant:
    """The case in another array kind or dtype (see inputs.variants), and the reference's result for it."""

    label: str
    case: GeneratedCase
    expected: Any = None


@dataclass
class CaseRun:
    case: GeneratedCase
    key: str
    expected: Any = None
    # (hint message, what that mistake returns on this case): shown when the student's result matches it
    mistakes: list[tuple[str, Any]] = field(default_factory=list)
    variants: list[CaseVariant] = field(default_factory=list)  # the request's alternatives, in order

    def used(self, variant: int) -> tuple[GeneratedCase, Any]:
        """The inputs and expected result of the call that answered (0: as planned, n: the n-th variant)."""
        if 0 < variant <= len(self.variants):
            chosen = self.variants[variant - 1]
            return chosen.case, chosen.expected
        return self.case, self.expected


@dataclass
class CheckPlan:
    question_id: str
    check: CheckBase
    requests: list[Request] = field(default_factory=list)
    runs: list[CaseRun] = field(default_factory=list)
    judge: Callable | None = None
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckResult:
    question_id: str
    check_id: str
    kind: str
    visibility: str
    points: float
    max_points: float
    status: str  # passed | failed | error | pending | not checked
    message: str = ""
    hints: list[str] = field(default_factory=list)
    description: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class Evidence:
    """What a property judge sees: the student's values and call results, as plain data only."""

    values: dict[str, Reply]
    calls: list[tuple[GeneratedCase, Reply]]
    options: dict[str, Any]


@dataclass(frozen=True)
class JudgeVerdict:
    passed: bool
    message: str = ""
    fraction: float | None = None  # partial credit; None means all or nothing


JudgeFunction = Callable[[Evidence], JudgeVerdict]
ReplyMap = dict[str, Reply]

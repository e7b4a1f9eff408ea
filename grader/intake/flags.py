"""Flags that intake attaches to a hand-in for the tutors to act on.

A flag never stops grading by itself: the sheet lets tutors refuse a hand-in that breaks
its rules, so intake only reports exactly what is wrong and leaves the decision to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

FlagCode = Literal[
    "naming",
    "team_size",
    "team_mismatch",
    "duplicate_student",
    "late",
    "time_unknown",
    "unsafe_zip",
    "zip_bomb",
    "corrupt_zip",
    "empty_zip",
    "no_notebook",
    "several_notebooks",
]

# The codes are part of the results format that gradebook and reports read: keep them stable.
FLAG_CODES: Final[frozenset[str]] = frozenset(FlagCode.__args__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Flag:
    """One problem with a hand-in: a stable code and a sentence a tutor can act on."""

    code: FlagCode
    message: str

    def __post_init__(self) -> None:
        if self.code not in FLAG_CODES:
            raise ValueError(f"unknown flag code {self.code!r}; known codes: {', '.join(sorted(FLAG_CODES))}")
        if not self.message:
            raise ValueError(f"flag {self.code!r} needs a message")


@dataclass(frozen=True)
class FlagRecord:
    """A flag as results keep it: intake's codes (above) and the grading's own (timeout, memory, crash,
    broken_notebook, grading_error, similar_to), so the code is not checked against FLAG_CODES."""

    code: str
    message: str

    @classmethod
    def of(cls, flag: Flag) -> FlagRecord:
        return cls(flag.code, flag.message)

"""What one grading of one hand-in produced, as the store keeps it: the hand-in's intake facts, its timing, the
sheet's score and what happened when its code ran, plus the flags and notes for the tutors.

A `GradingRecord` is composed of those parts rather than flat; the read-only properties below are the names the
reports, the export and the store read, so a reader does not have to know which part a fact comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from grader.intake.flags import FlagRecord
from grader.intake.hand_in import TIMING_FLAGS, HandIn, HandInTiming
from grader.intake.team import StudentRecord
from grader.scoring.sheet import QuestionScore


@dataclass
class IntakeFacts:
    """What intake found, as stored: the main file and why, the team, what was ignored or handed in as text."""

    main_file: str | None
    main_file_reason: str
    students: list[StudentRecord] = field(default_factory=list)
    ignored_entries: list[str] = field(default_factory=list)
    written_answers: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, hand_in: HandIn) -> IntakeFacts:
        return cls(hand_in.main_file, hand_in.main_file_reason, list(hand_in.students), list(hand_in.ignored_entries),
                   list(hand_in.written_answers))


@dataclass(frozen=True)
class FailedCell:
    label: str
    status: str
    error: str


@dataclass
class SheetScore:
    """The sheet's result for the hand-in: points per question and check (automatic; tutor checks pending)."""

    questions: list[QuestionScore]
    auto_points: float
    pending_manual: float
    max_points: float
    error: str | None = None  # why the hand-in could not be graded (or the grader failed on it)


@dataclass
class RunFacts:
    """Where the hand-in's code ran and which cells failed."""

    sandbox: str
    protections_off: list[str] = field(default_factory=list)
    failed_cells: list[FailedCell] = field(default_factory=list)


@dataclass
class GradingRecord:
    """Everything one grading learned about one hand-in: what the store keeps."""

    sheet: str
    file_name: str
    folder: str  # the hand-in's output folder name under OUT
    content_sha256: str
    rubric_sha256: str
    engine_version: str
    status: str  # done: the result stands (it may say the hand-in is broken); error: the grader failed, retry
    started_at: datetime
    finished_at: datetime
    intake: IntakeFacts
    timing: HandInTiming
    score: SheetScore
    run: RunFacts
    flags: list[FlagRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    def set_timing(self, timing: HandInTiming) -> None:
        """Take over `timing`: its fields, and its flags in place of the record's late / time_unknown flags."""
        self.timing = timing
        self.flags[:] = with_timing_flags(self.flags, timing.flags)  # in place: callers hold the list

    # --- read access by name (see the module docstring) ---------------------------------------------------

    main_file = property(lambda self: self.intake.main_file)
    main_file_reason = property(lambda self: self.intake.main_file_reason)
    ignored_entries = property(lambda self: self.intake.ignored_entries)
    written_answers = property(lambda self: self.intake.written_answers)
    submitted_at = property(lambda self: self.timing.submitted_at)
    time_source = property(lambda self: self.timing.time_source)
    time_explanation = property(lambda self: self.timing.time_explanation)
    late = property(lambda self: self.timing.late)
    minutes_late = property(lambda self: self.timing.minutes_late)
    days_late = property(lambda self: self.timing.days_late)
    late_factor = property(lambda self: self.timing.late_factor)
    lateness_message = property(lambda self: self.timing.lateness_message)
    deadline = property(lambda self: self.timing.deadline)
    questions = property(lambda self: self.score.questions)
    auto_points = property(lambda self: self.score.auto_points)
    pending_manual = property(lambda self: self.score.pending_manual)
    max_points = property(lambda self: self.score.max_points)
    error = property(lambda self: self.score.error)
    sandbox = property(lambda self: self.run.sandbox)
    protections_off = property(lambda self: self.run.protections_off)
    failed_cells = property(lambda self: self.run.failed_cells)

    @property
    def students(self) -> list[StudentRecord]:
        return self.intake.students

    @students.setter
    def students(self, students: list[StudentRecord]) -> None:
        self.intake.students = students


def with_timing_flags(flags: list[FlagRecord], timing_flags: tuple[FlagRecord, ...]) -> list[FlagRecord]:
    """`flags` with its timing flags replaced by `timing_flags`, where the old ones stood (else at the end)."""
    kept = [f for f in flags if f.code not in TIMING_FLAGS]
    at = next((i for i, f in enumerate(flags) if f.code in TIMING_FLAGS), len(flags))
    at = len([f for f in flags[:at] if f.code not in TIMING_FLAGS])
    return kept[:at] + list(timing_flags) + kept[at:]

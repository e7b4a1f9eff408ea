"""Resume: which hand-ins of a batch the gradebook already has, and their time and lateness brought up to date.

A hand-in is current, and skipped, when its latest stored grading is done and used the same file content, rubric
fingerprint and engine version. A run that is killed loses only the hand-ins that were still running. A skipped
hand-in's time and lateness are still worked out again: a manifest or deadline that came after the grading
updates them (and so the totals) without running any code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from grader.intake.hand_in import HandInTiming, TimingRule, file_sha256, hand_in_name
from grader.scoring.grade import ENGINE_VERSION
from grader.store.gradebook import Gradebook


@dataclass
class Resume:
    """What a batch run does with its hand-ins: grade them (`todo`), or skip them (`skipped`, by name), some of
    those with a new time or lateness stored (`retimed`)."""

    todo: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    retimed: list[str] = field(default_factory=list)


def resume(book: Gradebook, sheet: str, hand_ins: Sequence[Path], timing: TimingRule, *, rubric_sha256: str,
           engine_version: str = ENGINE_VERSION, force: bool = False) -> Resume:
    """Sort `hand_ins` into those to grade and those whose latest grading is current (all to grade when `force`),
    and store the current ones' time and lateness under `timing` where that changed."""
    found = Resume()
    stored_timings = book.timings(sheet)
    for path in hand_ins:
        name = hand_in_name(path)
        if not force and book.is_current(sheet, name, content_sha256=file_sha256(path), rubric_sha256=rubric_sha256,
                                         engine_version=engine_version):
            found.skipped.append(name)
            if retime(book, *stored_timings[name], timing.of(path)):
                found.retimed.append(name)
        else:
            found.todo.append(path)
    return found


def retime(book: Gradebook, grading_id: int, old: HandInTiming, new: HandInTiming) -> bool:
    """Store `new` for the grading `grading_id` of an unchanged hand-in whose time or lateness changed (a manifest
    or deadline that came later), with a note saying what it was before; True when it did."""
    if old.stored() == new.stored():
        return False
    before = "unknown" if old.submitted_at is None else f"{old.lateness_message} (from {old.time_source})"
    book.update_timing(grading_id, new, note=f"hand-in time and lateness updated on {datetime.now(UTC):%Y-%m-%d %H:%M}"
                                            f" UTC without grading again; before: {before}")
    return True

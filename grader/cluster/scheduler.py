"""What a batch's scheduler is: the batch (grader/commands/batch.py) works out what to grade, stores each record
as it arrives and writes the reports; a scheduler only decides where each hand-in is graded.

* `local_scheduler.LocalScheduler`: threads over this machine's sandbox (the warm pool when there is one).
* `dask_scheduler.DaskScheduler`: tasks on the workers of a running Dask cluster.

Both grade a hand-in with the same front doors, `take_in` and then `grade_hand_in` (`BatchContext.grade` here,
`adapter.grade_parcel` on a Dask worker).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from grader.execution.sandbox import Sandbox
from grader.intake.hand_in import IntakeRules, hand_in_name, take_in
from grader.rubric.load import LoadedRubric
from grader.scoring.grade import PlannedSheet, grade_hand_in
from grader.scoring.record import GradingRecord
from grader.store.layout import folder_name


@dataclass(frozen=True)
class BatchContext:
    """What every hand-in's grading in a batch shares; read-only once the batch starts."""

    planned: PlannedSheet | None  # None when the hand-ins are planned and graded elsewhere (a Dask cluster)
    rules: IntakeRules
    sandbox: Sandbox | None  # None when no student code runs on this machine
    out: Path
    # Output folder per hand-in name where it is not folder_name(name), and why (see store.layout.assign_folders).
    folders: dict[str, tuple[str, str]] = field(default_factory=dict)
    loaded: LoadedRubric | None = None

    def folder(self, name: str) -> tuple[str, str]:
        """The hand-in's output folder (OUT/<folder>) and why it is not the usual one ("" when it is)."""
        return self.folders.get(name, (folder_name(name), ""))

    def grade(self, path: Path) -> GradingRecord:
        """Take in and grade one hand-in on this machine (never raises: grade_hand_in turns a grader failure into
        the record)."""
        folder, note = self.folder(hand_in_name(path))
        return grade_hand_in(take_in(path, self.rules, self.out / folder, folder_note=note), self.planned,
                             self.sandbox)  # type: ignore[arg-type]


class GradingProgress(Protocol):
    """The batch's progress line, as a scheduler sees it (grader/commands/progress.py's BatchProgress)."""

    where: Callable[[], str] | None  # where the hand-ins are graded, when that changes during the run

    def started(self, name: str) -> None: ...


class HandInScheduler(Protocol):
    """How the hand-ins of a batch get graded: by threads over the local sandbox, or on a Dask cluster.

    Every scheduler grades a hand-in with the same front doors (take_in, then grade_hand_in) and yields each
    record once, as it completes; the batch alone stores them. `sandbox_name` and `protections_off` describe
    where the code runs (known once `open` has returned)."""

    sandbox: Sandbox | None  # this machine's sandbox for the hand-ins; None when they run elsewhere
    sandbox_name: str
    protections_off: list[str]
    needs_plans: bool  # whether the coordinator's context must hold the planned sheet

    def open(self, loaded: LoadedRubric, rubric_sha256: str, rules: IntakeRules) -> None: ...

    def grade(self, todo: list[Path], context: BatchContext, progress: GradingProgress
              ) -> Iterator[GradingRecord]: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...

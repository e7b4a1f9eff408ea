"""The one place where the cluster meets the engine's per-hand-in grading.

A Dask worker grades a hand-in with exactly the function the local batch calls for each hand-in
(`grader.batch.grade_hand_in`), with a context built from what was shipped: the worker's own copy of the
course (planned once per worker), its warm sandbox, and the time and lateness the coordinator worked out.
Local and cluster runs therefore share one grading code path and differ only in how hand-ins are scheduled.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from grader.batch import _Context, _empty_record, grade_hand_in, hand_in_name, sheet_number
from grader.checks.plan import CheckPlan
from grader.cluster.parcels import HandInParcel
from grader.execution.runner import ExecutionSettings
from grader.execution.sandbox import Sandbox
from grader.gradebook import FailedCell, FlagRecord, GradingRecord, HandInTiming
from grader.grading import execution_settings, plan_checks
from grader.intake.extract import IntakeError, extract_submission
from grader.rubric.load import LoadedRubric, load_rubric


@dataclass(frozen=True)
class PlannedCourse:
    """What a worker needs to grade any hand-in of the sheet: the rubric, the planned checks (expected values
    computed by the reference, grader side), the execution settings and the coordinator's rubric fingerprint."""

    loaded: LoadedRubric
    plans: list[CheckPlan]
    settings: ExecutionSettings
    rubric_sha256: str


def plan_course(course_root: Path, rubric_path: str, rubric_sha256: str) -> PlannedCourse:
    """Load the rubric from the worker's copy of the course and plan every check (runs the reference)."""
    loaded = load_rubric(Path(course_root) / rubric_path, course_root=Path(course_root))
    return PlannedCourse(loaded, plan_checks(loaded), execution_settings(loaded.rubric.execution), rubric_sha256)


def quick_settings(course_root: Path, rubric_path: str) -> tuple[ExecutionSettings, dict[str, float]]:
    """The rubric's execution settings and resources, without importing the reference (enough for the pool)."""
    loaded = load_rubric(Path(course_root) / rubric_path, course_root=Path(course_root), resolve=False)
    return execution_settings(loaded.rubric.execution), dict(loaded.rubric.resources)


class _KnownTiming:
    """The coordinator's time and lateness for the hand-in, in place of the batch's TimingRule (a file's date
    on the worker is when it arrived there)."""

    def __init__(self, timing: HandInTiming) -> None:
        self._timing = timing

    def of(self, path: Path) -> HandInTiming:
        return self._timing


def grade_parcel(parcel: HandInParcel, course: PlannedCourse, sandbox: Sandbox) -> GradingRecord:
    """Check the hand-in's hash, write it to a scratch folder of this worker, grade it, remove the folder."""
    parcel.verify()
    scratch = Path(tempfile.mkdtemp(prefix="grader-cluster-"))
    try:
        path = scratch / "hand-in" / parcel.file_name
        path.parent.mkdir()
        path.write_bytes(parcel.content)
        protections_off = sorted(name for name, on in sandbox.protections().items() if not on)
        timing = _KnownTiming(parcel.timing)
        context = _Context(loaded=course.loaded, plans=course.plans, settings=course.settings, sandbox=sandbox,
                           protections_off=protections_off, timing=timing,  # type: ignore[arg-type]
                           out=scratch / "out", rubric_sha256=course.rubric_sha256,
                           folders={hand_in_name(path): parcel.folder} if parcel.folder else {})
        record = grade_hand_in(path, parcel.sha256, context)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if parcel.out:
        _name_folder_as(record, str(scratch / "out"), parcel.out)
    return record


def _name_folder_as(record: GradingRecord, here: str, there: str) -> None:
    """Messages that name a file of the worker's scratch folder name it in the coordinator's OUT instead."""
    def moved(text: str) -> str:
        return text.replace(here, there)

    record.notes = [moved(note) for note in record.notes]
    record.error = moved(record.error) if record.error else record.error
    record.flags = [FlagRecord(flag.code, moved(flag.message)) for flag in record.flags]
    record.failed_cells = [FailedCell(c.label, c.status, moved(c.error)) for c in record.failed_cells]


def unpack_for_reports(path: Path, record: GradingRecord, out: Path, sheet: str) -> None:
    """The coordinator's OUT/<folder>/files for a hand-in graded elsewhere, as the local batch leaves them
    (the similarity report and the tutors' export read them); unpacked by the same safe intake."""
    files_dir = Path(out) / record.folder / "files"
    if files_dir.exists():
        shutil.rmtree(files_dir)
    try:
        extract_submission(path, files_dir, sheet_hint=sheet_number(sheet))
    except IntakeError:
        pass  # the worker recorded the same intake error in the grading


def failed_record(path: Path, digest: str, context: _Context, error: str, sandbox_name: str) -> GradingRecord:
    """The record of a hand-in the cluster could not grade (its workers died, or a worker could not grade):
    every check unscored and saying why, as the local batch records a grader failure. `context` must hold the
    planned checks; `sandbox_name` is what the workers grade in."""
    record = _empty_record(path, digest, dataclasses.replace(context, sandbox=_Named(sandbox_name)),
                           datetime.now(UTC), error)
    record.error = error
    record.set_timing(context.timing.of(path))
    return record


@dataclass(frozen=True)
class _Named:
    name: str  # the only thing a record takes from its sandbox

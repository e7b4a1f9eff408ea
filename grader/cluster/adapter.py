"""The one place where the cluster meets the engine's front doors: `take_in`, then `grade_hand_in`.

A Dask worker grades a hand-in exactly as the local batch does (grader/cluster/scheduler.py: take_in, then
grade_hand_in(hand_in, planned_sheet, sandbox)), with what was shipped: its own copy of the course (planned once
per worker), its warm sandbox, the intake rules, and the time and lateness the coordinator worked out. Local
and cluster runs therefore share one grading code path and differ only in how hand-ins are scheduled.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.cluster.parcels import HandInParcel
from grader.execution.ran_notebook import FIGURES_FOLDER, FIGURES_JSON, RAN_NOTEBOOK, clear_run_files
from grader.execution.runner import ExecutionSettings
from grader.execution.sandbox import Sandbox
from grader.intake.extract import IntakeError, extract_submission
from grader.intake.flags import FlagRecord
from grader.intake.hand_in import HandInTiming, IntakeRules, take_in
from grader.rubric.load import load_rubric
from grader.scoring.grade import PlannedSheet, grade_hand_in, plan_sheet
from grader.scoring.record import FailedCell, GradingRecord
from grader.scoring.sheet import execution_settings


def plan_course(course_root: Path, rubric_path: str, rubric_sha256: str) -> PlannedSheet:
    """Load the rubric from the worker's copy of the course and plan every check (runs the reference)."""
    loaded = load_rubric(Path(course_root) / rubric_path, course_root=Path(course_root))
    return plan_sheet(loaded, rubric_sha256=rubric_sha256)


def quick_settings(course_root: Path, rubric_path: str) -> tuple[ExecutionSettings, dict[str, float]]:
    """The rubric's execution settings and resources, without importing the reference (enough for the pool)."""
    loaded = load_rubric(Path(course_root) / rubric_path, course_root=Path(course_root), resolve=False)
    return execution_settings(loaded.rubric.execution), dict(loaded.rubric.resources)


class _KnownTiming:
    """The coordinator's time and lateness for the hand-in, in place of the intake rules' TimingRule (a file's
    date on the worker is when it arrived there)."""

    def __init__(self, timing: HandInTiming) -> None:
        self._timing = timing

    def of(self, path: Path) -> HandInTiming:
        return self._timing


def grade_parcel(parcel: HandInParcel, planned: PlannedSheet, rules: IntakeRules, sandbox: Sandbox) -> GradedParcel:
    """Check the hand-in's hash, write it to a scratch folder of this worker, take it in and grade it there, then
    remove the folder."""
    parcel.verify()
    scratch = Path(tempfile.mkdtemp(prefix="grader-cluster-"))
    try:
        path = scratch / "hand-in" / parcel.file_name
        path.parent.mkdir()
        path.write_bytes(parcel.content)
        folder, note = parcel.folder
        known = dataclasses.replace(rules, timing=_KnownTiming(parcel.timing))
        hand_in = take_in(path, known, scratch / "out" / folder, folder_note=note)  # type: ignore[arg-type]
        record = grade_hand_in(hand_in, planned, sandbox)
        run_files = _run_files(scratch / "out" / folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if parcel.out:
        _name_folder_as(record, str(scratch / "out"), parcel.out)
    return GradedParcel(record, run_files)


@dataclass(frozen=True)
class GradedParcel:
    """What a worker sends back: the record, and the files the grading wrote beside it for people to read
    (ran.ipynb, figures/, figures.json: made by the grader from the run's capped outputs, plain bytes)."""

    record: GradingRecord
    run_files: dict[str, bytes]


def _run_files(folder: Path) -> dict[str, bytes]:
    files = {}
    for path in [folder / RAN_NOTEBOOK, folder / FIGURES_JSON, *sorted((folder / FIGURES_FOLDER).glob("*"))]:
        if path.is_file() and not path.is_symlink():
            files[path.relative_to(folder).as_posix()] = path.read_bytes()
    return files


def place_run_files(out: Path, record: GradingRecord, files: dict[str, bytes]) -> None:
    """The worker's ran.ipynb and figures in OUT/<folder>/, where a local run leaves them."""
    folder = Path(out) / record.folder
    clear_run_files(folder)
    for relative, data in files.items():
        parts = Path(relative).parts
        if Path(relative).is_absolute() or ".." in parts \
                or parts[0] not in (RAN_NOTEBOOK, FIGURES_JSON, FIGURES_FOLDER):
            continue  # only the run's own files, inside the hand-in's folder
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _name_folder_as(record: GradingRecord, here: str, there: str) -> None:
    """Messages that name a file of the worker's scratch folder name it in the coordinator's OUT instead."""
    def moved(text: str) -> str:
        return text.replace(here, there)

    record.notes = [moved(note) for note in record.notes]
    record.score.error = moved(record.score.error) if record.score.error else record.score.error
    record.flags = [FlagRecord(flag.code, moved(flag.message)) for flag in record.flags]
    record.run.failed_cells = [FailedCell(c.label, c.status, moved(c.error)) for c in record.run.failed_cells]


def unpack_for_reports(path: Path, record: GradingRecord, out: Path, sheet_number: str | None) -> None:
    """The coordinator's OUT/<folder>/files for a hand-in graded elsewhere, as the local batch leaves them
    (the similarity report and the tutors' export read them); unpacked by the same safe intake."""
    files_dir = Path(out) / record.folder / "files"
    if files_dir.exists():
        shutil.rmtree(files_dir)
    try:
        extract_submission(path, files_dir, sheet_hint=sheet_number)
    except IntakeError:
        pass  # the worker recorded the same intake error in the grading


def failed_record(path: Path, folder: tuple[str, str], planned: PlannedSheet, rules: IntakeRules, out: Path,
                  error: str, sandbox_name: str, protections_off: list[str]) -> GradingRecord:
    """The record of a hand-in the cluster could not grade (its workers died, or a worker could not grade), made
    on the coordinator by the same front doors: taken in here (which also unpacks OUT/<folder>/files), then
    graded as a hand-in that cannot run, so every check is unscored and says why."""
    name, note = folder
    hand_in = dataclasses.replace(take_in(path, rules, Path(out) / name, folder_note=note), not_gradable=error)
    return grade_hand_in(hand_in, planned, _Named(sandbox_name, tuple(protections_off)))  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Named:
    """What a record takes from its sandbox (the workers' name and protections); nothing runs in it."""

    name: str
    off: tuple[str, ...]

    def protections(self) -> dict[str, bool]:
        return {name: False for name in self.off}

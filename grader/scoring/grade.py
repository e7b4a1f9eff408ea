"""Grading one hand-in is one function: `grade_hand_in(hand_in, planned_sheet, sandbox) -> GradingRecord`.

    planned = plan_sheet(loaded, rubric_sha256=rubric_fingerprint(loaded))   # once per batch: runs the reference
    record = grade_hand_in(take_in(path, rules, workdir), planned, sandbox)  # per hand-in, anywhere

It runs the hand-in's main file in the sandbox, judges every planned check on the grader side, scores the sheet
and composes the record from the HandIn and that result. It does not touch the gradebook or the reports, and it
never raises: a grader failure becomes the record's error (status "error", retried next run).

Calling it in another process (a Dask worker): ship the `HandIn` and the `PlannedSheet` (both plain, picklable
grader-side data: they never go to student code), and a `Sandbox` made there (find_sandbox()). The other side
needs the same grader version, the course's packages importable (a property check's judge is pickled as a
reference to its function, e.g. `reference.judging:...`), and `hand_in.files_dir` readable at the same path
(or a HandIn whose files_dir points at a copy made there).
"""

from __future__ import annotations

import traceback
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from grader import __version__
from grader.checks.plan import CheckPlan
from grader.execution.protocol import ProblemCode, RunReport
from grader.execution.runner import ExecutionSettings
from grader.execution.sandbox import Sandbox
from grader.intake.flags import FlagRecord
from grader.intake.hand_in import NO_TIMING, HandIn
from grader.rubric.load import LoadedRubric
from grader.rubric.models import Question
from grader.scoring.record import FailedCell, GradingRecord, IntakeFacts, RunFacts, SheetScore
from grader.rubric.plans import plan_checks
from grader.execution.ran_notebook import RAN_NOTEBOOK, clear_run_files, write_run_files
from grader.text.paths import as_in_hand_in
from grader.scoring.sheet import SubmissionGrade, execution_settings, grade_file, judge

ENGINE_VERSION = __version__
# Failed-cell errors are kept short in the gradebook: the last lines say what went wrong.
CELL_ERROR_CHARS = 1500
# Failed cells stored and shown per hand-in in full; the rest are counted (20,000 failing cells once made a
# 30 MB feedback.md).
MAX_FAILED_CELLS_KEPT = 20


@dataclass(frozen=True)
class PlannedSheet:
    """A sheet ready to grade hand-ins against: its questions, every check's plan (inputs and expected values,
    computed once by the reference), how code runs, and the fingerprint that says when to regrade."""

    sheet: str
    questions: tuple[Question, ...]
    plans: tuple[CheckPlan, ...]
    settings: ExecutionSettings
    max_points: float
    rubric_sha256: str
    engine_version: str = ENGINE_VERSION


def plan_sheet(loaded: LoadedRubric, *, rubric_sha256: str) -> PlannedSheet:
    """Plan every check of the rubric (runs the reference on every case: once per batch)."""
    rubric = loaded.rubric
    return PlannedSheet(sheet=rubric.sheet, questions=tuple(rubric.questions), plans=tuple(plan_checks(loaded)),
                        settings=execution_settings(rubric.execution), max_points=rubric.max_points,
                        rubric_sha256=rubric_sha256)


def grade_hand_in(hand_in: HandIn, planned: PlannedSheet, sandbox: Sandbox) -> GradingRecord:
    """The hand-in graded against the planned sheet: see the module docstring. Never raises."""
    started = datetime.now(UTC)
    try:
        record = _grade(hand_in, planned, sandbox, started)
        folder = hand_in.files_dir.parent if hand_in.files_dir is not None else None
        if folder is not None and not (folder / RAN_NOTEBOOK).is_file():  # not run: ran.ipynb says why
            _write_run_files(record, folder, None, None, [], why_not_run=record.score.error or hand_in.not_gradable)
        return _paths_inside_hand_in(record, [] if folder is None else [hand_in.files_dir, folder])
    except Exception as exc:  # a grader bug for this hand-in must not stop the batch
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        error = f"the grader failed on this hand-in: {detail}"
        record = _record(hand_in, planned, sandbox, _not_graded(planned, hand_in, error), started)
        record.status = "error"
        record.intake, record.timing = IntakeFacts(None, ""), NO_TIMING
        record.flags[:] = [FlagRecord("grading_error", error)]
        record.notes[:] = [traceback.format_exc()[-4000:]]
        return record


def _grade(hand_in: HandIn, planned: PlannedSheet, sandbox: Sandbox, started: datetime) -> GradingRecord:
    main = hand_in.main_path
    if hand_in.not_gradable is not None or main is None:
        return _record(hand_in, planned, sandbox, _not_graded(planned, hand_in, hand_in.not_gradable or ""), started)
    clear_run_files(main.parent.parent if hand_in.files_dir is None else hand_in.files_dir.parent)
    grade = grade_file(main, list(planned.questions), list(planned.plans), sheet=planned.sheet, sandbox=sandbox,
                       settings=planned.settings, files_dir=hand_in.files_dir)
    extra = []
    if grade.error and grade.run is None and grade.other_language:
        extra.append(FlagRecord("other_kernel", grade.error))
    elif grade.error and grade.run is None:
        extra.append(FlagRecord("broken_notebook", f"'{hand_in.main_file}' cannot be run: {grade.error}"))
    extra.extend(run_flags(grade.run))
    record = _record(hand_in, planned, sandbox, grade, started, extra)
    if hand_in.files_dir is not None:
        _write_run_files(record, hand_in.files_dir.parent, main, grade.run, [q.id for q in planned.questions],
                         why_not_run=grade.error)
    return record


def _write_run_files(record: GradingRecord, folder: Path, *args, **kwargs) -> None:
    """ran.ipynb and the figures (grader.execution.ran_notebook); a failure there is a note, never the grading's."""
    try:
        write_run_files(folder, *args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - a report file must not cost the hand-in its grading
        record.notes.append(f"ran.ipynb could not be written: {type(exc).__name__}: {str(exc)[:300]}")


def _paths_inside_hand_in(record: GradingRecord, roots: list[Path]) -> GradingRecord:
    """Notes, flags, cell errors and check messages name files as the hand-in does (`data.csv`), never by the
    server's paths (`OUT/<folder>/files/...`, the runner's `/tmp/grader-run-.../`)."""
    def local(text: str) -> str:
        return as_in_hand_in(text, roots)

    record.notes[:] = [local(note) for note in record.notes]
    record.flags[:] = [FlagRecord(flag.code, local(flag.message)) for flag in record.flags]
    record.run.failed_cells = [FailedCell(c.label, c.status, local(c.error)) for c in record.run.failed_cells]
    if record.score.error:
        record.score.error = local(record.score.error)
    for question in record.score.questions:
        for check in question.checks:
            check.message = local(check.message)
    return record


def _not_graded(planned: PlannedSheet, hand_in: HandIn, reason: str) -> SubmissionGrade:
    return judge(list(planned.questions), list(planned.plans), {}, sheet=planned.sheet, source=hand_in.source.name,
                 run=None, error=reason)


def _record(hand_in: HandIn, planned: PlannedSheet, sandbox: Sandbox, grade: SubmissionGrade, started: datetime,
            run_flagged: list[FlagRecord] | tuple = ()) -> GradingRecord:
    """The record composed from the HandIn and the sheet's result."""
    notes = [*hand_in.notes, *grade.notes]
    run = RunFacts(sandbox=sandbox.name, protections_off=sorted(n for n, on in sandbox.protections().items() if not on))
    if grade.run is not None:
        run.sandbox = grade.run.sandbox  # what the hand-in really ran in (a warm pool may have gone cold)
        notes.extend(p.message for p in grade.run.problems)
        failed = grade.run.failed_cells
        run.failed_cells = [FailedCell(c.label, c.status, (c.error or "")[-CELL_ERROR_CHARS:])
                            for c in failed[:MAX_FAILED_CELLS_KEPT]]
        if len(failed) > MAX_FAILED_CELLS_KEPT:
            rest = Counter(c.status for c in failed[MAX_FAILED_CELLS_KEPT:])
            notes.append(f"{len(failed) - MAX_FAILED_CELLS_KEPT} more cells failed ("
                         + ", ".join(f"{status}: {n}" for status, n in sorted(rest.items()))
                         + f"); only the first {MAX_FAILED_CELLS_KEPT} are listed")
    return GradingRecord(
        sheet=planned.sheet, file_name=hand_in.name, folder=hand_in.folder, content_sha256=hand_in.content_sha256,
        rubric_sha256=planned.rubric_sha256, engine_version=planned.engine_version, status="done",
        started_at=started, finished_at=datetime.now(UTC), intake=IntakeFacts.of(hand_in), timing=hand_in.timing,
        score=SheetScore(grade.questions, grade.auto_points, grade.pending_manual, grade.max_points, grade.error),
        run=run, flags=[*hand_in.flags, *run_flagged], notes=notes)


def run_flags(run: RunReport | None) -> list[FlagRecord]:
    """timeout / memory / crash flags from what happened to the hand-in's code in the sandbox."""
    if run is None:
        return []
    flags: list[FlagRecord] = []
    for cell in sorted(run.cells.values(), key=lambda c: c.index):
        if cell.status == "timeout":
            flags.append(FlagRecord("timeout", f"cell {cell.label}: {cell.error or 'killed at the time limit'}"))
        elif cell.status == "memory":
            flags.append(FlagRecord("memory", f"cell {cell.label} ran out of memory: {cell.error or ''}".strip()))
        elif cell.status in ("crashed", "exit"):
            flags.append(FlagRecord("crash", f"cell {cell.label}: {cell.error or 'the worker died'}"))
    killed = [r.key for r in run.replies.values() if not r.ok and r.killed]
    if killed:
        flags.append(FlagRecord("timeout", f"{len(killed)} check call(s) were killed at the time limit "
                                           f"({', '.join(killed[:5])})"))
    for problem in run.problems:
        if problem.code in _TIMEOUT_PROBLEMS:
            flags.append(FlagRecord("timeout", problem.message))
        elif problem.code in _CRASH_PROBLEMS:
            flags.append(FlagRecord("crash", problem.message))
    return flags


# The run problems that flag a hand-in (a cold sandbox or a worker gone silent between cells do not).
_TIMEOUT_PROBLEMS = frozenset({ProblemCode.TOTAL_TIME_LIMIT})
_CRASH_PROBLEMS = frozenset({ProblemCode.RESTARTS_EXHAUSTED, ProblemCode.DID_NOT_START,
                             ProblemCode.ENDED_BEFORE_ANSWERING})

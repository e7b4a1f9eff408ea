"""Tutors' batch grading: every hand-in of a folder, in parallel, stored as it completes, resumable.

    summary = run_batch(BatchOptions(hand_ins=Path("submissions/sheet02"), sheet="sheet02", out=Path("out")))

A thin loop over the pipeline: plan the sheet once (scoring.plan_sheet), then per hand-in take it in
(intake.take_in) and grade it (scoring.grade_hand_in) in a few threads, store each record as it completes, and
rebuild the reports at the end. Anything that goes wrong for one hand-in (even a grader bug) becomes that
hand-in's recorded error; the batch goes on. The heavy work runs in sandboxed worker processes (a warm pool),
so a few grader threads are enough to keep them busy.

Resume: a hand-in is skipped when its latest stored grading is done and used the same file content, rubric
fingerprint and engine version. A run that is killed loses only the hand-ins that were still running. A skipped
hand-in's time and lateness are still worked out again: a manifest or deadline that came after the grading
updates them (and so the totals) without running any code.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from rich.console import Console

from grader.rubric.fingerprint import rubric_fingerprint
from grader.execution.pool import WarmPool
from grader.execution.sandbox import BubblewrapSandbox, Sandbox, SandboxUnavailable, find_sandbox
from grader.intake.deadline import Deadline, ManifestError, read_manifest
from grader.intake.hand_in import (HandInTiming, IntakeRules, NoHandIns, TimingRule, file_sha256, find_hand_ins,
                                   hand_in_folder, hand_in_name, take_in)
from grader.commands.manual.reading import pdf_text
from grader.commands.progress import BatchProgress
from grader.reports.outputs import write_outputs
from grader.rubric.load import LoadedRubric, RubricError, find_rubric, load_rubric
from grader.scoring.grade import ENGINE_VERSION, PlannedSheet, grade_hand_in, plan_sheet
from grader.scoring.record import GradingRecord
from grader.scoring.sheet import execution_settings
from grader.commands.similarity.run import similarity_after_grading
from grader.store.gradebook import Gradebook, GradebookError
from grader.store.layout import BATCH_FILES, assign_folders, folder_name

MANIFEST_NAME = "manifest.csv"


class BatchError(Exception):
    """A problem with the batch as a whole (no such folder, no rubric, no sandbox); nothing was graded."""


@dataclass(frozen=True)
class BatchOptions:
    hand_ins: Path  # the folder of hand-ins: every file except hidden ones and .csv files
    sheet: str
    out: Path
    course: Path = Path(".")
    jobs: int | None = None  # None: one per core
    force: bool = False  # regrade hand-ins whose content and rubric are unchanged
    db: Path | None = None  # None: OUT/gradebook.db
    manifest: Path | None = None  # None: manifest.csv beside the hand-ins when it exists
    times: Literal["manifest", "mtime"] = "manifest"  # without a manifest row: time unknown, or the file's date
    deadline: Deadline | None = None  # overrides the rubric's deadline
    unsafe_no_sandbox: bool = False  # allow the process fallback when bubblewrap cannot run
    warm: bool = True  # fork workers from warm sandboxed zygotes (grader/execution/pool.py) under bubblewrap
    now: datetime | None = None  # the reports' "now" (model answers unlock after the deadline); None: the clock


@dataclass
class BatchSummary:
    run_id: int
    db_path: Path
    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # graded, but with an error (the hand-in's or the grader's)
    retimed: list[str] = field(default_factory=list)  # skipped, but with a new hand-in time or lateness
    unknown_times: list[str] = field(default_factory=list)  # hand-ins whose time is unknown (no manifest row)
    interrupted: bool = False
    outputs: list[Path] = field(default_factory=list)
    sandbox: str = ""
    protections_off: list[str] = field(default_factory=list)
    similar_pairs: int | None = None  # pairs the similarity report flags (not cleared); None: no report made


@dataclass(frozen=True)
class _Context:
    """What every hand-in's grading shares; read-only once the batch starts."""

    planned: PlannedSheet
    rules: IntakeRules
    sandbox: Sandbox
    out: Path
    # Output folder per hand-in name where it is not folder_name(name), and why (see assign_folders).
    folders: dict[str, tuple[str, str]] = field(default_factory=dict)

    def grade(self, path: Path) -> GradingRecord:
        """Take in and grade one hand-in (never raises: grade_hand_in turns a grader failure into the record)."""
        folder, note = self.folders.get(hand_in_name(path), (folder_name(hand_in_name(path)), ""))
        return grade_hand_in(take_in(path, self.rules, self.out / folder, folder_note=note), self.planned,
                             self.sandbox)


def run_batch(options: BatchOptions, console: Console | None = None) -> BatchSummary:
    """Grade every hand-in of `options.hand_ins` that is not current in the gradebook, then rebuild the outputs.

    Raises BatchError for usage problems. On Ctrl-C the hand-ins still running are dropped (they are graded
    again next time), the run is marked interrupted, the outputs are rebuilt, and the summary says so.
    """
    # Started before anything slow: the zygotes import torch while the course's code is loaded, the hand-ins
    # are hashed and the reference is planned.
    pool = _early_pool(options) if options.warm else None
    try:
        return _run_batch(options, console, pool)
    finally:
        if pool is not None:
            pool.close()


def _run_batch(options: BatchOptions, console: Console | None, pool: WarmPool | None) -> BatchSummary:
    loaded = _load_rubric(options)
    sheet = loaded.rubric.sheet
    if Path(options.out).resolve() == hand_in_folder(options.hand_ins).resolve():
        raise BatchError(f"{options.out}: the outputs need a folder of their own, not the folder of hand-ins")
    try:
        hand_ins = find_hand_ins(options.hand_ins)
    except NoHandIns as exc:
        raise BatchError(str(exc)) from None
    timing = TimingRule(_read_manifest(options, loaded), options.deadline or loaded.rubric.deadline,
                        loaded.rubric.late_policy, use_file_dates=options.times == "mtime")
    sandbox = _find_sandbox(options.unsafe_no_sandbox)
    protections_off = sorted(name for name, on in sandbox.protections().items() if not on)
    jobs = max(1, options.jobs or os.cpu_count() or 1)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    db_path = Path(options.db) if options.db else out / "gradebook.db"
    rubric_sha = rubric_fingerprint(loaded)
    folders = assign_folders([hand_in_name(p) for p in hand_ins], reserved=[*BATCH_FILES, db_path.name])

    try:
        book = Gradebook.open(db_path)
    except GradebookError as exc:
        raise BatchError(str(exc)) from None
    with book:
        summary = BatchSummary(run_id=0, db_path=db_path, sandbox=sandbox.name, protections_off=protections_off)
        todo: list[Path] = []
        stored_timings = book.timings(sheet)
        for path in hand_ins:
            digest = file_sha256(path)
            if not options.force and book.is_current(sheet, hand_in_name(path), content_sha256=digest,
                                                     rubric_sha256=rubric_sha, engine_version=ENGINE_VERSION):
                summary.skipped.append(hand_in_name(path))
                if _retime(book, stored_timings[hand_in_name(path)], timing.of(path)):
                    summary.retimed.append(hand_in_name(path))
            else:
                todo.append(path)
        summary.run_id = book.start_run(sheet=sheet, input_dir=str(Path(options.hand_ins).resolve()),
                                        rubric_sha256=rubric_sha, engine_version=ENGINE_VERSION,
                                        sandbox=sandbox.name, jobs=jobs, forced=options.force)
        status = "failed"
        try:
            if todo:
                # Planning runs the reference on every case: once per batch, and only when there is work.
                rules = IntakeRules(loaded.rubric.naming, timing, IntakeRules.sheet_number_of(sheet), pdf_text)
                context = _Context(planned=plan_sheet(loaded, rubric_sha256=rubric_sha), rules=rules,
                                   sandbox=pool if pool is not None and sandbox is pool.base else sandbox, out=out,
                                   folders=folders)
                _grade_all(todo, context, jobs, book, summary, console)
        except KeyboardInterrupt:  # while planning; _grade_all handles its own
            summary.interrupted = True
        else:
            status = "finished"
        finally:
            if summary.interrupted:
                status = "interrupted"
            book.finish_run(summary.run_id, status=status, graded=len(summary.graded), skipped=len(summary.skipped),
                            failed=len(summary.failed))
        # Similar hand-ins (grader/similarity): flags for tutors in the gradebook; never fails the batch.
        similarity = similarity_after_grading(book, loaded, out, workers=jobs, now=options.now)
        summary.interrupted = summary.interrupted or similarity.interrupted
        if similarity.state is not None and not similarity.state.note:
            summary.similar_pairs = sum(not pair.cleared for pair in similarity.state.pairs)
        results = book.results(sheet)
        summary.unknown_times = [r.record.file_name for r in results if r.record.time_source == "unknown"]
        summary.outputs = write_outputs(results, loaded, out, now=options.now or datetime.now(UTC),
                                        similarity=similarity.state)
    return summary


def _retime(book: Gradebook, stored: tuple[int, HandInTiming], new: HandInTiming) -> bool:
    """Store `new` for an unchanged hand-in whose time or lateness changed (a manifest or deadline that came
    later); True when it did."""
    grading_id, old = stored
    if old.stored() == new.stored():
        return False
    before = "unknown" if old.submitted_at is None else f"{old.lateness_message} (from {old.time_source})"
    book.update_timing(grading_id, new, note=f"hand-in time and lateness updated on {datetime.now(UTC):%Y-%m-%d %H:%M}"
                                            f" UTC without grading again; before: {before}")
    return True


# --- the parallel loop ------------------------------------------------------------------------------------


def _grade_all(todo: list[Path], context: _Context, jobs: int, book: Gradebook, summary: BatchSummary,
               console: Console | None) -> None:
    """Grade in `jobs` threads; the calling thread alone writes to the gradebook, one commit per hand-in."""
    pending: queue.Queue[Path] = queue.Queue()
    for item in todo:
        pending.put(item)
    done: queue.Queue[GradingRecord] = queue.Queue()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                path = pending.get_nowait()
            except queue.Empty:
                return
            progress.started(hand_in_name(path))
            done.put(context.grade(path))

    progress = BatchProgress(console, f"grading {context.planned.sheet}", total=len(todo))
    with progress:
        # Daemon threads: after Ctrl-C the process may exit without waiting for hand-ins still in the sandbox.
        for number in range(min(jobs, len(todo))):
            threading.Thread(target=work, name=f"grade-{number}", daemon=True).start()
        try:
            for _ in range(len(todo)):
                record = _next(done)
                book.record(summary.run_id, record)
                summary.graded.append(record.file_name)
                failed = bool(record.error or record.status == "error")
                if failed:
                    summary.failed.append(record.file_name)
                progress.finished(record.file_name, failed=failed)
        except KeyboardInterrupt:
            stop.set()
            summary.interrupted = True


def _next(done: queue.Queue[GradingRecord]) -> GradingRecord:
    # A timed wait in a loop, so Ctrl-C reaches the main thread promptly.
    while True:
        try:
            return done.get(timeout=0.5)
        except queue.Empty:
            continue


# --- setup ------------------------------------------------------------------------------------------------


def _load_rubric(options: BatchOptions) -> LoadedRubric:
    try:
        return load_rubric(find_rubric(options.sheet, Path(options.course)), course_root=Path(options.course))
    except (FileNotFoundError, RubricError) as exc:
        raise BatchError(str(exc)) from None


def _read_manifest(options: BatchOptions, loaded: LoadedRubric) -> dict[str, datetime] | None:
    path = options.manifest or hand_in_folder(options.hand_ins) / MANIFEST_NAME
    if options.manifest is None and not path.exists():
        return None
    try:
        return read_manifest(path, (options.deadline or loaded.rubric.deadline).time_zone)
    except (ManifestError, FileNotFoundError) as exc:
        raise BatchError(str(exc)) from None


def _early_pool(options: BatchOptions) -> WarmPool | None:
    """Warm zygotes for this rubric's workers (grader/execution/pool.py), one per job; None where bubblewrap
    cannot run or the rubric or folder has a problem (the batch then reports it as usual)."""
    try:
        quick = load_rubric(find_rubric(options.sheet, Path(options.course)), course_root=Path(options.course),
                            resolve=False)
        sandbox = find_sandbox(require=True)
        hand_ins = len(find_hand_ins(options.hand_ins))
    except (FileNotFoundError, RubricError, SandboxUnavailable, NoHandIns):
        return None
    if not isinstance(sandbox, BubblewrapSandbox) or hand_ins == 0:
        return None
    settings = execution_settings(quick.rubric.execution)
    pool = WarmPool(sandbox, slots=min(hand_ins, max(1, options.jobs or os.cpu_count() or 1)),
                    preload=settings.preload)
    pool.prestart(seed=settings.seed, limits=settings.limits)
    return pool


def _find_sandbox(unsafe_no_sandbox: bool) -> Sandbox:
    try:
        return find_sandbox(require=not unsafe_no_sandbox)
    except SandboxUnavailable as exc:
        raise BatchError(f"{exc}. Student code is only run inside bubblewrap; pass --unsafe-no-sandbox to grade "
                         "with the weaker process sandbox (every result will say so).") from None

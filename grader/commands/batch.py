"""Tutors' batch grading: every hand-in of a folder, in parallel, stored as it completes, resumable.

    summary = run_batch(BatchOptions(hand_ins=Path("submissions/sheet02"), sheet="sheet02", out=Path("out")))

A thin loop over the pipeline: load the rubric, find the hand-ins, leave out those the gradebook has current
(store.resume: their time and lateness are still brought up to date), plan the sheet once (scoring.plan_sheet),
grade the rest through a scheduler (cluster.scheduler: threads over this machine's sandbox and warm pool, or a
Dask cluster; each hand-in is intake.take_in + scoring.grade_hand_in), store each record as it completes, and
rebuild the similarity report and the reports at the end. Anything that goes wrong for one hand-in (even a grader
bug) becomes that hand-in's recorded error; the batch goes on. A run that is killed loses only the hand-ins that
were still running.
"""

from __future__ import annotations

import os
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from rich.console import Console

from grader.cluster.errors import ClusterError, SchedulerLost
from grader.cluster.local_scheduler import LocalScheduler
from grader.cluster.scheduler import BatchContext, HandInScheduler
from grader.commands.manual.reading import pdf_text
from grader.commands.progress import BatchProgress
from grader.commands.similarity.run import similarity_after_grading
from grader.execution.local_sandbox import batch_sandbox, early_pool
from grader.execution.pool import WarmPool
from grader.execution.sandbox import SandboxUnavailable
from grader.intake.deadline import Deadline, ManifestError
from grader.intake.hand_in import (IntakeRules, NoHandIns, TimingRule, batch_manifest, find_hand_ins, hand_in_folder,
                                   hand_in_name)
from grader.reports.outputs import write_outputs
from grader.rubric.fingerprint import rubric_fingerprint
from grader.rubric.load import RubricError, load_sheet
from grader.scoring.grade import ENGINE_VERSION, plan_sheet
from grader.scoring.sheet import execution_settings
from grader.store.gradebook import Gradebook, GradebookError
from grader.store.layout import BATCH_FILES, assign_folders
from grader.store.resume import resume

if TYPE_CHECKING:
    from grader.cluster.address import ClusterOptions


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
    cluster: ClusterOptions | None = None  # grade on a Dask cluster (grader/cluster) instead of this machine


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
    lost: str | None = None  # the cluster's scheduler went away midway: what happened, how many are left


def run_batch(options: BatchOptions, console: Console | None = None) -> BatchSummary:
    """Grade every hand-in of `options.hand_ins` that is not current in the gradebook, then rebuild the outputs.

    Raises BatchError for usage problems. On Ctrl-C the hand-ins still running are dropped (they are graded
    again next time), the run is marked interrupted, the outputs are rebuilt, and the summary says so.
    """
    # Started before anything slow: the zygotes import torch while the course's code is loaded, the hand-ins
    # are hashed and the reference is planned.
    pool = _early_pool(options) if options.warm and options.cluster is None else None
    try:
        return _run_batch(options, console, pool)
    finally:
        if pool is not None:
            pool.close()


def _run_batch(options: BatchOptions, console: Console | None, pool: WarmPool | None) -> BatchSummary:
    try:
        loaded = load_sheet(options.sheet, Path(options.course))
        if Path(options.out).resolve() == hand_in_folder(options.hand_ins).resolve():
            raise BatchError(f"{options.out}: the outputs need a folder of their own, not the folder of hand-ins")
        hand_ins = find_hand_ins(options.hand_ins)
        deadline = options.deadline or loaded.rubric.deadline
        manifest = batch_manifest(options.hand_ins, options.manifest, deadline.time_zone)
        jobs = _jobs(options)
        scheduler = _scheduler(options, pool, jobs, console)
    except (FileNotFoundError, RubricError, NoHandIns, ManifestError, SandboxUnavailable) as exc:
        raise BatchError(str(exc)) from None
    timing = TimingRule(manifest, deadline, loaded.rubric.late_policy, use_file_dates=options.times == "mtime")
    sheet, out = loaded.rubric.sheet, Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    db_path = Path(options.db) if options.db else out / "gradebook.db"
    rubric_sha = rubric_fingerprint(loaded)
    folders = assign_folders([hand_in_name(p) for p in hand_ins], reserved=[*BATCH_FILES, db_path.name])

    try:
        book = Gradebook.open(db_path)
    except GradebookError as exc:
        raise BatchError(str(exc)) from None
    with book, closing(scheduler):
        summary = BatchSummary(run_id=0, db_path=db_path)
        selection = resume(book, sheet, hand_ins, timing, rubric_sha256=rubric_sha, force=options.force)
        todo, summary.skipped, summary.retimed = selection.todo, selection.skipped, selection.retimed
        rules = IntakeRules(loaded.rubric.naming, timing, IntakeRules.sheet_number_of(sheet), pdf_text)
        if todo:
            try:
                scheduler.open(loaded, rubric_sha, rules)  # a cluster: connected, its workers ready
            except ClusterError as exc:
                raise BatchError(str(exc)) from None
        summary.sandbox, summary.protections_off = scheduler.sandbox_name, scheduler.protections_off
        summary.run_id = book.start_run(sheet=sheet, input_dir=str(Path(options.hand_ins).resolve()),
                                        rubric_sha256=rubric_sha, engine_version=ENGINE_VERSION,
                                        sandbox=scheduler.sandbox_name, jobs=jobs, forced=options.force)
        status = "failed"
        try:
            if todo:
                # Planning runs the reference on every case: once per batch, and only when there is work.
                # (A cluster's workers plan with their own copy of the course.)
                planned = plan_sheet(loaded, rubric_sha256=rubric_sha) if scheduler.needs_plans else None
                context = BatchContext(planned=planned, rules=rules, sandbox=scheduler.sandbox, out=out,
                                       folders=folders, loaded=loaded)
                _grade_all(todo, context, scheduler, book, summary, console)
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


def _grade_all(todo: list[Path], context: BatchContext, scheduler: HandInScheduler, book: Gradebook,
               summary: BatchSummary, console: Console | None) -> None:
    """Grade through the scheduler; the calling thread alone writes to the gradebook, one commit per hand-in."""
    progress = BatchProgress(console, f"grading {context.loaded.rubric.sheet}", total=len(todo))
    with progress:
        try:
            for record in scheduler.grade(todo, context, progress):
                book.record(summary.run_id, record)
                summary.graded.append(record.file_name)
                failed = bool(record.error or record.status == "error")
                if failed:
                    summary.failed.append(record.file_name)
                progress.finished(record.file_name, failed=failed)
        except KeyboardInterrupt:
            scheduler.stop()
            summary.interrupted = True
        except SchedulerLost as exc:
            scheduler.stop()
            summary.interrupted = True
            summary.lost = f"{exc}; {len(summary.graded)} hand-in(s) graded and stored in this run, " \
                           f"{len(todo) - len(summary.graded)} left"


def _scheduler(options: BatchOptions, pool: WarmPool | None, jobs: int, console: Console | None) -> HandInScheduler:
    """The local threads over this machine's sandbox, or the Dask cluster (which needs no sandbox here)."""
    if options.cluster is None:
        return LocalScheduler(batch_sandbox(allow_process=options.unsafe_no_sandbox), pool, jobs)
    from grader.cluster.dask_scheduler import DaskScheduler

    return DaskScheduler(options.cluster, console, require_sandbox=not options.unsafe_no_sandbox, warm=options.warm)


def _jobs(options: BatchOptions) -> int:
    return max(1, options.jobs or os.cpu_count() or 1)


def _early_pool(options: BatchOptions) -> WarmPool | None:
    """Warm zygotes for this rubric's workers, one per job (None where bubblewrap cannot run or the rubric or
    folder has a problem: the batch then reports it as usual)."""
    try:
        settings = execution_settings(load_sheet(options.sheet, Path(options.course), resolve=False).rubric.execution)
        hand_ins = len(find_hand_ins(options.hand_ins))
    except (FileNotFoundError, RubricError, NoHandIns):
        return None
    return early_pool(slots=min(hand_ins, _jobs(options)), settings=settings) if hand_ins else None

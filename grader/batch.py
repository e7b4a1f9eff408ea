"""Tutors' batch grading: every hand-in of a folder, in parallel, stored as it completes, resumable.

    summary = run_batch(BatchOptions(hand_ins=Path("submissions/sheet02"), sheet="sheet02", out=Path("out")))

Per hand-in: read the team from the file name, apply the late policy, unpack safely, pick the main file,
compare the declared team, run the checks in the sandbox, and turn every problem into a flag. Anything that
goes wrong for one hand-in (even a grader bug) becomes that hand-in's recorded error; the batch goes on.
The heavy work runs in sandboxed worker processes, so a few grader threads are enough to keep them busy.

Resume: a hand-in is skipped when its latest stored grading is done and used the same file content, rubric
fingerprint and engine version. A run that is killed loses only the hand-ins that were still running. A skipped
hand-in's time and lateness are still worked out again: a manifest or deadline that came after the grading
updates them (and so the totals) without running any code.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import shutil
import threading
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from rich.console import Console

from grader import __version__
from grader.checks.plan import CheckPlan
from grader.execution.pool import WarmPool
from grader.execution.runner import ExecutionSettings, RunReport
from grader.execution.sandbox import BubblewrapSandbox, Sandbox, SandboxUnavailable, find_sandbox
from grader.gradebook import (FailedCell, FlagRecord, Gradebook, GradebookError, GradingRecord, HandInTiming,
                              StudentRecord)
from grader.grading import SubmissionGrade, execution_settings, grade_file, judge, plan_checks
from grader.hand_in_paths import as_in_hand_in
from grader.intake.deadline import (Deadline, LatePolicy, ManifestError, assess_lateness, read_manifest,
                                    submission_time)
from grader.intake.extract import IntakeError, extract_submission
from grader.intake.naming import Student, nfc, normalise_student_id, parse_submission_name
from grader.intake.team import TeamMember, TeamReading, compare_team, names_match, parse_team_blocks, read_team, same_id
from grader.pdf_log import pypdf_warnings
from grader.progress import BatchProgress
from grader.reports.outputs import write_outputs
from grader.execution.ran_notebook import RAN_NOTEBOOK, clear_run_files, write_run_files
from grader.rubric.load import LoadedRubric, RubricError, find_rubric, load_rubric
from grader.similarity.run import similarity_after_grading

ENGINE_VERSION = __version__
MANIFEST_NAME = "manifest.csv"
# Failed-cell errors are kept short in the gradebook: the last lines say what went wrong.
_CELL_ERROR_CHARS = 1500
# Failed cells stored and shown per hand-in in full; the rest are counted (20,000 failing cells once made a
# 30 MB feedback.md).
MAX_FAILED_CELLS_KEPT = 20
_PDF_TEAM_PAGES = 2


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
class TimingRule:
    """How a hand-in's time and lateness are found: the manifest, the deadline and late policy, and whether a
    file's date on disk stands in for a missing manifest row."""

    manifest: dict[str, datetime] | None
    deadline: Deadline
    policy: LatePolicy
    use_file_dates: bool = False

    def of(self, path: Path) -> HandInTiming:
        arrived = submission_time(path, self.manifest, use_file_dates=self.use_file_dates)
        lateness = assess_lateness(arrived, self.deadline, self.policy)
        flag = lateness.flag()
        return HandInTiming(arrived.time, arrived.source, arrived.explanation, lateness.late, lateness.minutes_late,
                            lateness.days_late, lateness.factor, lateness.message, self.deadline.model_dump_json(),
                            (FlagRecord(flag.code, flag.message),) if flag is not None else ())


@dataclass(frozen=True)
class _Context:
    """What every hand-in's grading shares; read-only once the batch starts."""

    loaded: LoadedRubric
    plans: list[CheckPlan]
    settings: ExecutionSettings
    sandbox: Sandbox
    protections_off: list[str]
    timing: TimingRule
    out: Path
    rubric_sha256: str
    # Output folder per hand-in name where it is not folder_name(name), and why (see assign_folders).
    folders: dict[str, tuple[str, str]] = field(default_factory=dict)


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
    hand_ins = find_hand_ins(options.hand_ins)
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
        todo: list[tuple[Path, str]] = []
        stored_timings = book.timings(sheet)
        for path in hand_ins:
            digest = file_sha256(path)
            if not options.force and book.is_current(sheet, hand_in_name(path), content_sha256=digest,
                                                     rubric_sha256=rubric_sha, engine_version=ENGINE_VERSION):
                summary.skipped.append(hand_in_name(path))
                if _retime(book, stored_timings[hand_in_name(path)], timing.of(path)):
                    summary.retimed.append(hand_in_name(path))
            else:
                todo.append((path, digest))
        summary.run_id = book.start_run(sheet=sheet, input_dir=str(Path(options.hand_ins).resolve()),
                                        rubric_sha256=rubric_sha, engine_version=ENGINE_VERSION,
                                        sandbox=sandbox.name, jobs=jobs, forced=options.force)
        status = "failed"
        try:
            if todo:
                # Planning runs the reference on every case: once per batch, and only when there is work.
                context = _Context(loaded=loaded, plans=plan_checks(loaded),
                                   settings=execution_settings(loaded.rubric.execution),
                                   sandbox=pool if pool is not None and sandbox is pool.base else sandbox,
                                   protections_off=protections_off, timing=timing, out=out,
                                   rubric_sha256=rubric_sha, folders=folders)
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


def find_hand_ins(path: Path) -> list[Path]:
    """The hand-ins to grade: one file, or every hand-in directly in a folder (all regular files except hidden
    ones and CSV files, i.e. manifests). Raises BatchError when there is none."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() == ".csv":
            raise BatchError(f"{path}: a CSV file is a manifest, not a hand-in; give the hand-in or its folder "
                             "(and the manifest with --manifest)")
        return [path]
    if not path.is_dir():
        raise BatchError(f"{path}: no such hand-in or folder of hand-ins")
    found = [p for p in path.iterdir()
             if p.is_file() and not p.is_symlink() and not p.name.startswith(".") and p.suffix.lower() != ".csv"]
    if not found:
        raise BatchError(f"{path}: no hand-ins in this folder (looked for zips, notebooks and scripts directly in "
                         "it; hidden files and CSV manifests do not count)")
    return sorted(found, key=lambda p: p.name)


def hand_in_folder(path: Path) -> Path:
    """The folder of the hand-ins: `path` itself, or the folder of a single hand-in file."""
    path = Path(path)
    return path.parent if path.is_file() else path


def hand_in_name(path: Path) -> str:
    """The gradebook's key for a hand-in: its file name, NFC-normalised (macOS stores umlauts decomposed)."""
    return nfc(path.name)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def rubric_fingerprint(loaded: LoadedRubric) -> str:
    """sha256 over the rubric file and every .py file of the course packages it names.

    The packages are the top-level ones of `reference_module` and of every 'module:name' in the rubric
    (references, judges, mistakes, generators), so fixing a reference regrades. The model answers are not
    part of it: they only change the feedback, which is rebuilt from the gradebook on every run.
    """
    rubric = loaded.rubric
    text = loaded.path.read_text(encoding="utf-8")
    modules = set(re.findall(r"([A-Za-z_][\w.]*):[A-Za-z_]", text))
    if rubric.reference_module:
        modules.add(rubric.reference_module)
    digest = hashlib.sha256(b"rubric\0" + loaded.path.read_bytes())
    root = Path(loaded.course_root)
    files: set[Path] = set()
    for top in sorted({m.split(".")[0] for m in modules}):
        package, module = root / top, root / f"{top}.py"
        if package.is_dir():
            files.update(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)
        elif module.is_file():
            files.add(module)
    for path in sorted(files):
        digest.update(b"\0" + path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def folder_name(file_name: str) -> str:
    """OUT/<this>/ for a hand-in: the zip's name without .zip; other files keep their ending as '_ext'."""
    stem, dot, ending = file_name.rpartition(".")
    if not dot or not stem:
        return file_name
    return stem if ending.lower() == "zip" else f"{stem}_{ending.lower()}"


def sheet_number(sheet: str) -> str | None:
    """'02' for sheet02: the main-file rule prefers names that mention it."""
    found = re.search(r"\d+", sheet)
    return found.group(0) if found else None


# --- the parallel loop ------------------------------------------------------------------------------------


def _grade_all(todo: list[tuple[Path, str]], context: _Context, jobs: int, book: Gradebook, summary: BatchSummary,
               console: Console | None) -> None:
    """Grade in `jobs` threads; the calling thread alone writes to the gradebook, one commit per hand-in."""
    pending: queue.Queue[tuple[Path, str]] = queue.Queue()
    for item in todo:
        pending.put(item)
    done: queue.Queue[GradingRecord] = queue.Queue()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                path, digest = pending.get_nowait()
            except queue.Empty:
                return
            progress.started(hand_in_name(path))
            done.put(grade_hand_in(path, digest, context))

    progress = BatchProgress(console, f"grading {context.loaded.rubric.sheet}", total=len(todo))
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


# --- one hand-in ------------------------------------------------------------------------------------------


def grade_hand_in(path: Path, digest: str, context: _Context) -> GradingRecord:
    """Everything about one hand-in as a record to store. Never raises: a grader failure is the record's error."""
    started = datetime.now(UTC)
    try:
        record = _grade_hand_in(path, digest, context, started)
        if not (context.out / record.folder / RAN_NOTEBOOK).is_file():  # not run: ran.ipynb says why
            _write_run_files(record, context.out / record.folder, None, None, [], why_not_run=record.error)
        return _paths_inside_hand_in(record, [context.out / record.folder / "files", context.out])
    except Exception as exc:  # a grader bug for this hand-in must not stop the batch
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        error = f"the grader failed on this hand-in: {detail}"
        record = _empty_record(path, digest, context, started, error)
        record.status, record.error = "error", error
        record.flags.append(FlagRecord("grading_error", error))
        record.notes.append(traceback.format_exc()[-4000:])
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

    record.notes = [local(note) for note in record.notes]
    record.flags[:] = [FlagRecord(flag.code, local(flag.message)) for flag in record.flags]
    record.failed_cells = [FailedCell(c.label, c.status, local(c.error)) for c in record.failed_cells]
    if record.error:
        record.error = local(record.error)
    for question in record.questions:
        for check in question.checks:
            check.message = local(check.message)
    return record


def _empty_record(path: Path, digest: str, context: _Context, started: datetime, error: str) -> GradingRecord:
    """A record with every check unscored; grading fills it in step by step."""
    rubric = context.loaded.rubric
    grade = judge(rubric.questions, context.plans, {}, sheet=rubric.sheet, source=path.name, run=None, error=error)
    return GradingRecord(
        sheet=rubric.sheet, file_name=hand_in_name(path),
        folder=context.folders.get(hand_in_name(path), (folder_name(hand_in_name(path)), ""))[0],
        content_sha256=digest,
        rubric_sha256=context.rubric_sha256, engine_version=ENGINE_VERSION, status="done", started_at=started,
        finished_at=datetime.now(UTC), main_file=None, main_file_reason="", submitted_at=None, time_source=None,
        time_explanation="", late=False, minutes_late=0.0, days_late=0, late_factor=1.0, lateness_message="",
        auto_points=0.0, pending_manual=grade.pending_manual, max_points=rubric.max_points, error=None,
        sandbox=context.sandbox.name, protections_off=list(context.protections_off), questions=grade.questions)


def _grade_hand_in(path: Path, digest: str, context: _Context, started: datetime) -> GradingRecord:
    rubric = context.loaded.rubric
    record = _empty_record(path, digest, context, started, "not graded yet")
    flags: list[FlagRecord] = record.flags

    parsed = parse_submission_name(path.name, rubric.naming)
    flags.extend(FlagRecord(f.code, f.message) for f in parsed.problems)
    if hand_in_name(path) in context.folders:
        flags.append(FlagRecord("naming", context.folders[hand_in_name(path)][1]))

    record.set_timing(context.timing.of(path))

    files_dir = context.out / record.folder / "files"
    if files_dir.exists():
        shutil.rmtree(files_dir)  # ours, from an earlier grading of this hand-in
    clear_run_files(files_dir.parent)
    try:
        extracted = extract_submission(path, files_dir, sheet_hint=sheet_number(rubric.sheet))
    except IntakeError as exc:
        flags.append(FlagRecord(exc.flag.code, exc.flag.message))
        record.students = _team_students(parsed.students, [], rubric.naming.id_pattern)
        return _finish(record, _not_graded(context, path, exc.message))

    flags.extend(FlagRecord(f.code, f.message) for f in extracted.flags)
    record.main_file, record.main_file_reason = extracted.main_file, extracted.main_file_reason
    record.ignored_entries = [f"{entry.name}: {entry.reason}" for entry in extracted.ignored]
    record.written_answers = list(extracted.written_answers)

    declared, team_source = _declared_team(files_dir, extracted.main_file, extracted.written_answers, record.notes,
                                           flags)
    if team_source is not None:
        flags.extend(FlagRecord(f.code, f.message) for f in compare_team(parsed.students, declared, team_source))
    record.students = _team_students(parsed.students, declared, rubric.naming.id_pattern)

    if extracted.main_file is None:
        return _finish(record, _not_graded(context, path, extracted.main_file_reason))
    grade = grade_file(files_dir / extracted.main_file, rubric.questions, context.plans, sheet=rubric.sheet,
                       sandbox=context.sandbox, settings=context.settings, files_dir=files_dir)
    _write_run_files(record, files_dir.parent, files_dir / extracted.main_file, grade.run,
                     [q.id for q in rubric.questions], why_not_run=grade.error)
    if grade.error and grade.run is None and grade.other_language:
        flags.append(FlagRecord("other_kernel", grade.error))
    elif grade.error and grade.run is None:
        flags.append(FlagRecord("broken_notebook", f"'{extracted.main_file}' cannot be run: {grade.error}"))
    flags.extend(run_flags(grade.run))
    return _finish(record, grade)


def _not_graded(context: _Context, path: Path, reason: str) -> SubmissionGrade:
    rubric = context.loaded.rubric
    return judge(rubric.questions, context.plans, {}, sheet=rubric.sheet, source=path.name, run=None, error=reason)


def _finish(record: GradingRecord, grade: SubmissionGrade) -> GradingRecord:
    record.questions = grade.questions
    record.auto_points, record.pending_manual, record.max_points = grade.auto_points, grade.pending_manual, \
        grade.max_points
    record.error = grade.error
    record.notes.extend(grade.notes)
    if grade.run is not None:
        record.sandbox = grade.run.sandbox  # what the hand-in really ran in (a warm pool may have gone cold)
        record.notes.extend(grade.run.problems)
        failed = grade.run.failed_cells
        record.failed_cells = [FailedCell(c.label, c.status, (c.error or "")[-_CELL_ERROR_CHARS:])
                               for c in failed[:MAX_FAILED_CELLS_KEPT]]
        if len(failed) > MAX_FAILED_CELLS_KEPT:
            rest = Counter(c.status for c in failed[MAX_FAILED_CELLS_KEPT:])
            record.notes.append(f"{len(failed) - MAX_FAILED_CELLS_KEPT} more cells failed ("
                                + ", ".join(f"{status}: {n}" for status, n in sorted(rest.items()))
                                + f"); only the first {MAX_FAILED_CELLS_KEPT} are listed")
    record.finished_at = datetime.now(UTC)
    return record


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
    killed = [r.key for r in run.replies.values() if not r.ok and (r.error or "").startswith("the call was killed")]
    if killed:
        flags.append(FlagRecord("timeout", f"{len(killed)} check call(s) were killed at the time limit "
                                           f"({', '.join(killed[:5])})"))
    for problem in run.problems:
        if "time limit" in problem:
            flags.append(FlagRecord("timeout", problem))
        elif "restarts" in problem or "did not start" in problem or "ended before" in problem:
            flags.append(FlagRecord("crash", problem))
    return flags


# --- team -------------------------------------------------------------------------------------------------


def _declared_team(files_dir: Path, main_file: str | None, written: Sequence[str], notes: list[str],
                   flags: list[FlagRecord]) -> tuple[list[TeamMember], str | None]:
    """The team the hand-in declares and the file it was read from: the main file first, then written answers
    (text before PDF). (…, None) when no file could be read, so there is nothing to compare. What a team block
    says doubtfully becomes a `team_unclear` flag (never a student)."""
    candidates = ([main_file] if main_file else []) + [w for w in written if not w.lower().endswith(".pdf")] \
        + [w for w in written if w.lower().endswith(".pdf")]
    first_read: str | None = None
    for relative in candidates:
        path = files_dir / relative
        try:
            reading = _pdf_team(path, relative, notes) if path.suffix.lower() == ".pdf" else read_team(path)
        except ValueError as exc:
            notes.append(f"team information: {exc.args[0] if exc.args else exc}")
            continue
        members = reading.members
        if reading.doubts and not any(f.code == "team_unclear" for f in flags):
            flags.append(FlagRecord("team_unclear", f"team information in '{relative}' could not be read for "
                                    f"sure: {'; '.join(reading.doubts[:5])}"
                                    + (f" and {len(reading.doubts) - 5} more" if len(reading.doubts) > 5 else "")
                                    + "; no student was added for it"))
        if members:
            return members, f"'{relative}'"
        first_read = first_read or f"'{relative}'"
    return [], first_read


def _pdf_team(path: Path, relative: str, notes: list[str]) -> TeamReading:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    with pypdf_warnings() as warned:
        try:
            reader = PdfReader(path)
            text = "\n".join(page.extract_text() or "" for page in reader.pages[:_PDF_TEAM_PAGES])
        except (PyPdfError, OSError, ValueError, KeyError) as exc:
            raise ValueError(f"cannot read team information from '{path.name}': not a readable PDF ({exc})") \
                from None
    if warned:
        notes.append(f"'{relative}': the PDF reader warned: {'; '.join(warned)}")
    return parse_team_blocks([text])


def _team_students(named: Sequence[Student], declared: Sequence[TeamMember], id_pattern: str) -> list[StudentRecord]:
    """The file name's students, completed (full name, email) from the declared team; then declared extras.

    A file-name id that breaks the naming rule ("sheet11") gives way to the declared id of the same student.
    """
    unused = list(declared)
    students = []
    for student in named:
        match = None
        if student.student_id:
            match = next((m for m in unused if m.student_id and same_id(m.student_id, student.student_id)), None)
        if match is None and student.name:
            match = next((m for m in unused if m.name and names_match(m.name, student.name)), None)
        if match is None:
            students.append(StudentRecord(normalise_student_id(student.student_id), student.name, None, "file name"))
            continue
        unused.remove(match)
        named_id_ok = student.student_id is not None and re.fullmatch(id_pattern, student.student_id) is not None
        student_id = student.student_id if named_id_ok or not match.student_id else match.student_id
        students.append(StudentRecord(normalise_student_id(student_id), match.name or student.name, match.email,
                                      "file name and hand-in"))
    students.extend(StudentRecord(normalise_student_id(m.student_id), m.name, m.email, "hand-in only") for m in unused)
    return students


# --- setup ------------------------------------------------------------------------------------------------


def assign_folders(names: Sequence[str], reserved: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The hand-ins whose output folder cannot be folder_name(name), with the folder they get and why.

    A folder may not take the name of one of the batch's own files in OUT ("gradebook.db.zip", "summary.html.zip")
    nor, compared as a case-insensitive file system would, the folder of another hand-in ("X.zip" beside
    "X.ZIP"): such a hand-in gets "<folder>__2" (or __3, ...), in the order of the names, and a naming flag.
    One hand-in's name never stops or breaks the batch.
    """
    taken = {name.casefold() for name in reserved} | {f"{name}.tmp".casefold() for name in reserved}
    owner: dict[str, str] = {}
    moved: dict[str, tuple[str, str]] = {}
    for name in sorted(names):
        base = folder = folder_name(name)
        number = 2
        while folder.casefold() in taken or folder.casefold() in owner:
            folder, number = f"{base}__{number}", number + 1
        owner[folder.casefold()] = name
        if folder != base:
            clash = f"the hand-in '{owner[base.casefold()]}'" if base.casefold() in owner else \
                f"the batch's own file '{base}'"
            moved[name] = (folder, f"its output folder would be '{base}', which {clash} already takes: its "
                                   f"results are in '{folder}' instead")
    return moved


# The files grader grade writes into OUT beside the hand-ins' folders.
BATCH_FILES = ("gradebook.db", "gradebook.db-journal", "gradebook.db-wal", "gradebook.db-shm", "gradebook.csv",
               "mistakes.csv", "summary.html")


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
    except (FileNotFoundError, RubricError, SandboxUnavailable, BatchError):
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

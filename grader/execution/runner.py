"""Grader side of execution: start a sandboxed worker, feed it cells and requests, survive whatever it does.

The worker can hang, crash, exit, flood its channel or lie; none of that stops the run. A cell that has to be
killed, crashes the worker or breaks its channel is skipped on a fresh worker; a cell that ends the process
cleanly (sys.exit, os._exit(0)) ends the run there, and the answers defined until then are still asked for.
A function whose calls keep ending the worker is not called again after DEATHS_PER_TARGET deaths.

Nothing the worker sends is trusted: a frame is size- and shape-checked before it is parsed (no pickle, no
object that runs code), a frame that does not fit the protocol's next step counts as the cell breaking the
channel, and the deadlines do not move however much the worker sends.
"""

from __future__ import annotations

import base64
import binascii
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import grader
from grader.execution.limits import ResourceLimits
from grader.execution.program import Program
from grader.execution.protocol import (CELL_STATUSES, MAX_ELEMENTS, WORKER_ARGS, CellOutcome, ProblemCode, Reply,
                                       Request, RunProblem, RunReport, WorkerExit)
from grader.execution.sandbox import Sandbox, scrubbed_env
from grader.execution.wire import FRAME_HEADER, MAX_FRAME_BYTES, WireError, parse_frame, read_exact, write_frame
from grader.text.safe import clean, printable

GRACE_SECONDS = 3.0
STDERR_LIMIT = 8000
DEATHS_PER_TARGET = 2
# Frames the reader may hold before the worker has to wait: a worker that floods its channel fills a pipe,
# not the grader's memory.
QUEUED_FRAMES = 2
# The largest frame an honest worker sends is a reply of MAX_ELEMENTS numbers (about 100 MB as a JSON list,
# 85 MB as a complex128 array); the wire's own cap is twice that.
MAX_REPLY_BYTES = 128 * 2**20
# Figures drawn by the grader's run (issue 19): PNGs only, capped per figure, per cell and per hand-in.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_FIGURE_BYTES = 512_000
MAX_FIGURES_PER_CELL = 4
MAX_FIGURES = 16
# Parsing JSON builds a Python object per '[', '{' and ','; a frame that would build more than a worker's
# largest honest reply (MAX_ELEMENTS numbers, its output and error text) is refused before parsing.
MAX_CONTAINERS = 2**20
MAX_SEPARATORS = 2 * MAX_ELEMENTS
# What the grader keeps of one hand-in's replies, all requests together (a reply alone is capped by the frame
# checks at MAX_ELEMENTS): a channel the hand-in forges frames on cannot make the grader hold more.
MAX_HAND_IN_ELEMENTS = 2 * MAX_ELEMENTS
# Replies up to this size are always kept (a rubric asks a bounded number of questions): a flood of large replies
# to one function does not cost the hand-in its answers to the others.
SMALL_REPLY = 2**16
# Numeric lists longer than this are kept as numpy arrays (8 bytes a number instead of about 32).
LIST_AS_ARRAY = 1024
# Cell output and error text kept per hand-in; past it, errors keep their last SHORT_ERROR characters.
MAX_HAND_IN_TEXT = 1_000_000
SHORT_ERROR = 300


class AwakeClock:
    """Monotonic time minus the time this grader process stood still (every thread frozen: a C extension
    holding the GIL, the process stopped, the machine suspended). A hand-in's time limits are measured on it,
    so a stall caused by another hand-in's grading never counts against this one (issue 13).

    A daemon thread ticks every TICK seconds; a gap longer than TICK + SLACK between two ticks, or since the
    last tick when asked, is a stall. Sleeping threads (a worker that is really hung) do not stop the ticks."""

    TICK = 0.05
    SLACK = 0.2

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stalled = 0.0
        self._last = time.monotonic()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while True:
            time.sleep(self.TICK)
            now = time.monotonic()
            with self._lock:
                self._stalled += max(0.0, now - self._last - self.TICK - self.SLACK)
                self._last = now

    def __call__(self) -> float:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._last = time.monotonic()
                    self._thread = threading.Thread(target=self._run, name="awake-clock", daemon=True)
                    self._thread.start()
        now = time.monotonic()
        with self._lock:
            ongoing = max(0.0, now - self._last - self.TICK - self.SLACK)
            return now - self._stalled - ongoing


awake = AwakeClock()


@dataclass(frozen=True)
class ExecutionSettings:
    cell_timeout: float = 60.0
    call_timeout: float = 30.0
    total_timeout: float = 900.0
    startup_timeout: float = 60.0
    output_limit: int = 20_000
    preload: tuple[str, ...] = ("numpy",)
    seed: int = 0
    max_restarts: int = 8
    limits: ResourceLimits = field(default_factory=ResourceLimits)


class WorkerGone(Exception):
    """The worker process ended, or broke the protocol (tampered=True: junk or an out-of-step frame)."""

    def __init__(self, message: str, *, tampered: bool = False) -> None:
        super().__init__(message)
        self.tampered = tampered


class _Attempt:
    """One worker process: a frame reader thread and helpers to wait for what it says."""

    def __init__(self, sandbox: Sandbox, workdir: Path, settings: ExecutionSettings) -> None:
        self.sandbox = sandbox
        env = scrubbed_env(workdir / ".home", settings.seed)
        (workdir / ".home").mkdir(exist_ok=True)
        package_dir = Path(grader.__file__).resolve().parent
        self.proc = sandbox.launch([sys.executable, *WORKER_ARGS], workdir=workdir,
                                   limits=settings.limits, env=env, visible_readonly=[package_dir])
        # A warm pool that cannot serve a launch gives a cold sandbox: the report says which one really ran.
        self.sandbox_name = getattr(self.proc, "sandbox_name", sandbox.name)
        self.frames: queue.Queue = queue.Queue(maxsize=QUEUED_FRAMES)
        self.closed = False
        self.separators = MAX_SEPARATORS + 2 * settings.output_limit
        self.containers = MAX_CONTAINERS + 2 * settings.output_limit
        self.stderr = bytearray()
        threading.Thread(target=self._read_frames, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_frames(self) -> None:
        try:
            while (frame := self._read_frame()) is not None:
                if not self._put(("frame", frame)):
                    return
            self._put(("eof", None))
        except Exception as exc:  # noqa: BLE001 - whatever the bytes do to the parser, it is the worker's fault
            self._put(("bad", f"{type(exc).__name__}: {exc}"[:300]))

    def _read_frame(self) -> dict | None:
        header = read_exact(self.proc.stdout, FRAME_HEADER.size)
        if header is None:
            return None
        (length,) = FRAME_HEADER.unpack(header)
        if length > min(MAX_FRAME_BYTES, MAX_REPLY_BYTES):
            raise WireError(f"a frame of {length} bytes is more than the {MAX_REPLY_BYTES} allowed")
        payload = read_exact(self.proc.stdout, length)
        if payload is None:
            raise WireError("the stream ended inside a frame")
        containers = payload.count(b"[") + payload.count(b"{")
        separators = payload.count(b",") + payload.count(b":")
        if containers > self.containers or separators > self.separators:
            raise WireError(f"a frame with {containers} lists/objects and {separators} items is larger than "
                            "any honest reply")
        return parse_frame(payload)

    def _put(self, item: tuple) -> bool:
        while not self.closed:
            try:
                self.frames.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _read_stderr(self) -> None:
        for chunk in iter(lambda: self.proc.stderr.read(4096), b""):
            if len(self.stderr) < STDERR_LIMIT:
                self.stderr.extend(chunk[: STDERR_LIMIT - len(self.stderr)])

    def send(self, message: dict) -> None:
        try:
            write_frame(self.proc.stdin, message)
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise WorkerGone(f"the worker stopped reading ({exc.__class__.__name__})") from None

    def receive(self, deadline: float) -> dict | None:
        """The next frame, or None at the deadline (on the awake clock); raises WorkerGone if the process ended
        or sent junk."""
        while True:
            try:
                what, payload = self.frames.get(timeout=min(1.0, max(0.0, deadline - awake())))
                break
            except queue.Empty:
                if awake() >= deadline:
                    return None
        if what == "frame":
            return payload
        if what == "bad":
            raise WorkerGone(f"the worker sent data that is not a valid frame ({payload})", tampered=True)
        raise WorkerGone("the worker process ended")

    def close(self, *, ended: bool = False) -> str:
        """Kill the whole process tree and say how it ended.

        ended: the channel closed, so the process is on its way out; give it a moment to exit by itself
        so that its own exit status is reported rather than our kill.
        """
        self.closed = True
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        if ended:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        return self.sandbox.kill(self.proc).verdict


def run_program(program: Program, requests: list[Request], *, files_dir: Path | None, sandbox: Sandbox,
                settings: ExecutionSettings = ExecutionSettings()) -> RunReport:
    """Run the hand-in's cells, then every request, and collect plain-data results."""
    started, awake_started = time.monotonic(), awake()
    deadline = awake_started + settings.total_timeout
    report = RunReport(cells={}, replies={}, sandbox=sandbox.name, protections=sandbox.protections())
    used: list[str] = []  # the sandboxes the attempts really ran in
    skip: set[int] = set()
    stop_before: int | None = None
    pending = list(requests)
    cells_known_good = False
    folder = _folder_within(program.path, files_dir)
    deaths: dict[str, int] = {}

    while True:
        if awake() >= deadline:
            report.problems.append(RunProblem(ProblemCode.TOTAL_TIME_LIMIT,
                                              f"total time limit of {settings.total_timeout:g} s exceeded"))
            break
        if report.restarts > settings.max_restarts:
            report.problems.append(RunProblem(ProblemCode.RESTARTS_EXHAUSTED,
                                              f"gave up after {settings.max_restarts} restarts of the worker"))
            break
        workdir = Path(tempfile.mkdtemp(prefix="grader-run-"))
        try:
            if files_dir is not None:
                shutil.copytree(files_dir, workdir, dirs_exist_ok=True, symlinks=True)
            attempt = _Attempt(sandbox, workdir, settings)
            if attempt.sandbox_name not in used:
                used.append(attempt.sandbox_name)
            outcome = _drive(attempt, program, pending, report, skip, stop_before, deadline, settings,
                             record_cells=not cells_known_good, folder=folder)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if outcome.kind == "done":
            break
        report.restarts += 1
        if outcome.kind == "cell":
            cells_known_good = False
            if outcome.exited_cleanly:
                stop_before = outcome.cell
            else:
                skip.add(outcome.cell)
        elif outcome.kind == "request":
            cells_known_good = True
            _count_death(outcome.request, pending, report, deaths)
            pending = [r for r in pending if r.key not in report.replies]
        elif outcome.kind == "startup":
            report.problems.append(outcome.problem)
            break

    for request in pending:
        report.replies.setdefault(request.key, Reply(request.key, ok=False,
                                                     error="not run: " + "; ".join(
                                                         [p.message for p in report.problems] or ["the worker stopped"])))
    for cell in program.cells:
        report.cells.setdefault(cell.index, CellOutcome(cell.index, cell.label, "not run"))
    if used:
        report.sandbox = "+".join(used)
    if any(name != sandbox.name for name in used):
        why = getattr(sandbox, "broken", None)
        report.problems.append(RunProblem(ProblemCode.COLD_SANDBOX, (
            f"ran in a cold {'/'.join(n for n in used if n != sandbox.name)} sandbox instead of the {sandbox.name}"
            + (f": {why}" if why else ""))))
    report.wall_seconds = time.monotonic() - started
    return report


def _count_death(request: Request | None, pending: list[Request], report: RunReport, deaths: dict[str, int]) -> None:
    """A call ended the worker: after DEATHS_PER_TARGET such calls, the function's other cases are not run.

    Without this, one function that exits on every call would use up the restarts, and the questions
    asked after it would go unanswered.
    """
    if request is None:
        return
    deaths[request.target] = deaths.get(request.target, 0) + 1
    if deaths[request.target] < DEATHS_PER_TARGET:
        return
    for other in pending:
        if other.target == request.target and other.key not in report.replies:
            report.replies[other.key] = Reply(other.key, ok=False, error=(
                f"not run: calls to `{request.target}` ended the worker or had to be killed "
                f"{deaths[request.target]} times"))


@dataclass
class _Outcome:
    kind: str  # done | cell | request | startup
    cell: int | None = None
    exited_cleanly: bool = False
    problem: RunProblem | None = None  # kind "startup": why the run stops
    request: Request | None = None  # kind "request": the call that ended the worker


def _folder_within(path: Path, files_dir: Path | None) -> str:
    """The hand-in file's folder relative to the files copied for the run ("" for their top): the worker works
    there and imports the hand-in's own modules from it."""
    if files_dir is None:
        return ""
    try:
        folder = Path(path).resolve().parent.relative_to(Path(files_dir).resolve()).as_posix()
    except ValueError:
        return ""
    return "" if folder == "." else folder


def _drive(attempt: _Attempt, program: Program, pending: list[Request], report: RunReport, skip: set[int],
           stop_before: int | None, deadline: float, settings: ExecutionSettings,
           record_cells: bool, folder: str = "") -> _Outcome:
    labels = {c.index: c.label for c in program.cells}
    current: int | None = None
    last = -1
    try:
        attempt.send({"op": "init", "cells": [{"index": c.index, "label": c.label, "source": c.source}
                                              for c in program.cells],
                      "skip": sorted(skip), "stop_before": stop_before, "cell_timeout": settings.cell_timeout,
                      "output_limit": settings.output_limit, "seed": settings.seed, "folder": folder,
                      "preload": _preload(settings, pending)})
        message = attempt.receive(min(deadline, awake() + settings.startup_timeout))
        if message is None or message.get("event") != "started":
            verdict = attempt.close()
            return _Outcome("startup", problem=RunProblem(ProblemCode.DID_NOT_START, (
                f"the worker did not start ({verdict}): {attempt.stderr.decode(errors='replace')[-2000:]}")))
        # Set when a step starts and never moved by what the worker sends, so a flood cannot hold the run.
        step_deadline = awake() + settings.startup_timeout
        while True:
            message = attempt.receive(min(deadline, step_deadline))
            if message is None:
                attempt.close()
                if current is None:
                    return _Outcome("startup", problem=RunProblem(ProblemCode.WENT_SILENT,
                                                                  "the worker went silent between cells"))
                if record_cells:
                    report.cells[current] = CellOutcome(current, labels[current], "timeout",
                                                        f"cell killed after {settings.cell_timeout:g} s")
                return _Outcome("cell", cell=current)
            event, index = message.get("event"), message.get("index")
            if current is None and event == "cell_start" and index in labels and index > last:
                current = last = index
                step_deadline = awake() + settings.cell_timeout + GRACE_SECONDS
            elif current is not None and event == "cell_end" and index == current \
                    and message.get("status") in CELL_STATUSES:
                if record_cells:
                    report.cells[index] = _kept(report, CellOutcome(
                        index, labels[index], message["status"], _text(message.get("error")),
                        _text(message.get("output")), _seconds(message.get("seconds")),
                        checked_figures(message.get("figures"), message.get("figures_dropped"), report,
                                        labels[index])))
                current = None
                step_deadline = awake() + settings.startup_timeout
            elif current is None and event == "ready":
                ignored = message.get("ignored_magics")
                if isinstance(ignored, list):
                    report.ignored_magics = [_text(x, 200) for x in ignored[:50]]
                break
            else:
                raise WorkerGone(f"the worker sent {_summary(message)} out of turn", tampered=True)
        return _serve_requests(attempt, pending, report, deadline, settings)
    except WorkerGone as gone:
        verdict = attempt.close(ended=not gone.tampered)
        if current is None:
            if pending and not any(r.key in report.replies for r in pending):
                # Died between cells and requests: nothing specific to skip; grade with what we have.
                report.problems.append(RunProblem(ProblemCode.ENDED_BEFORE_ANSWERING,
                                                  f"the worker ended before answering ({verdict})"))
            return _Outcome("done")
        clean = verdict == "ok" and not gone.tampered
        status = "exit" if clean else ("memory" if "memory" in verdict else "crashed")
        if clean and _is_last_cell(program, current, skip, stop_before):
            # os._exit(0) as the hand-in's last act ended it cleanly: nothing was cut short.
            if record_cells:
                report.cells[current] = CellOutcome(current, labels[current], "ok")
            return _Outcome("cell", cell=current, exited_cleanly=True)
        if record_cells:
            report.cells[current] = CellOutcome(current, labels[current], status,
                                                _death_detail(verdict, gone, attempt.stderr))
        return _Outcome("cell", cell=current, exited_cleanly=clean)


def checked_figures(sent: Any, dropped: Any, report: RunReport, label: str) -> list[bytes]:
    """The PNGs a cell's message carries, as bytes, each checked: strict base64, the PNG signature, at most
    MAX_FIGURE_BYTES; at most MAX_FIGURES_PER_CELL per cell and MAX_FIGURES per hand-in. Anything else is left
    out with a problem noted. Nothing is decoded beyond base64: the grader never opens the image."""
    figures: list[bytes] = []
    left_out = dropped if isinstance(dropped, int) and 0 < dropped < 10**6 else 0
    for item in sent if isinstance(sent, list) else []:
        if len(figures) >= MAX_FIGURES_PER_CELL or report.figures_kept >= MAX_FIGURES:
            left_out += 1
            continue
        try:
            data = base64.b64decode(item, validate=True) if isinstance(item, str) else b""
        except (ValueError, binascii.Error):
            data = b""
        if not data.startswith(PNG_SIGNATURE) or len(data) > MAX_FIGURE_BYTES:
            left_out += 1
            continue
        figures.append(data)
        report.figures_kept += 1
    if left_out:
        report.problems.append(RunProblem(ProblemCode.FIGURES_LEFT_OUT, (
            f"cell {label}: {left_out} figure(s) left out (more than {MAX_FIGURES_PER_CELL} per cell or "
            f"{MAX_FIGURES} per hand-in, over {MAX_FIGURE_BYTES // 1000} kB, or not a PNG)")))
    return figures


def _kept(report: RunReport, cell: CellOutcome) -> CellOutcome:
    """The cell as the report keeps it: once a hand-in's outputs and errors add up to MAX_HAND_IN_TEXT
    characters (20,000 printing cells would otherwise be 400 MB), later ones keep only a short error."""
    room = max(0, MAX_HAND_IN_TEXT - report.text_kept)
    error, output = cell.error or "", cell.output
    if len(error) + len(output) > room:
        error = error[-max(room, SHORT_ERROR):]
        output = output[:max(0, room - len(error))]
        if len(output) < len(cell.output):
            output += "\n[more output not kept: the hand-in's outputs reached the grader's limit]"
    report.text_kept += len(error) + len(output)
    cell.error = error if cell.error is not None else None
    cell.output = output
    return cell


def _is_last_cell(program: Program, index: int, skip: set[int], stop_before: int | None) -> bool:
    later = [c for c in program.cells if c.index > index and c.index not in skip
             and (stop_before is None or c.index < stop_before)]
    return not later


def _preload(settings: ExecutionSettings, requests: list[Request]) -> list[str]:
    """The rubric's preload, plus torch when a request passes tensors: imported before any student code runs,
    so that nothing a cell changes (the import machinery, the traceback module) can break the import later."""
    modules = list(settings.preload)
    passes_tensors = any(a.kind == "torch" for r in requests for a in r.arguments())
    if passes_tensors and "torch" not in modules:
        modules.append("torch")
    return modules


def _death_detail(verdict: str, gone: WorkerGone, stderr: bytes) -> str:
    """Why the worker died in a cell, in words for the feedback."""
    if gone.tampered:
        return printable(f"the cell wrote to or broke the worker's channel to the grader; it was skipped ({gone})")
    if verdict == "ok":
        return "the code ended the process (os._exit or similar); later cells were not run"
    if verdict == f"exit status {int(WorkerExit.PROTOCOL_LOST)}":
        return "the cell closed or broke the worker's channel to the grader; it was skipped"
    if verdict == f"exit status {int(WorkerExit.WORKER_FAILED)}":
        said = printable(stderr.decode(errors="replace")[-1500:].strip())
        return ("the worker failed after this cell (it changed something the worker needs); it was skipped"
                + (f"\n{said}" if said else ""))
    return printable(f"the worker died in this cell: {verdict} ({gone})")


def _serve_requests(attempt: _Attempt, pending: list[Request], report: RunReport, deadline: float,
                    settings: ExecutionSettings) -> _Outcome:
    for request in pending:
        if request.key in report.replies:
            continue
        timeout = request.timeout or settings.call_timeout
        try:
            attempt.send(request.to_wire(timeout))
            message = attempt.receive(min(deadline, awake() + timeout + GRACE_SECONDS))
            if message is not None and message.get("key") != request.key:
                raise WorkerGone(f"the worker sent {_summary(message)} instead of this call's answer", tampered=True)
        except WorkerGone as gone:
            verdict = attempt.close(ended=not gone.tampered)
            error = (f"the worker's channel was tampered with during this call ({gone})" if gone.tampered
                     else f"the worker died during this call: {verdict} ({gone})")
            report.replies[request.key] = Reply(request.key, ok=False, error=error)
            return _Outcome("request", request=request)
        if message is None:
            attempt.close()
            report.replies[request.key] = Reply(request.key, ok=False,
                                                error=f"the call was killed after {timeout:g} s", killed=True)
            return _Outcome("request", request=request)
        report.replies[request.key] = _bounded(_parse_reply(request.key, message), report)
    try:
        attempt.send({"op": "quit"})
    except WorkerGone:
        pass
    attempt.close(ended=True)
    return _Outcome("done")


def _summary(message: dict) -> str:
    """A frame named for an error message, without repeating what the worker put in it."""
    fields = _text(", ".join(sorted(str(k)[:20] for k in list(message)[:6])))
    return f"a frame with fields ({fields})"


def _seconds(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _parse_reply(key: str, message: dict) -> Reply:
    """Accept only the reply shapes the worker produces; anything else counts as the student's error."""
    if message.get("key") != key:
        return Reply(key, ok=False, error="the worker answered a different request (its channel was tampered with)")
    attempts = message.get("attempt_errors")
    attempt_errors = [_text(e, 2000) or "" for e in attempts[:8]] if isinstance(attempts, list) else []
    if not message.get("ok"):
        return Reply(key, ok=False, error=_text(message.get("error")) or "the call failed",
                     attempt_errors=attempt_errors)
    variant = message.get("variant", 0)
    variant = variant if isinstance(variant, int) and not isinstance(variant, bool) and 0 <= variant <= 8 else 0
    grads = message.get("grads")
    if grads is not None and not (isinstance(grads, dict) and _is_plain(grads)):
        grads = None
    value = message.get("value")
    if not _is_plain(value):
        return Reply(key, ok=False, error="the reply held a value that is not plain data")
    forged = _forged_shape(message, value)
    if forged:
        return Reply(key, ok=False, error=f"the reply is not one the worker sends ({forged}): its channel was "
                                          "tampered with")
    return Reply(key, ok=True, value=clean(value), kind=_text(message.get("kind")),
                 type_name=_text(message.get("type")), grads=clean(grads), variant=variant,
                 attempt_errors=attempt_errors)


def _bounded(reply: Reply, report: RunReport) -> Reply:
    """The reply within the element budgets (one reply, the whole hand-in), long numeric lists as arrays."""
    if not reply.ok:
        return reply
    count = element_count(reply.value) + (element_count(reply.grads) if reply.grads else 0)
    if count > MAX_ELEMENTS:
        return Reply(reply.key, ok=False, error=f"the reply holds {count} elements, more than the {MAX_ELEMENTS} "
                                                "a worker may send (its channel was tampered with)")
    if count > SMALL_REPLY:
        if report.reply_elements + count > MAX_HAND_IN_ELEMENTS:
            return Reply(reply.key, ok=False, error=f"the hand-in's large replies hold more than "
                                                    f"{MAX_HAND_IN_ELEMENTS} elements together; this one was not kept")
        report.reply_elements += count
    reply.value = _lists_as_arrays(reply.value)
    if reply.grads:
        reply.grads = _lists_as_arrays(reply.grads)
    return reply


def element_count(value: Any) -> int:
    """Numbers and containers in a reply, as the worker's budget counts them (text: 8 characters each)."""
    if isinstance(value, np.ndarray):
        return max(1, value.size)
    if isinstance(value, str):
        return 1 + len(value) // 8
    if isinstance(value, (list, tuple)):
        return 1 + sum(element_count(item) for item in value)
    if isinstance(value, dict):
        return 1 + sum(element_count(item) for item in value.values())
    return 1


def _lists_as_arrays(value: Any) -> Any:
    """A long list of plain numbers (one dtype kind) as a numpy array: what is compared is the same, and the
    grader holds 8 bytes a number instead of a Python object each."""
    if isinstance(value, list):
        if len(value) > LIST_AS_ARRAY:
            kinds = {type(item) for item in value}
            if kinds <= {float} or kinds <= {int} and all(-2**63 <= item < 2**63 for item in value):
                return np.array(value, dtype=np.float64 if float in kinds else np.int64)
        return [_lists_as_arrays(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_lists_as_arrays(item) for item in value)
    if isinstance(value, dict):
        return {key: _lists_as_arrays(item) for key, item in value.items()}
    return value


# What the worker's kind_of says, and the value each kind arrives as (arrays as numpy arrays, 0-d ones as numbers).
_NUMBERS = (bool, int, float, complex)
_REPLY_KINDS = {"numpy": (np.ndarray, *_NUMBERS), "torch": (np.ndarray, *_NUMBERS), "list": (list,),
                "tuple": (tuple,), "sequence": (list, tuple)}
_REPLY_FIELDS = frozenset({"key", "ok", "value", "kind", "type", "grads", "variant", "attempt_errors"})


def _forged_shape(message: dict, value: Any) -> str | None:
    """Why a successful reply cannot have come from the worker's own encoder, or None."""
    unknown = sorted(str(k)[:20] for k in message if k not in _REPLY_FIELDS)[:5]
    if unknown:
        return f"unknown fields {unknown}"
    kind = message.get("kind")
    if kind != "python" and kind not in _REPLY_KINDS:
        return f"kind {_text(kind, 40)!r}"
    if kind in _REPLY_KINDS and not isinstance(value, _REPLY_KINDS[kind]):
        return f"a {kind} result that arrived as {type(value).__name__}"
    if kind == "python" and isinstance(value, np.ndarray):
        return "an array sent as a plain Python value"
    grads = message.get("grads")
    if isinstance(grads, dict) and not all(v is None or isinstance(v, np.ndarray) for v in grads.values()):
        return "gradients that are not arrays"
    return None


def _is_plain(value: Any, depth: int = 0) -> bool:
    if depth > 32:
        return False
    if value is None or isinstance(value, (bool, int, float, complex, str, np.ndarray)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v, depth + 1) for k, v in value.items())
    return False


def _text(value: Any, limit: int = 8000) -> str | None:
    if value is None:
        return None
    return printable(str(value)[:limit])



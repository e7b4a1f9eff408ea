"""Grader side of execution: start a sandboxed worker, feed it cells and requests, survive whatever it does.

The worker can hang, crash, exit, flood its channel or lie; none of that stops the run. A cell that has to be
killed is skipped on a fresh worker, a cell that ends the process (os._exit) ends the run there, and the
answers defined until then are still asked for.
"""

from __future__ import annotations

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
from grader.execution.sandbox import Sandbox, scrubbed_env
from grader.execution.wire import WireError, read_frame, write_frame

GRACE_SECONDS = 3.0
STDERR_LIMIT = 8000


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


@dataclass(frozen=True)
class Argument:
    """One argument of a call, and the form the student's function receives it in."""

    value: Any
    kind: str = "numpy"  # numpy | torch | list | python
    requires_grad: bool = False

    def to_wire(self) -> dict:
        return {"value": self.value, "kind": self.kind, "requires_grad": self.requires_grad}


@dataclass(frozen=True)
class Request:
    key: str
    op: str  # "call" | "get"
    target: str
    args: tuple[Argument, ...] = ()
    kwargs: tuple[tuple[str, Argument], ...] = ()
    grad_wrt: tuple[int | str, ...] = ()
    timeout: float | None = None

    def to_wire(self, default_timeout: float) -> dict:
        return {"op": self.op, "key": self.key, "target": self.target,
                "args": [a.to_wire() for a in self.args],
                "kwargs": {k: a.to_wire() for k, a in self.kwargs},
                "grad_wrt": list(self.grad_wrt), "timeout": self.timeout or default_timeout}


@dataclass
class Reply:
    key: str
    ok: bool
    value: Any = None
    kind: str | None = None
    type_name: str | None = None
    grads: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class CellOutcome:
    index: int
    label: str
    status: str  # ok | error | timeout | exit | memory | crashed | not run
    error: str | None = None
    output: str = ""
    seconds: float = 0.0


@dataclass
class RunReport:
    cells: dict[int, CellOutcome]
    replies: dict[str, Reply]
    sandbox: str
    protections: dict[str, bool]
    restarts: int = 0
    wall_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    ignored_magics: list[str] = field(default_factory=list)

    @property
    def failed_cells(self) -> list[CellOutcome]:
        return [c for c in self.cells.values() if c.status != "ok"]


class WorkerGone(Exception):
    """The worker process ended or broke the protocol."""


class _Attempt:
    """One worker process: a frame reader thread and helpers to wait for what it says."""

    def __init__(self, sandbox: Sandbox, workdir: Path, settings: ExecutionSettings) -> None:
        self.sandbox = sandbox
        env = scrubbed_env(workdir / ".home", settings.seed)
        (workdir / ".home").mkdir(exist_ok=True)
        package_dir = Path(grader.__file__).resolve().parent
        self.proc = sandbox.launch([sys.executable, "-s", "-P", "-m", "grader.execution.worker"], workdir=workdir,
                                   limits=settings.limits, env=env, visible_readonly=[package_dir])
        self.frames: queue.Queue = queue.Queue()
        self.stderr = bytearray()
        threading.Thread(target=self._read_frames, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_frames(self) -> None:
        try:
            while (frame := read_frame(self.proc.stdout)) is not None:
                self.frames.put(("frame", frame))
            self.frames.put(("eof", None))
        except (WireError, OSError, ValueError) as exc:
            self.frames.put(("bad", str(exc)))

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
        """The next frame, or None on timeout; raises WorkerGone if the process ended or sent junk."""
        try:
            what, payload = self.frames.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if what == "frame":
            return payload
        if what == "bad":
            raise WorkerGone(f"the worker sent data that is not valid ({payload})")
        raise WorkerGone("the worker process ended")

    def close(self, *, ended: bool = False) -> str:
        """Kill the whole process tree and say how it ended.

        ended: the channel closed, so the process is on its way out; give it a moment to exit by itself
        so that its own exit status is reported rather than our kill.
        """
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
    started = time.monotonic()
    deadline = started + settings.total_timeout
    report = RunReport(cells={}, replies={}, sandbox=sandbox.name, protections=sandbox.protections())
    skip: set[int] = set()
    stop_before: int | None = None
    pending = list(requests)
    cells_known_good = False

    while True:
        if time.monotonic() >= deadline:
            report.problems.append(f"total time limit of {settings.total_timeout:g} s exceeded")
            break
        if report.restarts > settings.max_restarts:
            report.problems.append(f"gave up after {settings.max_restarts} restarts of the worker")
            break
        workdir = Path(tempfile.mkdtemp(prefix="grader-run-"))
        try:
            if files_dir is not None:
                shutil.copytree(files_dir, workdir, dirs_exist_ok=True, symlinks=True)
            attempt = _Attempt(sandbox, workdir, settings)
            outcome = _drive(attempt, program, pending, report, skip, stop_before, deadline, settings,
                             record_cells=not cells_known_good)
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
            pending = [r for r in pending if r.key not in report.replies]
        elif outcome.kind == "startup":
            report.problems.append(outcome.message)
            break

    for request in pending:
        report.replies.setdefault(request.key, Reply(request.key, ok=False,
                                                     error="not run: " + "; ".join(report.problems or
                                                                                    ["the worker stopped"])))
    for cell in program.cells:
        report.cells.setdefault(cell.index, CellOutcome(cell.index, cell.label, "not run"))
    report.wall_seconds = time.monotonic() - started
    return report


@dataclass
class _Outcome:
    kind: str  # done | cell | request | startup
    cell: int | None = None
    exited_cleanly: bool = False
    message: str = ""


def _drive(attempt: _Attempt, program: Program, pending: list[Request], report: RunReport, skip: set[int],
           stop_before: int | None, deadline: float, settings: ExecutionSettings,
           record_cells: bool) -> _Outcome:
    labels = {c.index: c.label for c in program.cells}
    current: int | None = None
    try:
        attempt.send({"op": "init", "cells": [{"index": c.index, "label": c.label, "source": c.source}
                                              for c in program.cells],
                      "skip": sorted(skip), "stop_before": stop_before, "cell_timeout": settings.cell_timeout,
                      "output_limit": settings.output_limit, "seed": settings.seed,
                      "preload": list(settings.preload)})
        message = attempt.receive(min(deadline, time.monotonic() + settings.startup_timeout))
        if message is None or message.get("event") != "started":
            verdict = attempt.close()
            return _Outcome("startup", message=f"the worker did not start ({verdict}): "
                            f"{attempt.stderr.decode(errors='replace')[-2000:]}")
        while True:
            wait = settings.cell_timeout + GRACE_SECONDS if current is not None else settings.startup_timeout
            message = attempt.receive(min(deadline, time.monotonic() + wait))
            if message is None:
                if current is None:
                    attempt.close()
                    return _Outcome("startup", message="the worker went silent between cells")
                attempt.close()
                if record_cells:
                    report.cells[current] = CellOutcome(current, labels[current], "timeout",
                                                        f"cell killed after {settings.cell_timeout:g} s")
                return _Outcome("cell", cell=current)
            event = message.get("event")
            if event == "cell_start" and message.get("index") in labels:
                current = message["index"]
            elif event == "cell_end" and message.get("index") in labels:
                index = message["index"]
                if record_cells:
                    report.cells[index] = CellOutcome(index, labels[index], str(message.get("status")),
                                                      _text(message.get("error")), _text(message.get("output")),
                                                      float(message.get("seconds") or 0))
                current = None
            elif event == "ready":
                ignored = message.get("ignored_magics")
                if isinstance(ignored, list):
                    report.ignored_magics = [str(x)[:200] for x in ignored[:50]]
                break
        return _serve_requests(attempt, pending, report, deadline, settings)
    except WorkerGone as gone:
        verdict = attempt.close(ended=True)
        if current is None:
            if pending and not any(r.key in report.replies for r in pending):
                # Died between cells and requests: nothing specific to skip; grade with what we have.
                report.problems.append(f"the worker ended before answering ({verdict})")
                return _Outcome("done")
            return _Outcome("done")
        clean = verdict == "ok"
        status = "exit" if clean else ("memory" if "memory" in verdict else "crashed")
        detail = ("the code ended the process (os._exit or similar); later cells were not run" if clean
                  else f"the worker died in this cell: {verdict} ({gone})")
        if record_cells:
            report.cells[current] = CellOutcome(current, labels[current], status, detail)
        return _Outcome("cell", cell=current, exited_cleanly=clean)


def _serve_requests(attempt: _Attempt, pending: list[Request], report: RunReport, deadline: float,
                    settings: ExecutionSettings) -> _Outcome:
    for request in pending:
        if request.key in report.replies:
            continue
        timeout = request.timeout or settings.call_timeout
        try:
            attempt.send(request.to_wire(timeout))
            message = attempt.receive(min(deadline, time.monotonic() + timeout + GRACE_SECONDS))
        except WorkerGone as gone:
            verdict = attempt.close(ended=True)
            report.replies[request.key] = Reply(request.key, ok=False,
                                                error=f"the worker died during this call: {verdict} ({gone})")
            return _Outcome("request")
        if message is None:
            attempt.close()
            report.replies[request.key] = Reply(request.key, ok=False,
                                                error=f"the call was killed after {timeout:g} s")
            return _Outcome("request")
        report.replies[request.key] = _parse_reply(request.key, message)
    try:
        attempt.send({"op": "quit"})
    except WorkerGone:
        pass
    attempt.close(ended=True)
    return _Outcome("done")


def _parse_reply(key: str, message: dict) -> Reply:
    """Accept only the reply shapes the worker produces; anything else counts as the student's error."""
    if message.get("key") != key:
        return Reply(key, ok=False, error="the worker answered a different request (its channel was tampered with)")
    if not message.get("ok"):
        return Reply(key, ok=False, error=_text(message.get("error")) or "the call failed")
    grads = message.get("grads")
    if grads is not None and not isinstance(grads, dict):
        grads = None
    value = message.get("value")
    if not _is_plain(value):
        return Reply(key, ok=False, error="the reply held a value that is not plain data")
    return Reply(key, ok=True, value=value, kind=_text(message.get("kind")), type_name=_text(message.get("type")),
                 grads=grads)


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
    return str(value)[:limit]

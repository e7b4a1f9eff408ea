"""Helpers for the warm pool's tests: a real pool under bubblewrap, and hand-ins run through the real runner."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

from grader.execution.pool import WarmPool
from grader.execution.program import Cell, Program
from grader.execution.protocol import Request, RunReport
from grader.execution.runner import ExecutionSettings, run_program
from grader.execution.sandbox import BubblewrapSandbox, SandboxUnavailable, find_sandbox

SETTINGS = ExecutionSettings(preload=("numpy",), cell_timeout=10, startup_timeout=60)


@pytest.fixture(scope="session")
def bwrap() -> BubblewrapSandbox:
    try:
        sandbox = find_sandbox(require=True)
    except SandboxUnavailable as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the pool tests under bubblewrap: {error}")
        pytest.skip(str(error))
    assert isinstance(sandbox, BubblewrapSandbox)
    return sandbox


@pytest.fixture(scope="module")
def pool(bwrap):
    """One slot, so consecutive hand-ins of a test share a zygote, as they do in a batch."""
    warm = WarmPool(bwrap, slots=1, preload=SETTINGS.preload, reply_timeout=5)
    yield warm
    warm.close()


def hand_in(pool, *cells: str, get: tuple[str, ...] = (), files: Path | None = None,
            settings: ExecutionSettings = SETTINGS) -> RunReport:
    """Run cells (dedented) as one hand-in through the runner, then fetch the named values."""
    program = Program(Path("handin.py"), "script",
                      [Cell(i, str(i + 1), textwrap.dedent(source)) for i, source in enumerate(cells)])
    return run_program(program, [Request(name, "get", name) for name in get], files_dir=files, sandbox=pool,
                       settings=settings)


def values(report: RunReport) -> dict:
    """The fetched values; fails the test with the worker's error if one could not be fetched."""
    failed = {key: reply.error for key, reply in report.replies.items() if not reply.ok}
    assert not failed, (failed, report.cells, report.problems)
    return {key: _plain(reply.value) for key, reply in report.replies.items()}


def _plain(value):
    return value.item() if hasattr(value, "item") and getattr(value, "shape", None) == () else value


def processes_with(token: str) -> list[int]:
    """Host pids whose command line contains ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def wait_until_gone(token: str, seconds: float = 3.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_with(token)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left

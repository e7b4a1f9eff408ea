"""A batch graded on this machine: a few grader threads over the local sandbox.

The heavy work runs in sandboxed worker processes (the warm pool when there is one), so a few grader threads
are enough to keep them busy. One of the batch's schedulers (grader/cluster/scheduler.py).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

from grader.cluster.scheduler import BatchContext, GradingProgress
from grader.execution.pool import WarmPool
from grader.execution.sandbox import Sandbox
from grader.intake.hand_in import IntakeRules, hand_in_name
from grader.rubric.load import LoadedRubric
from grader.scoring.record import GradingRecord


class LocalScheduler:
    """`jobs` grader threads over this machine's sandbox (the warm pool when there is one)."""

    needs_plans = True

    def __init__(self, sandbox: Sandbox, pool: WarmPool | None, jobs: int) -> None:
        self.sandbox = pool if pool is not None and sandbox is pool.base else sandbox
        self.sandbox_name = sandbox.name
        self.protections_off = sorted(name for name, on in sandbox.protections().items() if not on)
        self.jobs = jobs
        self._stop = threading.Event()

    def open(self, loaded: LoadedRubric, rubric_sha256: str, rules: IntakeRules) -> None:
        pass

    def grade(self, todo: list[Path], context: BatchContext, progress: GradingProgress) -> Iterator[GradingRecord]:
        pending: queue.Queue[Path] = queue.Queue()
        for item in todo:
            pending.put(item)
        done: queue.Queue[GradingRecord] = queue.Queue()

        def work() -> None:
            while not self._stop.is_set():
                try:
                    path = pending.get_nowait()
                except queue.Empty:
                    return
                progress.started(hand_in_name(path))
                done.put(context.grade(path))

        # Daemon threads: after Ctrl-C the process may exit without waiting for hand-ins still in the sandbox.
        for number in range(min(self.jobs, len(todo))):
            threading.Thread(target=work, name=f"grade-{number}", daemon=True).start()
        for _ in range(len(todo)):
            yield _next(done)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        pass


def _next(done: queue.Queue[GradingRecord]) -> GradingRecord:
    # A timed wait in a loop, so Ctrl-C reaches the main thread promptly.
    while True:
        try:
            return done.get(timeout=0.5)
        except queue.Empty:
            continue

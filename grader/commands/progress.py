"""The batch's progress line: how many hand-ins are done, which are being graded now, and an estimate of the
time left.

    with BatchProgress(console, "grading sheet02", total=40) as progress:
        progress.started("Team_1.zip")      # any thread
        progress.finished("Team_1.zip", failed=False)

On a terminal it is one live line (a bar, then `3/40 graded · 1 failed · 0:42 elapsed · about 8:30 left · now:
Team_4.zip, Team_5.zip`, cut to the terminal's width); in a log (no terminal) one line per finished hand-in.
The estimate is the time so far per finished hand-in, times the hand-ins left: hand-ins are graded in
parallel, so this is the batch's own throughput, whatever the number of jobs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn
from rich.table import Column
from rich.text import Text


class BatchProgress:
    def __init__(self, console: Console | None, title: str, total: int, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console, self.title, self.total, self._clock = console, title, total, clock
        self._lock = threading.Lock()
        self._running: dict[str, None] = {}  # insertion-ordered: the longest-running first
        self.done = 0
        self.failed = 0
        self._start = clock()
        self._live: Progress | None = None
        self._task = None

    def __enter__(self) -> BatchProgress:
        self._start = self._clock()
        if self.console is not None and self.console.is_terminal:
            self._live = Progress(TextColumn(escape(self.title)), BarColumn(bar_width=12), _StatusColumn(self),
                                  console=self.console, transient=False, refresh_per_second=4)
            self._live.start()
            self._task = self._live.add_task(self.title, total=self.total)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._live is not None:
            self._live.stop()

    def started(self, name: str) -> None:
        with self._lock:
            self._running[name] = None

    def finished(self, name: str, *, failed: bool) -> None:
        with self._lock:
            self._running.pop(name, None)
            self.done += 1
            self.failed += bool(failed)
        if self._live is not None:
            self._live.update(self._task, completed=self.done)
        elif self.console is not None:
            verdict = "failed" if failed else "done"
            self.console.print(f"{self.title}: {escape(name)} {verdict}; {escape(self.status())}", highlight=False,
                               soft_wrap=True)

    def elapsed(self) -> float:
        return max(0.0, self._clock() - self._start)

    def seconds_left(self) -> float | None:
        """The estimate: None until one hand-in is done."""
        if self.done == 0:
            return None
        return self.elapsed() / self.done * max(0, self.total - self.done)

    def status(self) -> str:
        with self._lock:
            running = list(self._running)
        parts = [f"{self.done}/{self.total} graded"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        parts.append(f"{_clock_text(self.elapsed())} elapsed")
        left = self.seconds_left()
        if self.done < self.total:
            parts.append("estimating the time left" if left is None else f"about {_clock_text(left)} left")
        if running:
            parts.append("now: " + ", ".join(running))
        return " · ".join(parts)


class _StatusColumn(ProgressColumn):
    """The status text, rendered afresh on every refresh so elapsed time and estimate keep moving."""

    def __init__(self, progress: BatchProgress) -> None:
        super().__init__(table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis"))
        self._progress = progress

    def render(self, task: Task) -> Text:
        return Text(self._progress.status(), no_wrap=True, overflow="ellipsis")


def _clock_text(seconds: float) -> str:
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

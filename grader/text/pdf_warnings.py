"""pypdf's warnings, attributed to the file they concern.

pypdf reports damaged PDFs through the `pypdf` logger ("Ignoring wrong pointing object 6 0", "Multiple
definitions in dictionary"). Left alone, Python prints them bare on the terminal, in the middle of a batch's
progress, without saying which hand-in's file they are about. `pypdf_warnings()` collects the records that this
thread's reading produces, so the caller can keep them with the hand-in and file (a note, a logged line); the
pypdf logger no longer propagates to the root logger, and records nobody collects go to the `grader.pdf` logger.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_collectors: dict[int, list[str]] = {}
_lock = threading.Lock()
_installed = False
MAX_KEPT = 20  # per file: a broken PDF can warn thousands of times


class _PerThread(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        with _lock:
            sink = _collectors.get(record.thread or 0)
        message = record.getMessage()
        if sink is None:
            logging.getLogger("grader.pdf").warning("pypdf (file unknown): %s", message)
        elif len(sink) < MAX_KEPT and message not in sink:
            sink.append(message)


def _install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        logger = logging.getLogger("pypdf")
        logger.addHandler(_PerThread(level=logging.WARNING))
        logger.propagate = False
        _installed = True


@contextmanager
def pypdf_warnings() -> Iterator[list[str]]:
    """Within the block, pypdf's warnings from this thread are appended (once each) to the list it yields."""
    _install()
    found: list[str] = []
    ident = threading.get_ident()
    with _lock:
        previous = _collectors.get(ident)
        _collectors[ident] = found
    try:
        yield found
    finally:
        with _lock:
            if previous is None:
                _collectors.pop(ident, None)
            else:
                _collectors[ident] = previous

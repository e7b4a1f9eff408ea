"""This machine's sandbox for a batch of hand-ins, and the warm pool over it.

    pool = early_pool(slots=4, settings=settings)    # started first: the zygotes import torch meanwhile
    sandbox = batch_sandbox(allow_process=False)     # bubblewrap, or SandboxUnavailable saying what to do

Student code runs only inside bubblewrap unless the tutor allows the weaker process sandbox
(`--unsafe-no-sandbox`); the warm pool (grader/execution/pool.py) exists only over bubblewrap.
"""

from __future__ import annotations

from grader.execution.pool import WarmPool
from grader.execution.runner import ExecutionSettings
from grader.execution.sandbox import BubblewrapSandbox, Sandbox, SandboxUnavailable, find_sandbox


def batch_sandbox(*, allow_process: bool) -> Sandbox:
    """Bubblewrap when it runs here; else the process sandbox if `allow_process`, else SandboxUnavailable with
    the reason and what the tutor can do."""
    try:
        return find_sandbox(require=not allow_process)
    except SandboxUnavailable as exc:
        raise SandboxUnavailable(f"{exc}. Student code is only run inside bubblewrap; pass --unsafe-no-sandbox to "
                                 "grade with the weaker process sandbox (every result will say so).") from None


def early_pool(*, slots: int, settings: ExecutionSettings) -> WarmPool | None:
    """A warm pool over bubblewrap, its zygotes already starting; None where bubblewrap cannot run."""
    try:
        sandbox = find_sandbox(require=True)
    except SandboxUnavailable:
        return None
    if not isinstance(sandbox, BubblewrapSandbox):
        return None
    return started_pool(sandbox, slots=slots, settings=settings)


def started_pool(base: BubblewrapSandbox, *, slots: int, settings: ExecutionSettings) -> WarmPool:
    """`slots` zygotes over `base`, started in the background with the rubric's preloads, seed and limits (so
    that importing torch overlaps with whatever the caller does next); returns at once."""
    pool = WarmPool(base, slots=slots, preload=settings.preload)
    pool.prestart(seed=settings.seed, limits=settings.limits)
    return pool

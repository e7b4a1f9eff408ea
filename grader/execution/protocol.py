"""The protocol between the grader and the program that runs a hand-in's code in the sandbox.

Both sides import this module and nothing of each other: the in-sandbox program (worker.py, zygote.py) for
the message shapes, limits, exit codes and value conversion; the grader side (runner.py, pool.py, the checks,
the course's judges through grader.course) for the same types. It imports only the standard library and
numpy (torch only when a value is a tensor), so it is safe to load before any student code runs: the numpy
functions it uses are taken at import, so a cell that replaces them cannot change how values are copied.

What travels: requests (`Request`, made of `Argument`s) go to the worker as JSON frames (wire.py); replies
come back as plain data (numbers, strings, lists, dicts, numpy arrays), never pickled objects. The runner
collects them into a `RunReport`: one `CellOutcome` per cell, one `Reply` per request, and `RunProblem`s
whose `ProblemCode` says what went wrong with the run as a whole.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any

import numpy as np

# How much a single reply may hold (the worker's budget in to_plain; the runner refuses more).
MAX_ELEMENTS = 4 * 2**20
MAX_DEPTH = 16
MAX_STRING = 1 * 2**20
# What the worker itself reports for a cell; the runner adds "crashed" and "not run".
CELL_STATUSES = ("ok", "error", "timeout", "exit", "memory")

# The worker's module and how it is started (`python <WORKER_ARGS>`), cold or forked from a zygote.
WORKER_MODULE = "grader.execution.worker"
WORKER_ARGS = ("-s", "-P", "-m", WORKER_MODULE)
ZYGOTE_MODULE = "grader.execution.zygote"

# Taken before any student code runs (see the module docstring).
_np_array, _ndarray, _generic = np.array, np.ndarray, np.generic


class WorkerExit(IntEnum):
    """Exit statuses of the in-sandbox program's own making; the runner tells them apart from a hand-in's
    os._exit. 0 is a clean end ("quit", or an os._exit(0) of the student's)."""

    WORKER_FAILED = 70  # a bug of the worker's own (it reports the traceback on its original stderr)
    PROTOCOL_LOST = 86  # the channel to the grader broke
    # A forked worker's set-up (before the hand-in's first line) failed; the runner reports a worker that did
    # not start, with the message the set-up wrote to stderr.
    SETUP_FAILED = 125


class ProblemCode(str, Enum):
    """What went wrong with a run as a whole (not one cell or one call). Stable: flags are derived from it."""

    TOTAL_TIME_LIMIT = "total_time_limit"  # the hand-in's total time ran out
    RESTARTS_EXHAUSTED = "restarts_exhausted"  # the worker had to be restarted too often
    DID_NOT_START = "did_not_start"  # a worker never said it had started
    WENT_SILENT = "went_silent"  # a worker stopped answering between cells
    ENDED_BEFORE_ANSWERING = "ended_before_answering"  # a worker died between the cells and the requests
    COLD_SANDBOX = "cold_sandbox"  # the hand-in ran in a cold sandbox instead of the warm pool


@dataclass(frozen=True)
class RunProblem:
    """One problem of a run: its code, and a sentence for the tutor (kept in the gradebook's notes)."""

    code: ProblemCode
    message: str

    def __str__(self) -> str:
        return self.message


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
    # The same call in other array kinds/dtypes, tried in order (within the same timeout) when a call raises.
    alternatives: tuple[tuple[tuple[Argument, ...], tuple[tuple[str, Argument], ...]], ...] = ()

    def to_wire(self, default_timeout: float) -> dict:
        message = {"op": self.op, "key": self.key, "target": self.target,
                   "args": [a.to_wire() for a in self.args],
                   "kwargs": {k: a.to_wire() for k, a in self.kwargs},
                   "grad_wrt": list(self.grad_wrt), "timeout": self.timeout or default_timeout}
        if self.alternatives:
            message["alternatives"] = [{"args": [a.to_wire() for a in args],
                                        "kwargs": {k: a.to_wire() for k, a in kwargs}}
                                       for args, kwargs in self.alternatives]
        return message

    def arguments(self) -> list[Argument]:
        """Every argument this request may pass, its alternatives' included."""
        calls = [(self.args, self.kwargs), *self.alternatives]
        return [a for args, kwargs in calls for a in (*args, *(a for _, a in kwargs))]


@dataclass
class Reply:
    key: str
    ok: bool
    value: Any = None
    kind: str | None = None
    type_name: str | None = None
    grads: dict[str, Any] | None = None
    error: str | None = None
    variant: int = 0  # 0: the call as planned; n: its n-th alternative, after the calls before it raised
    killed: bool = False  # set by the grader: the call was killed at its time limit
    attempt_errors: list[str] = field(default_factory=list)  # the errors of the calls that raised, in order


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
    problems: list[RunProblem] = field(default_factory=list)
    ignored_magics: list[str] = field(default_factory=list)
    reply_elements: int = 0  # what the large replies kept so far hold, counted as in element_count
    text_kept: int = 0  # characters of cell output and errors kept so far (MAX_HAND_IN_TEXT at most)

    @property
    def failed_cells(self) -> list[CellOutcome]:
        return [c for c in self.cells.values() if c.status != "ok"]


# --- values: a student's objects as plain data (the worker's replies; the reference's results grader-side)


def type_name(value: Any) -> str:
    # type.__dict__ lookup, not getattr: a metaclass could make __name__ anything.
    name = type.__dict__["__name__"].__get__(type(value))
    return str.__str__(name)[:200]


def value_kind(value: Any) -> str:
    """What a value is, as a reply's "kind" says it: torch | numpy | list | tuple | sequence | python."""
    module = type.__dict__["__module__"].__get__(type(value))
    module = str.__str__(module).split(".")[0] if isinstance(module, str) else ""
    if module == "torch":
        return "torch"
    if module == "numpy":
        return "numpy"
    if isinstance(value, (list, tuple)):
        return type(value).__name__ if type(value) in (list, tuple) else "sequence"
    return "python"


def to_plain(value: Any, _depth: int = 0, _budget: list | None = None) -> Any:
    """Copy a student value into plain data, using the base types' own methods so overrides can't lie to us."""
    budget = _budget if _budget is not None else [MAX_ELEMENTS]
    if _depth > MAX_DEPTH:
        raise ValueError(f"the value is nested deeper than {MAX_DEPTH} levels")
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError(f"the value holds more than {MAX_ELEMENTS} elements")
    if value is None:
        return None
    if isinstance(value, bool):
        return bool(int.__index__(value))
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, complex):
        return complex.__complex__(value)
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise ValueError(f"a string of {len(value)} characters is too long")
        # Text counts too (8 characters as one element), so a million copies of one long string stay small.
        budget[0] -= len(value) // 8
        if budget[0] < 0:
            raise ValueError(f"the value holds more than {MAX_ELEMENTS} elements")
        return str.__str__(value)
    if isinstance(value, (_ndarray, _generic)):
        return _numpy_plain(value, budget)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return _torch_plain(value, budget)
    if isinstance(value, (list, tuple)):
        items = [to_plain(item, _depth + 1, budget) for item in list.__iter__(list(value))]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {str.__str__(k): to_plain(v, _depth + 1, budget) for k, v in dict.items(value)
                if isinstance(k, str)}
    raise TypeError(f"a {type_name(value)} object cannot be graded; return numbers, arrays or tensors")


def _numpy_plain(value: Any, budget: list) -> Any:
    if isinstance(value, _ndarray):
        array = _ndarray.view(value, _ndarray)
    elif isinstance(value, _generic):
        array = _np_array(value)
    else:
        raise TypeError(f"a {type_name(value)} object cannot be graded")
    if array.dtype.kind not in "biufc":
        raise TypeError(f"arrays of dtype {array.dtype} cannot be graded; use a numeric dtype")
    budget[0] -= array.size
    if budget[0] < 0:
        raise ValueError(f"the value holds more than {MAX_ELEMENTS} elements")
    # Extended precision (np.longdouble) has no place on the wire: float64/complex128 keep what is compared.
    if array.dtype.kind == "f" and array.dtype.itemsize > 8:
        return array.astype(np.float64)
    if array.dtype.kind == "c" and array.dtype.itemsize > 16:
        return array.astype(np.complex128)
    return _np_array(array, copy=True)


def _torch_plain(value: Any, budget: list) -> Any:
    import torch

    # A Tensor subclass's __torch_function__ would run on every operation below: drop the subclass first.
    with torch._C.DisableTorchFunctionSubclass():
        tensor = torch.Tensor.as_subclass(value, torch.Tensor).detach().cpu()
        if tensor.is_sparse:
            tensor = tensor.to_dense()
        if tensor.is_complex():
            tensor = tensor.to(torch.complex128)
        elif tensor.dtype in (torch.bfloat16, torch.float16):
            tensor = tensor.to(torch.float32)
        if tensor.numel() > max(budget[0], 0):
            raise ValueError(f"the value holds more than {MAX_ELEMENTS} elements")
        array = tensor.resolve_conj().resolve_neg().numpy().copy()
    return _numpy_plain(array, budget)

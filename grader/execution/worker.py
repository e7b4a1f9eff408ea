"""The program that runs a hand-in's code. It executes inside the sandbox, never in the grader's process.

It knows nothing of rubrics, references or expected values: it runs the cells it is given, then answers
requests ("call this name with these arguments", "give me the value of this name") with plain data.
Protocol: length-prefixed JSON frames (see wire.py) on the file descriptors that were stdin and stdout at
start; the student's code sees /dev/null there, so nothing it prints can be taken for a frame by accident.
"""

from __future__ import annotations

import builtins
import io
import os
import random
import signal
import sys
import time
import traceback
from typing import Any

from grader.execution.wire import WireError, read_frame, write_frame

MAX_ELEMENTS = 4 * 2**20
MAX_DEPTH = 16
MAX_STRING = 1 * 2**20


class CellTimeout(BaseException):
    """Raised by the interval timer; a BaseException so that `except Exception` in student code won't eat it."""


class BoundedOutput(io.TextIOBase):
    """Keeps the first `limit` characters written and counts the rest, so 50 MB of prints cost nothing."""

    def __init__(self, limit: int) -> None:
        self.limit, self.parts, self.kept, self.dropped = limit, [], 0, 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def take(self) -> tuple[str, int]:
        text, dropped = "".join(self.parts), self.dropped
        self.parts, self.kept, self.dropped = [], 0, 0
        return text, dropped


class IPythonShim:
    """Stands in for get_ipython() so that cells using magics or shell escapes still run."""

    def __init__(self, namespace: dict) -> None:
        self.namespace, self.ignored = namespace, []
        self.user_ns = namespace

    def run_line_magic(self, name: str, line: str, *args: Any, **kwargs: Any) -> None:
        self.ignored.append(f"%{name} {line}".strip())

    def run_cell_magic(self, name: str, line: str, cell: str, *args: Any, **kwargs: Any) -> None:
        # Timing and capturing magics only wrap the code: run it, so the answers it defines exist.
        if name in {"time", "timeit", "capture", "prun"}:
            exec(compile(cell, "<cell magic>", "exec"), self.namespace)
        else:
            self.ignored.append(f"%%{name} {line}".strip())

    def system(self, command: str, *args: Any, **kwargs: Any) -> None:
        self.ignored.append(f"!{command}")

    getoutput = system

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def _timer_handler(signum: int, frame: Any) -> None:
    raise CellTimeout()


def _arm(seconds: float | None) -> None:
    signal.setitimer(signal.ITIMER_REAL, seconds or 0)


def _format_error(exc: BaseException, filename_prefix: str = "<cell") -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    # Drop the worker's own frames: students should see their code, not ours.
    frames = [f for f in frames if f.filename.startswith("<")]
    lines = traceback.format_list(frames[-8:])
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    text = ("Traceback (most recent call last):\n" + "".join(lines) + detail) if lines else detail
    return text[-4000:]


class Worker:
    def __init__(self, channel_in: Any, channel_out: Any) -> None:
        self.channel_in, self.channel_out = channel_in, channel_out
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.shim = IPythonShim(self.namespace)
        self.namespace["get_ipython"] = lambda: self.shim
        self.output = BoundedOutput(20_000)

    def send(self, message: dict) -> None:
        write_frame(self.channel_out, message)

    def run(self) -> None:
        init = read_frame(self.channel_in)
        if init is None or init.get("op") != "init":
            return
        self.output.limit = int(init.get("output_limit", 20_000))
        self._prepare(init)
        self.send({"event": "started", "pid": os.getpid()})
        self._run_cells(init)
        self.send({"event": "ready", "ignored_magics": self.shim.ignored[:50]})
        while True:
            request = read_frame(self.channel_in)
            if request is None or request.get("op") == "quit":
                return
            self.send(self._answer(request))

    def _prepare(self, init: dict) -> None:
        seed = int(init.get("seed", 0))
        random.seed(seed)
        for module in init.get("preload", []):
            try:
                __import__(module)
            except ImportError:
                pass
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed(seed)
        if "torch" in sys.modules:
            torch = sys.modules["torch"]
            torch.manual_seed(seed)
            torch.set_num_threads(1)
        if "matplotlib" in sys.modules:
            sys.modules["matplotlib"].use("Agg")
        signal.signal(signal.SIGALRM, _timer_handler)

    def _run_cells(self, init: dict) -> None:
        skip = set(init.get("skip", []))
        stop_before = init.get("stop_before")
        timeout = init.get("cell_timeout")
        for cell in init["cells"]:
            index = cell["index"]
            if stop_before is not None and index >= stop_before:
                break
            if index in skip:
                continue
            self.send({"event": "cell_start", "index": index})
            status, error, started = "ok", None, time.monotonic()
            sys.stdout = sys.stderr = self.output
            try:
                code = compile(cell["source"], f"<cell {cell.get('label', index)}>", "exec")
                _arm(timeout)
                exec(code, self.namespace)
            except CellTimeout:
                status, error = "timeout", f"cell stopped after the {timeout:g} s time limit"
            except SystemExit as exc:
                status, error = "exit", f"the code called exit({exc.code!r}); later cells were not run"
            except MemoryError as exc:
                status, error = "memory", _format_error(exc)
            except KeyboardInterrupt as exc:
                status, error = "error", _format_error(exc)
            except BaseException as exc:  # noqa: BLE001 - any failure of student code is reported, not raised
                status, error = "error", _format_error(exc)
            finally:
                _arm(None)
                sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
            text, dropped = self.output.take()
            self.send({"event": "cell_end", "index": index, "status": status, "error": error,
                       "output": text, "output_dropped": dropped,
                       "seconds": round(time.monotonic() - started, 4)})
            if status == "exit":
                break

    def _answer(self, request: dict) -> dict:
        key = request.get("key")
        sys.stdout = sys.stderr = self.output
        try:
            _arm(request.get("timeout"))
            if request["op"] == "get":
                value = self._lookup(request["target"])
                reply = {"key": key, "ok": True, **describe(value)}
            elif request["op"] == "call":
                reply = {"key": key, "ok": True, **self._call(request)}
            else:
                reply = {"key": key, "ok": False, "error": f"unknown request {request['op']!r}"}
        except CellTimeout:
            reply = {"key": key, "ok": False, "error": f"timed out after {request.get('timeout'):g} s",
                     "timeout": True}
        except BaseException as exc:  # noqa: BLE001
            reply = {"key": key, "ok": False, "error": _format_error(exc)}
        finally:
            _arm(None)
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        self.output.take()
        return reply

    def _lookup(self, target: str) -> Any:
        head, *rest = target.split(".")
        if head not in self.namespace:
            raise NameError(f"name '{head}' is not defined")
        value = self.namespace[head]
        for part in rest:
            value = getattr(value, part)
        return value

    def _call(self, request: dict) -> dict:
        function = self._lookup(request["target"])
        if not callable(function):
            raise TypeError(f"'{request['target']}' is not callable")
        args = [make_argument(a) for a in request.get("args", [])]
        kwargs = {k: make_argument(a) for k, a in request.get("kwargs", {}).items()}
        result = function(*args, **kwargs)
        reply = describe(result)
        grad_wrt = request.get("grad_wrt") or []
        if grad_wrt:
            reply["grads"] = gradients(result, args, kwargs, grad_wrt)
        return reply


def make_argument(spec: dict) -> Any:
    """Build the argument the rubric asked for: numpy, torch (optionally requiring grad), list or plain."""
    value, kind = spec["value"], spec.get("kind", "python")
    if kind == "python":
        return value
    import numpy as np

    array = np.asarray(value)
    if kind == "numpy":
        return array.copy()
    if kind == "list":
        return array.tolist()
    if kind == "torch":
        import torch

        tensor = torch.from_numpy(array.copy())
        if spec.get("requires_grad"):
            tensor.requires_grad_(True)
        return tensor
    raise ValueError(f"unknown argument kind {kind!r}")


def gradients(result: Any, args: list, kwargs: dict, grad_wrt: list) -> dict:
    """Backpropagate the sum of the result and report each requested input's gradient (None if none arrived)."""
    import torch

    outputs = result if isinstance(result, (tuple, list)) else [result]
    tensors = [o for o in outputs if isinstance(o, torch.Tensor) and o.requires_grad]
    grads: dict[str, Any] = {}
    if tensors:
        sum(t.sum() for t in tensors).backward()
    for name in grad_wrt:
        source = args[name] if isinstance(name, int) else kwargs[name]
        grad = getattr(source, "grad", None)
        grads[str(name)] = None if grad is None else to_plain(grad)
    return grads


def describe(value: Any) -> dict:
    """The reply body for a student value: its plain data plus what kind of object it was."""
    return {"value": to_plain(value), "kind": kind_of(value), "type": type(value).__name__}


def kind_of(value: Any) -> str:
    module = type(value).__module__.split(".")[0]
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
        return complex.__complex__(value) if hasattr(complex, "__complex__") else complex(value.real, value.imag)
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise ValueError(f"a string of {len(value)} characters is too long")
        return str.__str__(value)
    module = type(value).__module__.split(".")[0]
    if module == "numpy" or "numpy" in sys.modules and isinstance(value, sys.modules["numpy"].ndarray):
        return _numpy_plain(value, budget)
    if "torch" in sys.modules and isinstance(value, sys.modules["torch"].Tensor):
        return _torch_plain(value, budget)
    if isinstance(value, (list, tuple)):
        items = [to_plain(item, _depth + 1, budget) for item in list.__iter__(list(value))]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {str(k): to_plain(v, _depth + 1, budget) for k, v in dict.items(value)
                if isinstance(k, str)}
    raise TypeError(f"a {type(value).__name__} object cannot be graded; return numbers, arrays or tensors")


def _numpy_plain(value: Any, budget: list) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        array = np.ndarray.view(value, np.ndarray)
    elif isinstance(value, np.generic):
        array = np.array(value)
    else:
        raise TypeError(f"a {type(value).__name__} object cannot be graded")
    if array.dtype.kind not in "biufc":
        raise TypeError(f"arrays of dtype {array.dtype} cannot be graded; use a numeric dtype")
    budget[0] -= array.size
    if budget[0] < 0:
        raise ValueError(f"the value holds more than {MAX_ELEMENTS} elements")
    return np.array(array, copy=True)


def _torch_plain(value: Any, budget: list) -> Any:
    import torch

    tensor = torch.Tensor.detach(value).cpu()
    if tensor.is_complex():
        tensor = tensor.to(torch.complex128)
    elif tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.to(torch.float32)
    if tensor.is_sparse:
        tensor = tensor.to_dense()
    return _numpy_plain(tensor.numpy().copy(), budget)


def main() -> None:
    channel_in = os.fdopen(os.dup(0), "rb", buffering=0)
    channel_out = os.fdopen(os.dup(1), "wb")
    # The student's code gets no input and prints nowhere near the protocol.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    try:
        Worker(channel_in, channel_out).run()
    except (WireError, BrokenPipeError):
        pass
    finally:
        os._exit(0)


if __name__ == "__main__":
    main()

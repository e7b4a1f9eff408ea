"""The program that runs a hand-in's code. It executes inside the sandbox, never in the grader's process.

It knows nothing of rubrics, references or expected values: it runs the cells it is given, then answers
requests ("call this name with these arguments", "give me the value of this name") with plain data.
Protocol: length-prefixed JSON frames (see wire.py) on the file descriptors that were stdin and stdout at
start; the student's code sees /dev/null there, so nothing it prints can be taken for a frame by accident.

Student code shares this process, so it can change anything here on purpose; that only ever changes the
values it hands in, which the grader judges on its side. What the worker does guard against is student code
breaking the worker by accident or on the way: replaced builtins, a stolen SIGALRM, processes forked inside a
cell that come back into this loop, looping finalizers. Exit statuses: 0 after "quit" (or an os._exit(0) of
the student's), otherwise protocol.WorkerExit. The message shapes and value conversion are in protocol.py.
"""

from __future__ import annotations

import builtins
import gc
import io
import os
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from grader.execution.protocol import WorkerExit, to_plain, type_name, value_kind
from grader.execution.wire import WireError, read_frame, write_frame

# Student code can swallow a CellTimeout (in a __del__, an at-fork hook, a bare except): the alarm repeats
# at this interval until the worker disarms it.
REPEAT_SECONDS = 0.5
ERROR_FORMAT_SECONDS = 2.0  # for an exception's own __str__, which is student code

# Taken before any student code runs: cells may replace builtins, numpy's functions or the traceback
# module's, and the worker's own code keeps working with these.
_OWN_GLOBALS = globals()
_BUILTINS = dict(builtins.__dict__)
_np_asarray = np.asarray
_extract_tb, _format_list, _format_exception_only = (traceback.extract_tb, traceback.format_list,
                                                     traceback.format_exception_only)
_signal, _setitimer, _pthread_sigmask = signal.signal, signal.setitimer, signal.pthread_sigmask


class _CallFailed(Exception):
    """Every kind a call was tried in raised; holds the error texts in the order tried."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(errors[0])
        self.errors = errors


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


class _Timer:
    live = False  # armed: SIGALRM raises CellTimeout in student code, again every REPEAT_SECONDS until disarmed


def _timer_handler(signum: int, frame: Any) -> None:
    # Never inside the worker's own code: its clean-up after a cell must not be cut short. The alarm comes
    # again in REPEAT_SECONDS, by when student code runs again, or the worker has disarmed it.
    if _Timer.live and frame is not None and frame.f_globals is not _OWN_GLOBALS:
        raise CellTimeout()


def _arm(seconds: float) -> None:
    # A cell may have installed its own SIGALRM handler, blocked the signal or stopped the timer:
    # every cell and every call starts with ours.
    _signal(signal.SIGALRM, _timer_handler)
    _pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})
    _Timer.live = True
    _setitimer(signal.ITIMER_REAL, max(seconds, 0.001), REPEAT_SECONDS)


def _disarm() -> None:
    _Timer.live = False
    _setitimer(signal.ITIMER_REAL, 0)


def _format_error(exc: BaseException) -> str:
    try:
        frames = _extract_tb(exc.__traceback__)
        # Drop the worker's own frames: students should see their code, not ours.
        frames = [f for f in frames if f.filename.startswith("<")]
        lines = _format_list(frames[-8:])
        detail = "".join(_format_exception_only(type(exc), exc)).strip()
        text = ("Traceback (most recent call last):\n" + "".join(lines) + detail) if lines else detail
    except BaseException:  # noqa: BLE001 - a broken traceback module or a lying exception still gets reported
        try:
            text = f"{type(exc).__name__}: {BaseException.__str__(exc)}"
        except BaseException:  # noqa: BLE001
            text = type(exc).__name__
    return text[-4000:]


class StudentSide:
    """The student's world: builtins as the hand-in left them, and its garbage collector setting.

    Student code may replace builtins (print, isinstance, __import__, ...) and turn the garbage collector on
    or off; its changes are kept for its next cell or call, while the worker's own code (and the wire) always
    runs with the real builtins and the collector off. So garbage is collected only while student code runs,
    under its timer: a finalizer that never returns is stopped like any other student code.
    """

    def __init__(self) -> None:
        self.builtins = dict(_BUILTINS)
        self.gc_enabled = True
        self.inside = False

    def enter(self) -> None:
        _swap_builtins(self.builtins)
        self.inside = True

    def leave(self) -> None:
        if self.inside:
            self.builtins = builtins.__dict__.copy()
            self.inside = False
        _swap_builtins(_BUILTINS)


def _swap_builtins(wanted: dict) -> None:
    # Only dict methods here: the builtins being swapped may be the student's liars (or, if a timeout cut
    # a swap short, missing).
    current = builtins.__dict__
    current.clear()
    current.update(wanted)


class Worker:
    """One hand-in's run: its cells in order, then one request after another, until "quit"."""

    def __init__(self, channel_in: Any, channel_out: Any) -> None:
        self.channel_in, self.channel_out = channel_in, channel_out
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.shim = IPythonShim(self.namespace)
        self.namespace["get_ipython"] = lambda: self.shim
        self.output = BoundedOutput(20_000)
        self.student = StudentSide()
        self.pid = os.getpid()

    def send(self, message: dict) -> None:
        self._only_in_the_worker()
        write_frame(self.channel_out, message)

    def _only_in_the_worker(self) -> None:
        """A process forked by a cell that returns into this loop must end before it touches the channel."""
        if os.getpid() != self.pid:
            os._exit(0)

    def run(self) -> None:
        init = read_frame(self.channel_in)
        if init is None or init.get("op") != "init":
            return
        self.output.limit = int(init.get("output_limit", 20_000))
        self._prepare(init)
        self.send({"event": "started", "pid": os.getpid()})
        gc.disable()  # from here on, only while student code runs (see StudentSide)
        self._run_cells(init)
        self.send({"event": "ready", "ignored_magics": self.shim.ignored[:50]})
        while True:
            request = read_frame(self.channel_in)
            if request is None or request.get("op") == "quit":
                return
            reply = self._answer(request)
            try:
                self.send(reply)
            except WireError as exc:  # a value to_plain let through that the wire refuses: the call's error
                self.send({"key": reply.get("key"), "ok": False, "error": f"the result cannot be sent: {exc}"})

    def _prepare(self, init: dict) -> None:
        seed = int(init.get("seed", 0))
        random.seed(seed)
        for module in init.get("preload", []):
            try:
                __import__(module)
            except ImportError:
                pass
        np.random.seed(seed)
        if "torch" in sys.modules:
            torch = sys.modules["torch"]
            torch.manual_seed(seed)
            torch.set_num_threads(1)
        if "matplotlib" in sys.modules:
            sys.modules["matplotlib"].use("Agg")
        _signal(signal.SIGALRM, _timer_handler)
        _enter_hand_in_folder(init.get("folder") or "")

    def _run_cells(self, init: dict) -> None:
        skip = set(init.get("skip", []))
        stop_before = init.get("stop_before")
        timeout = init.get("cell_timeout")
        to_run = [cell for cell in init["cells"]
                  if cell["index"] not in skip and (stop_before is None or cell["index"] < stop_before)]
        for number, cell in enumerate(to_run):
            index = cell["index"]
            self.send({"event": "cell_start", "index": index})
            status, error, started = "ok", None, time.monotonic()
            try:
                code = compile(cell["source"], f"<cell {cell.get('label', index)}>", "exec")
                self._timed(timeout, exec, code, self.namespace, student=True)
            except CellTimeout:
                status, error = "timeout", f"cell stopped after the {timeout:g} s time limit"
            except SystemExit as exc:
                # exit(0) or exit() as the last thing a hand-in does (`sys.exit(main())`) is how a script ends
                # cleanly, not a failure; anywhere else it stops the cells after it.
                if not (_clean_exit_code(exc.code) and number == len(to_run) - 1):
                    status, error = "exit", f"the code called exit({self._repr(exc.code)}); later cells were not run"
            except MemoryError as exc:
                status, error = "memory", self._error_text(exc)
            except BaseException as exc:  # noqa: BLE001 - any failure of student code is reported, not raised
                status, error = "error", self._error_text(exc)
            self._only_in_the_worker()
            if status != "ok":
                # Whatever the failed cell started (a fork bomb's spinning children) would go on eating the
                # hand-in's CPU time and process slots.
                end_stray_processes()
            text, dropped = self.output.take()
            self.send({"event": "cell_end", "index": index, "status": status, "error": error,
                       "output": text, "output_dropped": dropped,
                       "seconds": round(time.monotonic() - started, 4)})
            if status == "exit":
                break

    def _timed(self, seconds: float | None, function: Callable[..., Any], *args: Any, student: bool = False) -> Any:
        """Run `function` with the hand-in's output captured and the timer armed (student=True: in its world)."""
        sys.stdout = sys.stderr = self.output
        if seconds:
            _arm(seconds)
        if student:
            # Until `leave`, names resolve to the student's builtins: only attribute calls in between.
            self.student.enter()
            if self.student.gc_enabled:
                gc.enable()
        try:
            return function(*args)
        finally:
            # Worker code: the timer never interrupts it (see _timer_handler).
            _disarm()
            if student:
                self.student.gc_enabled = gc.isenabled()
            gc.disable()
            self.student.leave()
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__

    def _error_text(self, exc: BaseException) -> str:
        try:
            return self._timed(ERROR_FORMAT_SECONDS, _format_error, exc)
        except BaseException:  # noqa: BLE001
            return _BUILTINS["type"](exc).__name__

    def _repr(self, value: Any) -> str:
        try:
            return self._timed(ERROR_FORMAT_SECONDS, _BUILTINS["repr"], value)[:200]
        except BaseException:  # noqa: BLE001
            return "..."

    def _answer(self, request: dict) -> dict:
        key = request.get("key")
        timeout = float(request.get("timeout") or 0) or None
        deadline = time.monotonic() + (timeout or 0)
        try:
            if request["op"] == "get":
                value = self._timed(timeout, self._lookup, request["target"])
                reply = {"key": key, "ok": True, **self._timed(_left(deadline, timeout), describe, value)}
            elif request["op"] == "call":
                reply = {"key": key, "ok": True, **self._call(request, timeout, deadline)}
            else:
                reply = {"key": key, "ok": False, "error": f"unknown request {request['op']!r}"}
        except CellTimeout:
            reply = {"key": key, "ok": False, "error": f"timed out after {timeout:g} s", "timeout": True}
        except _CallFailed as failed:
            # The planned call's error is the one the student meant to get; the others say what else was tried.
            reply = {"key": key, "ok": False, "error": failed.errors[0]}
            if len(failed.errors) > 1:
                reply["attempt_errors"] = failed.errors
        except BaseException as exc:  # noqa: BLE001
            reply = {"key": key, "ok": False, "error": self._error_text(exc)}
        self._only_in_the_worker()
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

    def _call(self, request: dict, timeout: float | None, deadline: float) -> dict:
        function = self._timed(timeout, self._lookup, request["target"])
        if not callable(function):
            raise TypeError(f"'{request['target']}' is not callable")
        # The call as planned, then the same values in other array kinds/dtypes while calls raise: a function
        # written for tensors only is not wrong because the check first handed it numpy arrays.
        calls = [request, *(request.get("alternatives") or [])]
        errors: list[str] = []
        for number, call in enumerate(calls):
            try:
                args = [argument_from_wire(a) for a in call.get("args", [])]
                kwargs = {k: argument_from_wire(a) for k, a in call.get("kwargs", {}).items()}
                # Held in a list that _describe_call empties, so the result is freed while the timer runs.
                result = [self._timed(_left(deadline, timeout), _apply, function, args, kwargs, student=True)]
                reply = self._timed(_left(deadline, timeout), _describe_call, result, args, kwargs,
                                    request.get("grad_wrt") or [])
            except CellTimeout:
                raise
            except BaseException as exc:  # noqa: BLE001 - the student's error; the next kind may work
                if number == len(calls) - 1:
                    raise _CallFailed(errors + [self._error_text(exc)]) from None
                errors.append(self._error_text(exc))
                continue
            if number:
                reply.update(variant=number, attempt_errors=errors)
            return reply
        raise AssertionError("unreachable")


def _enter_hand_in_folder(folder: str) -> None:
    """Work in the folder of the notebook or script, as Jupyter does, and import the hand-in's own modules from it.

    Only that folder joins sys.path (first, like a notebook's own folder in Jupyter), after the preloaded
    libraries are imported, so a hand-in's `numpy.py` cannot stand in for them. The worker's cwd holds nothing
    but the hand-in's files; a folder that would lead outside it is ignored.
    """
    base = os.path.realpath(os.getcwd())
    target = os.path.realpath(os.path.join(base, folder))
    if target != base and not target.startswith(base + os.sep) or not os.path.isdir(target):
        target = base
    os.chdir(target)
    sys.path.insert(0, target)


def _clean_exit_code(code: Any) -> bool:
    """exit(), exit(None), exit(0) and exit(False): the statuses a shell reads as success."""
    return code is None or (type(code) in (int, bool) and int.__index__(code) == 0)


def _left(deadline: float, timeout: float | None) -> float | None:
    """What remains of a request's time; student code and copying its result share one budget."""
    return None if timeout is None else max(deadline - time.monotonic(), 0.001)


def _apply(function: Callable[..., Any], args: list, kwargs: dict) -> Any:
    return function(*args, **kwargs)


def _describe_call(holder: list, args: list, kwargs: dict, grad_wrt: list) -> dict:
    reply = describe(holder[0])
    if grad_wrt:
        reply["grads"] = gradients(holder[0], args, kwargs, grad_wrt)
    # The result is freed here, under the timer: one whose __del__ never returns is stopped with the call.
    holder.clear()
    return reply


def end_stray_processes() -> None:
    """SIGKILL every other process of this worker's session, then reap the children that ended.

    Only where the session holds nothing but the worker and what the hand-in started: when the worker leads
    its session (the process sandbox, a zygote's worker), or under bubblewrap, whose init (pid 1 of the
    sandbox's PID namespace, the worker's parent) leads it.
    """
    me = os.getpid()
    try:
        session = os.getsid(0)
        if session != me and not (session == 1 and os.getppid() == 1 and _command(1) == "bwrap"):
            return
    except OSError:
        return
    spare = {me, session}
    # Until a look finds nothing alive: a process that was forking when it was killed leaves a child that
    # only the next look sees.
    for _ in range(500):
        found = [pid for pid in _session_members(session) if pid not in spare]
        if not found:
            break
        for pid in found:
            _signal_quietly(pid, signal.SIGSTOP)
        for pid in found:
            _signal_quietly(pid, signal.SIGKILL)
        time.sleep(0.002)
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break


def _signal_quietly(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError:
        pass


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", "rb") as handle:
            return handle.read().decode(errors="replace").strip()
    except OSError:
        return ""


def _session_members(session: int) -> list[int]:
    """Processes of `session` that have not ended yet (zombies excluded), from /proc."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces and parentheses): state ppid pgrp session ...
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 3 and fields[0] != b"Z" and int(fields[3]) == session:
            members.append(int(name))
    return members


def argument_from_wire(spec: dict) -> Any:
    """Build the argument a request's wire form asks for: numpy, torch (optionally requiring grad), list or plain."""
    value, kind = spec["value"], spec.get("kind", "python")
    if kind == "python":
        return value
    array = _np_asarray(value)
    if kind == "numpy":
        return array.copy()
    if kind == "list":
        return array.tolist()
    if kind == "torch":
        torch = sys.modules.get("torch") or __import__("torch")
        tensor = torch.from_numpy(array.copy())
        if spec.get("requires_grad"):
            tensor.requires_grad_(True)
        return tensor
    raise ValueError(f"unknown argument kind {kind!r}")


def gradients(result: Any, args: list, kwargs: dict, grad_wrt: list) -> dict:
    """Backpropagate the sum of the result and report each requested input's gradient (None if none arrived)."""
    torch = sys.modules.get("torch") or __import__("torch")
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
    return {"value": to_plain(value), "kind": value_kind(value), "type": type_name(value)}


class _Failure:
    fd: int | None = None

    @classmethod
    def report(cls) -> None:
        if cls.fd is not None:
            try:
                os.write(cls.fd, ("grader worker failed:\n" + traceback.format_exc()[-3000:]).encode(errors="replace"))
            except BaseException:  # noqa: BLE001
                pass


def main() -> None:
    try:
        channel_in = os.fdopen(os.dup(0), "rb", buffering=0)
        channel_out = os.fdopen(os.dup(1), "wb")
        # The worker's own failures are reported on the original stderr (the runner shows its end).
        _Failure.fd = os.dup(2)
        # The student's code gets no input and prints nowhere near the protocol.
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
        Worker(channel_in, channel_out).run()
    except (WireError, OSError, ValueError):
        os._exit(WorkerExit.PROTOCOL_LOST)
    except BaseException:  # noqa: BLE001 - a worker bug: say so in the exit status, never hang
        _Failure.report()
        os._exit(WorkerExit.WORKER_FAILED)
    os._exit(0)


if __name__ == "__main__":
    main()

"""The warm parent of workers. It runs inside one long-lived bubblewrap sandbox, never in the grader's process.

It imports the heavy modules (numpy, torch, the worker) once, then forks one fresh worker per hand-in, so a
hand-in pays for its own compute and not for starting Python and importing torch. Every worker starts from
the zygote's clean memory: whatever a hand-in changes in its modules dies with its process.

The zygote is the sandbox's PID 1 (bubblewrap's --as-pid-1) and not dumpable: a hand-in can neither signal
(the kernel drops signals to a namespace's init that it does not handle), trace nor read it, and the slot's
seccomp filter (seccomp.slot_filter) keeps hand-ins from re-limiting or re-prioritising it. What /proc still lets
them change, and anything that got past, it finds itself: before every fork and at every reset it compares its
own rlimits, priority, scheduling and affinity with what they were at start, and answers "changed" or "dirty".

Between two hand-ins the zygote makes its sandbox as it was: it kills every other process in the PID
namespace, empties the writable tmpfs mounts (keeping the mounts inside them: a grader package, a venv or the
workers' folder under /tmp), and checks that no process, file or System V IPC object is left (kernel keys and
POSIX message queues, which it could not list, cannot be made: see pool.py). Anything it cannot account for
makes it answer "dirty", and the grader throws the whole sandbox away. It never holds anything of a hand-in: files reach the worker through a read-only inbox that
the grader fills, and the worker's stdin/stdout/stderr are pipes the grader passes over the control socket.

Control protocol (the grader's side is ``pool.py``), JSON messages on an AF_UNIX SOCK_SEQPACKET socket:

    -> {"op": "spawn"} + fds [stdin, stdout, stderr, handshake]
    <- {"event": "spawned", "pid"}      the new worker says hello on the handshake socket, the grader moves
                                        it into its cgroup, and (now or when a hand-in comes) sends it its
                                        orders there: {"workdir", "env", "rlimits", "inbox"}
    <- {"event": "exit", "status"}      the worker ended (sent unasked); everything it started is dead
    -> {"op": "reset"}
    <- {"event": "clean"} | {"event": "dirty", "why"}

This module imports only the standard library at the top, so that the only third-party modules a worker
finds already imported are the ones the rubric preloads, as in a cold worker.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import sys
import tempfile
import time

from grader.execution.protocol import WORKER_MODULE, WorkerExit

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
MAX_MESSAGE = 1 << 16
KILL_TIMEOUT_SECONDS = 5.0


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}, {value}) failed")


def exit_code(status: int) -> int:
    """A wait status as bubblewrap reports its program's: the exit code, or 128+N for signal N."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


class Zygote:
    def __init__(self, control: socket.socket, writable: list[str]) -> None:
        self.control = control
        self.writable = writable
        # Mounts inside the writable ones, as bubblewrap made them before any hand-in ran: the grader package or
        # Python when they live under /tmp (a clone, a venv), the workdirs' own tmpfs when the temp folder is a
        # folder of /tmp. The wipe keeps them and the folders that lead to them; it once tried to delete them,
        # failed, and every zygote started for such a temp folder fell back to cold workers.
        self.keep = _mount_points_under(writable)
        self.leading = sorted({parent for point in self.keep for parent in _parents_within(point, writable)})
        self.child: int | None = None
        self.child_fd: int | None = None  # a pidfd: readable when the worker ends
        self.child_status: int | None = None
        self.baseline: dict = {}
        self.identity: dict = {}  # own_settings() once prepared: what every worker inherits at its fork

    # --- set-up -------------------------------------------------------------------------------------------

    def prepare(self, preload: list[str]) -> None:
        # Workers must not be able to read this process's memory or file descriptors through /proc or ptrace
        # (they run as the same user); orphans of a worker become our children, so we can reap them (as PID 1 of
        # the sandbox, bubblewrap's --as-pid-1, the zygote reaps every orphan anyway).
        _prctl(PR_SET_DUMPABLE, 0)
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        # As the launcher does for a cold worker: a write past RLIMIT_FSIZE fails with EFBIG, not SIGXFSZ.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        # The kernel delivers a signal from inside the namespace to its init only if init handles it: Python's
        # SIGINT handler would let a hand-in raise KeyboardInterrupt here. Workers get it back after the fork.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for module in preload:
            try:
                importlib.import_module(module)
            except ImportError:
                pass  # the worker reports it the same way a cold worker would: by not having it
        importlib.import_module(WORKER_MODULE)
        _warm_up()
        # Objects that exist now are never collected: the GC then does not touch (and copy) their pages
        # in every worker.
        gc.collect()
        gc.freeze()
        threads = len(os.listdir("/proc/self/task"))
        if threads != 1:
            raise RuntimeError(f"the zygote runs {threads} threads after its imports; forking would be unsafe")
        self.baseline = {"modes": self._state()["modes"]}
        self._wipe()
        self.baseline = self._state()
        self.identity = own_settings()

    # --- the loop -------------------------------------------------------------------------------------------

    def serve(self) -> None:
        self._send({"event": "ready", "pid": os.getpid()})
        while True:
            waiting = [self.control] + ([self.child_fd] if self.child_fd is not None else [])
            readable, _, _ = select.select(waiting, [], [], None if self.child_fd is not None or
                                           self.child is None else 0.01)
            if self.child is not None and (self.child_fd in readable or self.child_fd is None):
                self._check_child()
            if self.control in readable:
                data, fds, _, _ = socket.recv_fds(self.control, MAX_MESSAGE, 8)
                if not data:
                    return  # the grader is gone
                message = json.loads(data)
                if message.get("op") == "spawn":
                    self._spawn(fds)
                    continue
                for fd in fds:
                    os.close(fd)
                if message.get("op") == "reset":
                    self._reset()
                elif message.get("op") == "quit":
                    return

    def _send(self, message: dict) -> None:
        self.control.send(json.dumps(message).encode())

    def _spawn(self, fds: list[int]) -> None:
        changed = self._changed_settings()
        if self.child is not None or len(fds) != 4 or changed:
            for fd in fds:
                os.close(fd)
            self._send({"event": "error", "message": "a worker is still running" if self.child is not None
                        else f"spawn needs 4 file descriptors, got {len(fds)}" if len(fds) != 4
                        else f"the zygote was changed, it must be replaced: {changed}"})
            return
        pid = os.fork()
        if pid == 0:
            try:
                _become_worker(fds, self.control)
            finally:
                os._exit(WorkerExit.SETUP_FAILED)
        for fd in fds:
            os.close(fd)
        self.child, self.child_status = pid, None
        try:
            self.child_fd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.child_fd = None  # no pidfds (old kernel): the loop polls instead
        self._send({"event": "spawned", "pid": pid})

    def _check_child(self) -> None:
        """The worker ended (or, without pidfds, maybe): kill what it left running, then say how it ended."""
        if self.child_fd is None:
            try:
                pid, status = os.waitpid(self.child, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.child, 0
            if pid == 0:
                return
            self.child_status = status
        # A cold sandbox ends with its worker: so does everything the worker started here.
        self._kill_all()
        self._child_gone()

    def _child_gone(self) -> None:
        if self.child is None:
            return
        status = self.child_status if self.child_status is not None else 9  # never reaped: count it as killed
        if self.child_fd is not None:
            os.close(self.child_fd)
        self.child, self.child_fd, self.child_status = None, None, None
        self._send({"event": "exit", "status": exit_code(status)})

    def _reset(self) -> None:
        problems = [] if self._kill_all() else ["processes survived SIGKILL"]
        self._child_gone()
        try:
            self._wipe()
        except (OSError, RecursionError) as exc:  # e.g. a tree nested deeper than we recurse: start afresh
            problems.append(f"cannot empty a writable mount: {exc}")
        try:
            state = self._state()
        except OSError as exc:
            state, problems = {}, [*problems, f"cannot look at the sandbox: {exc}"]
        problems += [f"{key} differs: {state[key]!r}" for key in state if state[key] != self.baseline.get(key)]
        changed = self._changed_settings()
        if changed:
            problems.append(f"the zygote was changed: {changed}")
        self._send({"event": "clean"} if not problems else {"event": "dirty", "why": "; ".join(problems)[:2000]})

    def _changed_settings(self) -> str:
        """What of this process's limits, priority, scheduling or affinity differs from when it was prepared
        (a hand-in that got past the seccomp filter, or a kernel path it does not cover); empty if nothing."""
        now = own_settings()
        return "; ".join(f"{key} {self.identity.get(key)!r} -> {now[key]!r}" for key in now
                         if now[key] != self.identity.get(key))[:1000]

    # --- cleaning -------------------------------------------------------------------------------------------

    def _kill_all(self) -> bool:
        """SIGKILL every other process of the namespace (kill(-1) spares us and init) and reap them all."""
        deadline = time.monotonic() + KILL_TIMEOUT_SECONDS
        while True:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                if pid == self.child:
                    self.child_status = status
            if not _other_processes():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)

    def _wipe(self) -> None:
        # Modes back first, outermost first: a hand-in may have locked a folder that leads to a mount (the next
        # hand-in must reach the package), and even its owner cannot pass a folder without the search bit.
        for path in sorted([*self.writable, *self.leading], key=lambda p: p.rstrip("/").count("/")):
            os.chmod(path, self.baseline["modes"][path])
        for root in self.writable:
            for name in os.listdir(root):
                _remove(os.path.join(root, name), self.keep)

    def _state(self) -> dict:
        """What must be the same before every hand-in: mounts empty, nothing running, no IPC objects."""
        return {
            "modes": {root: stat.S_IMODE(os.stat(root).st_mode) for root in [*self.writable, *self.leading]},
            "files": {root: sorted(os.listdir(root)) for root in self.writable},
            "mounts": sorted(_mount_points_under(self.writable)),
            "processes": _other_processes(),
            "ipc": {kind: _read_lines(f"/proc/sysvipc/{kind}")[1:] for kind in ("shm", "msg", "sem")},
        }


def _warm_up() -> None:
    """Do once what every worker's set-up does first, so that workers do not each pay for it: seeding
    imports numpy.random (numpy loads it lazily) and builds torch's default generator. Every worker seeds
    again with its hand-in's seed, so it ends up exactly where a cold worker is after its set-up."""
    import random

    random.seed(0)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(0)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(0)
        sys.modules["torch"].set_num_threads(1)


def own_settings() -> dict:
    """Everything about this process that a worker inherits at its fork and that another process of the same
    user could change from outside: rlimits (prlimit), nice (setpriority), scheduling policy and priority,
    CPU affinity, and the values written through /proc (oom_score_adj, the autogroup's nice)."""
    import resource

    settings: dict = {name: resource.getrlimit(getattr(resource, name)) for name in sorted(dir(resource))
                      if name.startswith("RLIMIT_")}
    settings["nice"] = os.getpriority(os.PRIO_PROCESS, 0)
    settings["scheduler"] = os.sched_getscheduler(0)
    settings["sched_priority"] = os.sched_getparam(0).sched_priority
    settings["affinity"] = sorted(os.sched_getaffinity(0))
    for name in ("oom_score_adj", "autogroup", "timerslack_ns"):
        lines = _read_lines(f"/proc/self/{name}")
        # The autogroup's line carries a counter that changes as groups are made: keep only its nice.
        settings[name] = lines[0].rsplit(" ", 1)[-1] if lines else None
    return settings


def _other_processes() -> list[int]:
    me = os.getpid()
    return sorted(int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) not in (1, me))


def _read_lines(path: str) -> list[str]:
    try:
        with open(path) as handle:
            return handle.read().splitlines()
    except OSError:
        return []


def _remove(path: str, keep: frozenset[str] = frozenset()) -> None:
    """Delete a file or a directory tree a worker made, whatever modes it gave them (we own them: same user).
    Nothing else runs in the sandbox by now, so nothing can swap a directory for a symlink meanwhile.
    Mount points in `keep`, and the folders that lead to them, stay (their other contents go)."""
    if path in keep:
        return
    if os.path.isdir(path) and not os.path.islink(path):
        leads_to_kept = any(point.startswith(path + "/") for point in keep)
        if not leads_to_kept:
            os.chmod(path, 0o700)
        for name in os.listdir(path):
            _remove(os.path.join(path, name), keep)
        if not leads_to_kept:
            os.rmdir(path)
    else:
        os.unlink(path)


def _mount_points_under(roots: list[str]) -> frozenset[str]:
    """Mount points strictly inside the given mounts, from this process's /proc/self/mountinfo."""
    points = set()
    for line in _read_lines("/proc/self/mountinfo"):
        fields = line.split(" ")
        if len(fields) < 5:
            continue
        # mountinfo writes space, tab, newline and backslash in octal (\040)
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        if any(point.startswith(root.rstrip("/") + "/") for root in roots):
            points.add(point)
    return frozenset(points)


def _parents_within(point: str, roots: list[str]) -> list[str]:
    """The folders between the innermost writable mount that holds `point` and `point` itself."""
    holder = max((root.rstrip("/") for root in roots if point.startswith(root.rstrip("/") + "/")), key=len)
    parents = []
    parent = os.path.dirname(point)
    while parent != holder:
        parents.append(parent)
        parent = os.path.dirname(parent)
    return parents


# --- the worker's side of the fork ---------------------------------------------------------------------------


def _become_worker(fds: list[int], control: socket.socket) -> None:
    """In the forked child: wait for a hand-in, then become its worker exactly as a cold one would start.
    Never returns."""
    stdin, stdout, stderr, handshake_fd = fds
    os.setsid()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a cold worker (the zygote ignores it)
    # Our own /proc files readable again, as for any process (the zygote hides its own); the OOM killer
    # takes workers before anything else.
    _prctl(PR_SET_DUMPABLE, 1)
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")
    except OSError:
        pass
    # The grader reads our pid from the credentials the kernel attaches to this hello, moves us into the
    # hand-in's cgroup, and then sends the orders: workdir, environment, rlimits.
    handshake = socket.socket(fileno=handshake_fd)
    handshake.send(b"hello")
    data = handshake.recv(MAX_MESSAGE)
    if not data:
        os._exit(WorkerExit.SETUP_FAILED)  # not needed after all
    handshake.close()
    control.detach()  # closed below with every other inherited descriptor
    for target, fd in enumerate((stdin, stdout, stderr)):
        os.dup2(fd, target)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    try:
        from grader.execution.limits import apply_rlimits

        orders = json.loads(data)
        apply_rlimits({name: tuple(value) for name, value in orders["rlimits"].items()})
        os.environ.clear()
        os.environ.update(orders["env"])
        tempfile.tempdir = None  # computed again from the new TMPDIR
        workdir = orders["workdir"]
        os.makedirs(workdir, exist_ok=True)
        shutil.copytree(orders["inbox"], workdir, symlinks=True, dirs_exist_ok=True)
        for key in ("HOME", "TMPDIR"):
            os.makedirs(os.environ[key], exist_ok=True)
        os.chdir(workdir)
        os.environ["PWD"] = workdir  # a cold worker inherits it from the shell that copies its files
    except (OSError, KeyError, ValueError, shutil.Error) as exc:
        os.write(2, f"grader zygote: cannot set up the worker: {exc}\n".encode(errors="replace"))
        os._exit(WorkerExit.SETUP_FAILED)
    worker = sys.modules[WORKER_MODULE]
    sys.argv = [worker.__file__]
    worker.main()  # ends the process with os._exit


def main(argv: list[str]) -> None:
    spec = json.loads(argv[0])
    control = socket.socket(fileno=spec["control_fd"])
    zygote = Zygote(control, list(spec["writable"]))
    try:
        zygote.prepare(list(spec["preload"]))
    except Exception as exc:  # reported to the grader, which falls back to cold workers
        control.send(json.dumps({"event": "failed", "message": f"{type(exc).__name__}: {exc}"}).encode())
        raise
    zygote.serve()


if __name__ == "__main__":
    main(sys.argv[1:])

"""A warm, sandboxed worker pool: the ``Sandbox`` a batch uses so that a hand-in pays for its own compute only.

A cold worker costs bubblewrap plus a fresh Python plus ``import torch`` (about 2 s) per hand-in. The pool keeps
one long-lived bubblewrap sandbox per job slot whose program is a *zygote* (``zygote.py``): it has imported
the rubric's preload modules and the worker once and forks a fresh worker for every hand-in. To the runner
the pool is just another sandbox: ``launch`` returns a Popen-like handle with stdin/stdout/stderr pipes,
``kill`` ends it and returns the same ``ExitInfo`` verdicts as ``BubblewrapSandbox``.

What stays as in a cold sandbox: the same bubblewrap options (namespaces, read-only system, no network,
capabilities dropped, scrubbed environment), the same per-process rlimits, and a cgroup with the same memory
and process limits; it is one per slot and holds the zygote too, as a cold worker's holds its own imports
(the workers' oom_score_adj of 1000 makes the OOM killer take them first; OOM kills and the peak are read per
hand-in). What changes: the hand-ins of one slot run one after another in the same namespaces, so between
two of them the zygote kills every process, empties /tmp, /dev/shm and the workdir, and checks that no
process, file or System V IPC object is left. Two things it could not list cannot be made at all: kernel
keys (a seccomp filter denies the keyring calls) and POSIX message queues (RLIMIT_MSGQUEUE is 0). If
anything is left, or the zygote does not answer, the whole sandbox is killed and a fresh one started.
Every worker forks from the zygote's clean memory, so nothing a hand-in changes in its modules reaches the
next. The next worker is forked while the grader judges the hand-in before. See docs/performance.md.

Launches the pool cannot serve warm (another program, workdir outside the temp folder, other read-only
paths) go to the cold sandbox it wraps, as does everything once zygotes fail to start.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import queue
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import grader
from grader.execution.limits import CgroupJail, ResourceLimits, launcher_argv
from grader.execution.protocol import WORKER_ARGS, ZYGOTE_MODULE
from grader.execution.seccomp import slot_filter
from grader.execution.sandbox import (
    SEAL_ARGS,
    BubblewrapSandbox,
    ExitInfo,
    Sandbox,
    check_launch,
    describe_exit,
    scrubbed_env,
)

INBOX = "/run/grader-inbox"  # the slot's inbox, read-only inside the sandbox
START_TIMEOUT_SECONDS = 180.0  # import torch on a loaded machine
REPLY_TIMEOUT_SECONDS = 10.0
# A slot's cgroup holds bubblewrap, its init, the zygote and the hand-in's worker tree; a cold sandbox's holds
# bubblewrap, its init and the worker tree. One more task keeps the worker's room the same.
ZYGOTE_EXTRA_PROCESSES = 1
MAX_MESSAGE = 1 << 16
_CREDENTIALS = struct.Struct("iII")
class PoolError(RuntimeError):
    """A zygote could not be started or stopped answering; the message says which slot and why."""


@dataclass
class PoolStats:
    """What the pool did, for the benchmark and for tests that must know a launch was warm."""

    warm_launches: int = 0
    cold_launches: int = 0
    zygotes_started: int = 0
    zygotes_replaced: int = 0  # thrown away after a hand-in: it died, hung, or left something behind
    replaced_because: list[str] = field(default_factory=list)


class PoolProcess:
    """The grader's handle on one pooled worker: what the runner uses of ``subprocess.Popen``.

    ``returncode`` follows bubblewrap's convention (exit code, or 128+N for signal N), like the cold sandbox.
    """

    def __init__(self, stdin_fd: int, stdout_fd: int, stderr_fd: int) -> None:
        self.stdin = open(stdin_fd, "wb")  # noqa: SIM115 - closed by the runner / garbage collection
        self.stdout = open(stdout_fd, "rb")  # noqa: SIM115
        self.stderr = open(stderr_fd, "rb")  # noqa: SIM115
        self.pid = 0  # the host pid, once the worker has said hello
        self.returncode: int | None = None
        self._ended = threading.Event()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(f"pooled worker {self.pid}", timeout)
        assert self.returncode is not None
        return self.returncode

    def _end(self, returncode: int) -> None:
        if self.returncode is None:
            self.returncode = returncode
            self._ended.set()


class _Zygote:
    """The grader's side of one zygote: its bubblewrap process, control socket, and the worker it runs now."""

    def __init__(self, proc: subprocess.Popen, control: socket.socket, jail: CgroupJail | None, slot: int,
                 timeout: float, started_for: tuple[tuple, dict[str, str], ResourceLimits]) -> None:
        self.proc, self.control, self.jail, self.slot, self.timeout = proc, control, jail, slot, timeout
        self.key, self.env, self.limits = started_for  # what it was started with, to start a replacement alike
        self.jail_limits = self.limits  # the memory and process limits its cgroup has now
        self.replies: queue.Queue[dict | None] = queue.Queue()
        self.current: PoolProcess | None = None  # the worker whose exit the zygote reports next
        self.dead = False
        self.stderr = bytearray()
        threading.Thread(target=self._read_control, name=f"zygote-{slot}", daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_control(self) -> None:
        while True:
            try:
                data = self.control.recv(MAX_MESSAGE)
                message = json.loads(data) if data else None
            except (OSError, ValueError):
                message = None
            if message is None:
                break
            if message.get("event") == "exit":
                if self.current is not None:
                    self.current._end(int(message.get("status", 137)))
            else:
                self.replies.put(message)
        # The zygote is gone, and with its sandbox every worker in it.
        self.dead = True
        try:
            status = self.proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            status = self.proc.wait()
        if self.current is not None:
            self.current._end(128 - status if status < 0 else (status or 137))
        self.replies.put(None)

    def _read_stderr(self) -> None:
        for chunk in iter(lambda: self.proc.stderr.read(4096), b""):
            self.stderr = (self.stderr + chunk)[-8000:]

    def send(self, message: dict, fds: Sequence[int] = ()) -> None:
        try:
            socket.send_fds(self.control, [json.dumps(message).encode()], list(fds))
        except OSError as exc:
            raise PoolError(f"zygote of slot {self.slot} cannot be reached: {exc}") from None

    def reply(self, timeout: float | None = None) -> dict:
        """The zygote's next answer; PoolError when it is dead or silent for ``timeout`` seconds."""
        timeout = self.timeout if timeout is None else timeout
        try:
            answer = self.replies.get(timeout=timeout)
        except queue.Empty:
            raise PoolError(f"zygote of slot {self.slot} did not answer within {timeout:g} s") from None
        if answer is None:
            self.replies.put(None)  # every later caller learns it too
            raise PoolError(f"zygote of slot {self.slot} ended: {self.stderr.decode(errors='replace')[-2000:]}")
        return answer

    def request(self, message: dict, fds: Sequence[int] = ()) -> dict:
        self.send(message, fds)
        return self.reply()

    def destroy(self) -> None:
        """Kill the whole sandbox (bubblewrap takes its PID namespace with it) and its cgroup."""
        self.dead = True
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            pass
        self.control.close()
        if self.jail is not None:
            self.jail.remove()


@dataclass
class _Prepared:
    """A worker forked ahead of its hand-in, waiting for its orders on ``shake``."""

    zygote: _Zygote
    handle: PoolProcess
    shake: socket.socket

    def discard(self) -> None:
        """Close our ends (the worker, if still alive, is killed by the zygote's next reset or its death)."""
        self.shake.close()
        for stream in (self.handle.stdin, self.handle.stdout, self.handle.stderr):
            stream.close()


@dataclass
class _Slot:
    index: int
    inbox: Path
    zygote: _Zygote | None = None
    starting: Future | None = None  # a zygote being started in the background
    prepared: _Prepared | None = None


@dataclass
class _Running:
    slot: _Slot
    zygote: _Zygote
    oom_kills_before: int  # the slot's cgroup counts OOM kills since it was made: this hand-in's is the difference


class WarmPool(Sandbox):
    """``slots`` warm zygotes in bubblewrap; one hand-in at a time per slot. Call ``close`` when done."""

    name = "bubblewrap-pool"

    def __init__(self, base: BubblewrapSandbox, *, slots: int, preload: Sequence[str] = ("numpy",),
                 memory_budget_bytes: int | None = None, reply_timeout: float = REPLY_TIMEOUT_SECONDS) -> None:
        super().__init__()
        if slots < 1:
            raise ValueError(f"a pool needs at least one slot, got {slots}")
        self.base = base
        self.preload = tuple(preload)
        self.reply_timeout = reply_timeout  # how long a zygote may take to fork or clean up before it is replaced
        self.package_dir = Path(grader.__file__).resolve().parent
        # The runner makes each workdir with mkdtemp() in the host's temp folder: the zygotes have a private
        # tmpfs at that path, in which each worker creates its workdir under the same name.
        self.workdir_root = Path(os.path.abspath(tempfile.gettempdir()))
        self._home = Path(tempfile.mkdtemp(prefix="grader-pool-"))
        self._slots = [_Slot(i, self._home / f"inbox-{i}") for i in range(slots)]
        self._free: queue.Queue[_Slot] = queue.Queue()
        for slot in self._slots:
            slot.inbox.mkdir(mode=0o700)
            self._free.put(slot)
        self._pool_running: dict[PoolProcess, _Running] = {}
        self._cold: set[subprocess.Popen] = set()
        self._sandboxes: list[subprocess.Popen] = []  # every zygote's bubblewrap, so close() can kill them at once
        self._state_lock = threading.Lock()
        self._closed = False
        self.stats = PoolStats()
        self.broken: str | None = None  # why zygotes cannot serve here: every launch then goes cold
        budget = memory_budget_bytes or memory_budget()
        self._pool_jail = CgroupJail.create(ResourceLimits(memory_bytes=budget, max_processes=2**20),
                                            prefix="grader-pool") if self._cgroups["any"] else None
        # bubblewrap's --die-with-parent fires when the *thread* that started it ends: start every zygote
        # from this one long-lived thread. Waiting for imports and cleaning up run beside it.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pool-spawner")
        self._helpers = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="pool-helper")

    # --- the Sandbox interface ---------------------------------------------------------------------------------

    def protections(self) -> dict[str, bool]:
        return self.base.protections()

    def launch(self, argv: list[str], *, workdir: Path, limits: ResourceLimits, env: dict[str, str],
               visible_readonly: Sequence[Path] = ()) -> subprocess.Popen:
        workdir, readonly = check_launch(argv, workdir=workdir, env=env, visible_readonly=visible_readonly)
        if self._cold_reason(argv, workdir, readonly) is None:
            slot = self._free.get()  # back in the queue once the hand-in is killed and the slot cleaned
            try:
                return self._launch_warm(slot, workdir, limits, env)  # type: ignore[return-value]
            except PoolError as exc:
                self._free.put(slot)
                self.broken = f"warm workers failed twice, cold from now on: {exc}"
            except BaseException:
                self._free.put(slot)
                raise
        proc = self.base.launch(argv, workdir=workdir, limits=limits, env=env, visible_readonly=visible_readonly)
        proc.sandbox_name = self.base.name  # what this hand-in really got: the runner records it
        with self._state_lock:
            self._cold.add(proc)
            self.stats.cold_launches += 1
        return proc

    def kill(self, proc) -> ExitInfo:
        with self._state_lock:
            cold = proc in self._cold
            self._cold.discard(proc)
            running = None if cold else self._pool_running.pop(proc, None)
        if cold:
            return self.base.kill(proc)
        if running is None:
            raise ValueError(f"process {proc.pid} was not launched by this pool, or was already killed")
        killed_by_grader = proc.poll() is None
        zygote = running.zygote
        problem = None if not zygote.dead else "the zygote ended"
        if problem is None:
            try:
                zygote.send({"op": "reset"})  # kills the worker and all it started, then cleans up
            except PoolError as exc:
                problem = str(exc)
        try:
            proc.wait(timeout=self.reply_timeout)
        except subprocess.TimeoutExpired:
            problem = f"zygote of slot {running.slot.index} did not answer within {self.reply_timeout:g} s"
            zygote.destroy()  # the whole sandbox goes, the worker with it
            try:
                proc.wait(timeout=self.reply_timeout)
            except subprocess.TimeoutExpired:
                proc._end(137)
        oom_kills, peak = 0, None
        if zygote.jail is not None:  # still there if the zygote died by itself (removed when it is replaced)
            oom_kills = max(0, zygote.jail.oom_kills() - running.oom_kills_before)
            peak = zygote.jail.peak_memory_bytes()
        # Checking the clean-up and forking the next worker happen while the grader judges this hand-in.
        try:
            self._helpers.submit(self._recycle, running, problem)
        except RuntimeError:  # the pool is closing: no helper threads any more
            self._recycle(running, problem)
        return describe_exit(proc.returncode, oom_kills=oom_kills, killed_by_grader=killed_by_grader,
                             signal_in_status=True, peak_memory_bytes=peak)

    def _start(self, argv, *, workdir, limits, env, readonly, jail):  # pragma: no cover - launch is overridden
        raise NotImplementedError

    def _kill_tree(self, proc):  # pragma: no cover - kill is overridden
        raise NotImplementedError

    def _kill_leftovers(self) -> None:
        self.close()

    # --- warming and closing ----------------------------------------------------------------------------------

    def prestart(self, *, seed: int, limits: ResourceLimits) -> None:
        """Start every slot's zygote (and its first worker) in the background for workers of this seed and
        these limits; returns at once."""
        env = scrubbed_env(self.workdir_root / "grader-run-prestart" / ".home", seed)
        for slot in self._slots:
            if slot.zygote is None and slot.starting is None and self.broken is None:
                slot.starting = self._helpers.submit(self._warm, slot, self._key(env, limits), env, limits)

    def close(self) -> None:
        """Kill every zygote and worker, remove the cgroups and inboxes. Later launches are cold."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            self.broken = "the pool is closed"
            cold = list(self._cold)
            running = list(self._pool_running.values())
            self._pool_running.clear()
            sandboxes = list(self._sandboxes)
        # Killed first, so that zygotes still importing end now instead of being waited for.
        for proc in sandboxes:
            if proc.poll() is None:
                proc.kill()
        for proc in cold:
            try:
                self.kill(proc)
            except (OSError, ValueError):
                pass
        self._helpers.shutdown(wait=True)  # recycling and warming in progress end first (quickly: all is killed)
        for slot in self._slots:
            if slot.starting is not None:
                try:
                    slot.zygote = slot.starting.result()
                except Exception:  # noqa: BLE001 - a failed start leaves nothing to stop
                    slot.zygote = None
                slot.starting = None
            if slot.prepared is not None:
                slot.prepared.discard()
                slot.prepared = None
            if slot.zygote is not None:
                slot.zygote.destroy()
                slot.zygote = None
        for entry in running:
            entry.zygote.destroy()
        if self._pool_jail is not None:
            self._pool_jail.remove()
        self._spawner.shutdown(wait=False)
        shutil.rmtree(self._home, ignore_errors=True)

    # --- internals --------------------------------------------------------------------------------------------

    def _cold_reason(self, argv: list[str], workdir: Path, readonly: list[Path]) -> str | None:
        if self.broken is not None:
            return self.broken
        if list(argv) != [sys.executable, *WORKER_ARGS]:
            return "not the worker program"
        if workdir.parent != self.workdir_root:
            return f"workdir {workdir} is not directly in {self.workdir_root}"
        if any(path != self.package_dir for path in readonly):
            return "read-only paths other than the grader package"
        return None

    @staticmethod
    def _key(env: dict[str, str], limits: ResourceLimits) -> tuple:
        """What a zygote was started with that a worker cannot change after the fork: the environment the
        imports saw (PYTHONHASHSEED, thread counts, ...) and the size of its tmpfs mounts."""
        return (tuple(sorted((k, v) for k, v in env.items() if k not in ("HOME", "TMPDIR"))), limits.max_disk_bytes)

    def _launch_warm(self, slot: _Slot, workdir: Path, limits: ResourceLimits, env: dict[str, str]) -> PoolProcess:
        key = self._key(env, limits)
        for attempt in (1, 2):
            try:
                zygote = self._zygote_for(slot, key, env, limits)
                prepared = self._take_prepared(slot, zygote) or self._prepare(slot, zygote)
                return self._give_orders(slot, prepared, workdir, limits, env)
            except PoolError as exc:
                self._replace(slot, str(exc))
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _zygote_for(self, slot: _Slot, key: tuple, env: dict[str, str], limits: ResourceLimits) -> _Zygote:
        if slot.starting is not None:
            future, slot.starting = slot.starting, None
            try:
                slot.zygote = future.result()
            except Exception:  # noqa: BLE001 - started again below, and that error is the one reported
                slot.zygote = None
        if slot.zygote is not None and (slot.zygote.dead or slot.zygote.key != key):
            if slot.prepared is not None:
                slot.prepared.discard()
                slot.prepared = None
            slot.zygote.destroy()
            slot.zygote = None
        if slot.zygote is None:
            slot.zygote = self._start_zygote(slot, key, env, limits)
        return slot.zygote

    def _warm(self, slot: _Slot, key: tuple, env: dict[str, str], limits: ResourceLimits) -> _Zygote:
        zygote = self._start_zygote(slot, key, env, limits)
        if self._closed:
            zygote.destroy()
            raise PoolError("the pool was closed while the zygote started")
        try:
            slot.prepared = self._prepare(slot, zygote)
        except PoolError:
            slot.prepared = None  # the launch forks one itself
        return zygote

    def _start_zygote(self, slot: _Slot, key: tuple, env: dict[str, str], limits: ResourceLimits) -> _Zygote:
        host_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        data_fds: list[int] = []
        jail = None
        try:
            root = str(self.workdir_root)
            disk = limits.max_disk_bytes
            # /tmp holds the workdir when it is the temp folder: room for both, as a cold sandbox has.
            tmpfs = [("/dev/shm", disk), ("/tmp", 2 * disk if root == "/tmp" else disk)]
            if root != "/tmp":
                tmpfs.append((root, disk))
            zygote_env = {**env, "HOME": root, "TMPDIR": root}
            command = self.base.command_prefix(home=Path(root), readonly=[self.package_dir], tmpfs=tmpfs,
                                               data_fds=data_fds)
            seccomp = slot_filter()
            if seccomp is None:
                raise PoolError(f"no seccomp filter for {platform.machine()}: the hand-ins of a slot could pass "
                                "kernel keys to each other and re-limit or trace the zygote")
            seccomp_fd = _bytes_fd(seccomp)
            data_fds.append(seccomp_fd)
            command += ["--seccomp", str(seccomp_fd)]
            command += ["--ro-bind", str(slot.inbox), INBOX, *SEAL_ARGS, "--chdir", "/"]
            # The zygote is the sandbox's PID 1 (no bubblewrap init): the kernel then ignores every signal a
            # hand-in sends it (SIGKILL and SIGSTOP included), and it reaps every orphan. bubblewrap's own
            # init would be a same-user, dumpable process that outlives every hand-in of the slot.
            command += ["--as-pid-1"]
            spec = {"control_fd": zygote_end.fileno(), "preload": list(self.preload),
                    "writable": [path for path, _ in tmpfs]}
            command += ["--", sys.executable, "-s", "-P", "-m", ZYGOTE_MODULE, json.dumps(spec)]
            if self._pool_jail is not None:
                # One cgroup for the slot, the zygote included: moving each worker into a cgroup of its own
                # costs ~10 ms per hand-in (measured). The workers' oom_score_adj of 1000 makes the OOM
                # killer take them, not the zygote; OOM kills and the peak are read per hand-in as differences.
                jail = CgroupJail.create(dataclasses.replace(limits, max_processes=limits.max_processes
                                                             + ZYGOTE_EXTRA_PROCESSES),
                                         parent=self._pool_jail, prefix="grader-slot")
            argv = launcher_argv({"RLIMIT_CORE": (0, 0)}, jail.procs_files if jail else [], command)
            proc = self._spawner.submit(
                subprocess.Popen, argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, env=zygote_env, cwd="/", start_new_session=True,
                pass_fds=[*data_fds, zygote_end.fileno()]).result()
            with self._state_lock:
                self._sandboxes = [p for p in self._sandboxes if p.poll() is None] + [proc]
        except BaseException:
            host_end.close()
            if jail is not None:
                jail.remove()
            raise
        finally:
            zygote_end.close()
            for fd in data_fds:
                os.close(fd)
        zygote = _Zygote(proc, host_end, jail, slot.index, self.reply_timeout, (key, env, limits))
        try:
            ready = zygote.reply(START_TIMEOUT_SECONDS)
        except PoolError:
            zygote.destroy()
            raise
        if ready.get("event") != "ready":
            zygote.destroy()
            raise PoolError(f"zygote of slot {slot.index} failed to start: {ready.get('message')}")
        with self._state_lock:
            self.stats.zygotes_started += 1
        return zygote

    def _prepare(self, slot: _Slot, zygote: _Zygote) -> _Prepared:
        """Fork a worker; it waits for a hand-in."""
        pipes = [os.pipe() for _ in range(3)]  # stdin, stdout, stderr: (read end, write end)
        shake, shake_worker = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        shake.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        handle = PoolProcess(pipes[0][1], pipes[1][0], pipes[2][0])
        worker_fds = [pipes[0][0], pipes[1][1], pipes[2][1], shake_worker.fileno()]
        prepared = _Prepared(zygote, handle, shake)
        zygote.current = handle
        try:
            answer = zygote.request({"op": "spawn"}, worker_fds)
            if answer.get("event") != "spawned":
                raise PoolError(f"zygote of slot {slot.index} refused to fork: {answer}")
            host_pid = _hello(shake, self.reply_timeout)
            if host_pid is None:
                raise PoolError(f"the worker forked in slot {slot.index} did not say hello")
            handle.pid = host_pid
        except PoolError:
            zygote.current = None
            prepared.discard()
            raise
        finally:
            for fd in worker_fds[:3]:
                os.close(fd)
            shake_worker.close()
        return prepared

    def _take_prepared(self, slot: _Slot, zygote: _Zygote) -> _Prepared | None:
        """The slot's waiting worker if it is still there for this zygote."""
        prepared, slot.prepared = slot.prepared, None
        if prepared is None:
            return None
        if prepared.zygote is zygote and not zygote.dead and prepared.handle.poll() is None:
            return prepared
        prepared.discard()
        if prepared.zygote is zygote and not zygote.dead:
            answer = zygote.request({"op": "reset"})
            if answer.get("event") != "clean":
                raise PoolError(f"zygote of slot {slot.index} left something behind: {answer.get('why')}")
        return None

    def _give_orders(self, slot: _Slot, prepared: _Prepared, workdir: Path, limits: ResourceLimits,
                     env: dict[str, str]) -> PoolProcess:
        """Hand the waiting worker its hand-in: files into the slot's inbox, then where and how to run."""
        zygote, jail = prepared.zygote, prepared.zygote.jail
        rlimits = self.base._rlimits(limits, jail)
        # Each cold sandbox has its own IPC namespace; here a message queue could outlive its hand-in, and
        # unlike System V objects the zygote cannot list them: allow none.
        rlimits["RLIMIT_MSGQUEUE"] = (0, 0)
        orders = json.dumps({"workdir": str(workdir), "env": env, "rlimits": rlimits, "inbox": INBOX}).encode()
        try:
            if len(orders) > MAX_MESSAGE:
                raise PoolError(f"the worker's orders are {len(orders)} bytes, more than {MAX_MESSAGE}")
            oom_kills_before = 0
            if jail is not None:
                if (zygote.jail_limits.memory_bytes, zygote.jail_limits.max_processes) != \
                        (limits.memory_bytes, limits.max_processes):
                    jail.set_limits(limits, extra_processes=ZYGOTE_EXTRA_PROCESSES)
                    zygote.jail_limits = limits
                jail.reset_peak_memory()
                oom_kills_before = jail.oom_kills()
            _empty(slot.inbox)
            shutil.copytree(workdir, slot.inbox, symlinks=True, dirs_exist_ok=True)
            prepared.shake.send(orders)
        except (OSError, PoolError) as exc:
            zygote.current = None
            prepared.discard()
            raise PoolError(f"the waiting worker of slot {slot.index} cannot take its hand-in: {exc}") from None
        prepared.shake.close()
        with self._state_lock:
            self._pool_running[prepared.handle] = _Running(slot, zygote, oom_kills_before)
            self.stats.warm_launches += 1
        return prepared.handle

    def _recycle(self, running: _Running, problem: str | None) -> None:
        """After a hand-in: check the zygote's clean-up, fork the next worker, give the slot back.

        ``problem``: why the zygote is known to be unusable already (then it is replaced)."""
        slot, zygote = running.slot, running.zygote
        try:
            why = problem if problem is not None or not zygote.dead else "the zygote ended"
            if why is None:
                try:
                    answer = zygote.reply()
                    if answer.get("event") != "clean":
                        why = f"left something behind: {answer.get('why')}"
                except PoolError as exc:
                    why = str(exc)
            zygote.current = None
            _empty(slot.inbox)
            if why is None and not self._closed:
                try:
                    slot.prepared = self._prepare(slot, zygote)
                except PoolError as exc:
                    why = str(exc)
            if why is not None:
                self._replace(slot, why)
                if not self._closed and self.broken is None:
                    try:
                        slot.starting = self._helpers.submit(self._warm, slot, zygote.key, zygote.env,
                                                             zygote.limits)
                    except RuntimeError:
                        pass  # closing
        finally:
            self._free.put(slot)

    def _replace(self, slot: _Slot, why: str) -> None:
        """Throw the slot's zygote away (the next launch, or a background start, brings a fresh one)."""
        with self._state_lock:
            if not self._closed:  # closing kills every zygote: that is no replacement
                self.stats.zygotes_replaced += 1
                self.stats.replaced_because.append(why[:500])
        if slot.prepared is not None:
            slot.prepared.discard()
            slot.prepared = None
        if slot.zygote is not None:
            slot.zygote.destroy()
            slot.zygote = None


def _hello(shake: socket.socket, timeout: float) -> int | None:
    """The worker's host pid, from the credentials the kernel attached to its first message (translated
    into our PID namespace); None if it died before saying anything."""
    shake.settimeout(timeout)
    try:
        _, ancillary, _, _ = shake.recvmsg(16, socket.CMSG_SPACE(_CREDENTIALS.size))
    except (TimeoutError, OSError):
        return None
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(data) >= _CREDENTIALS.size:
            pid, _, _ = _CREDENTIALS.unpack(data[:_CREDENTIALS.size])
            return pid if pid > 0 else None
    return None


def _bytes_fd(data: bytes) -> int:
    """A pipe's read end holding ``data`` (smaller than the pipe buffer), for bubblewrap to read."""
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    return read_end


def _empty(directory: Path) -> None:
    """Remove everything inside a host directory we own (only the grader ever writes there)."""
    for entry in list(directory.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def memory_budget() -> int:
    """What all workers of a pool may use together: physical memory less a reserve for the system and the
    grader (the larger of 2 GiB and a tenth), so that no --jobs setting makes the machine swap."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**62
    return max(2**30, total - max(2 * 2**30, total // 10))

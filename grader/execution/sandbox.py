"""Turn "run this argv for this hand-in" into a contained process.

Two implementations behind one interface:

* ``BubblewrapSandbox`` (Linux with bubblewrap): new user, mount, PID, network, IPC, UTS and cgroup
  namespaces, all capabilities dropped, a read-only view of the system and the Python installation
  only, the hand-in in a size-capped throwaway tmpfs, plus the limits of ``limits.py``.
* ``ProcessSandbox`` (anywhere else, e.g. ``grader check`` on a laptop): a separate process in its own
  session with the same environment and rlimits, which reports honestly that network, filesystem and
  PID isolation are off.

Paths are the same inside and outside: the worker's cwd is ``workdir``'s path in both sandboxes, so the
caller can build the environment (HOME, TMPDIR) once. Under bubblewrap that path holds a *copy* of
``workdir`` in a tmpfs: nothing the hand-in writes reaches the host, and the grader never has to open a
file (or follow a symlink) that student code made. See docs/sandbox.md for what was measured.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.execution.limits import (
    CgroupJail,
    ResourceLimits,
    launcher_argv,
    rlimits_for,
    rlimits_supported,
)

# Where the host's copy of the hand-in is visible (read-only) inside bubblewrap, to be copied into the
# tmpfs at ``workdir`` before the worker starts.
HANDIN_SOURCE = "/run/grader-handin"
SANDBOX_USER = "student"
SANDBOX_UID = 1000
SANDBOX_GID = 1000
# The pieces of /etc a Python program needs: the dynamic linker's cache and config, the time zone,
# Debian's /usr/bin -> /etc/alternatives links. passwd, group and hosts are generated instead.
ETC_READONLY = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives", "mime.types")
# Top-level system directories that are either bound read-only or, on merged-/usr systems, re-created
# as the same symlinks.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
PROBE_TIMEOUT_SECONDS = 30
# The root and /dev are tmpfs that bubblewrap builds; left writable they would be an uncapped place to write.
SEAL_ARGS = ("--remount-ro", "/dev", "--remount-ro", "/")


class SandboxUnavailable(RuntimeError):
    """No sandbox with the required protections can run on this machine."""


@dataclass(frozen=True)
class ExitInfo:
    """How a worker ended, in words a report can show."""

    verdict: str  # "ok" | "memory limit exceeded" | "cpu time limit exceeded" | "killed by the grader"
    #               | "killed by signal N" | "exit status N"
    returncode: int | None
    signal: int | None = None
    oom_kills: int = 0
    peak_memory_bytes: int | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"


def describe_exit(
    returncode: int,
    *,
    oom_kills: int = 0,
    killed_by_grader: bool = False,
    signal_in_status: bool = False,
    peak_memory_bytes: int | None = None,
) -> ExitInfo:
    """Turn a return code (plus what the cgroup saw) into a verdict.

    ``signal_in_status``: the status came through bubblewrap, which exits with 128+N when the program
    it ran died of signal N (Popen sees a negative code only for its direct child). A program that
    itself calls ``exit(137)`` is then indistinguishable from one killed by SIGKILL; that is accepted.
    """
    signum: int | None = None
    if returncode < 0:
        signum = -returncode
    elif signal_in_status and 128 < returncode < 128 + signal.NSIG:
        signum = returncode - 128

    def info(verdict: str) -> ExitInfo:
        return ExitInfo(verdict, returncode, signum, oom_kills, peak_memory_bytes)

    if returncode == 0:
        return info("ok")
    # The OOM killer's SIGKILL looks like any other SIGKILL: the cgroup counter tells them apart.
    if oom_kills > 0:
        return info("memory limit exceeded")
    if killed_by_grader:
        return info("killed by the grader")
    if signum is not None:
        if signum == getattr(signal, "SIGXCPU", None):
            return info("cpu time limit exceeded")
        return info(f"killed by signal {signum}")
    return info(f"exit status {returncode}")


def scrubbed_env(home: Path, seed: int) -> dict[str, str]:
    """The complete environment of a worker: nothing is inherited from the grader.

    ``home`` must lie inside the worker's ``workdir`` (e.g. ``workdir / ".home"``): it is the only
    writable place. TMPDIR is a folder inside it, so temporary files are capped and thrown away too.
    """
    if not 0 <= seed <= 2**32 - 1:
        raise ValueError(f"seed {seed} is outside PYTHONHASHSEED's range 0..4294967295")
    home = Path(home)
    python_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": os.pathsep.join([python_bin, "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "USER": SANDBOX_USER,
        "LOGNAME": SANDBOX_USER,
        # One thread per numeric library: results do not depend on the core count, and parallel
        # workers do not fight over the CPUs.
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
        "PYTHONHASHSEED": str(seed),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        # Agg, with plt.show() taking the figures as the cell's (issue 19: figures of the grader's own run).
        "MPLBACKEND": "module://grader.execution.figure_backend",
    }
    if sys.platform == "win32":  # pragma: no cover - Python on Windows cannot start without these
        env["PATH"] = os.pathsep.join([python_bin, os.path.join(os.environ.get("SYSTEMROOT", r"C:\Windows"),
                                                                  "System32")])
        env["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", r"C:\Windows")
        env["TEMP"] = env["TMP"] = env["TMPDIR"]
    return env


@dataclass
class _Running:
    jail: CgroupJail | None


class Sandbox(ABC):
    """Starts workers; call ``kill`` once for every launched process, also after it ended by itself."""

    name: str

    def __init__(self) -> None:
        self._running: dict[subprocess.Popen, _Running] = {}
        self._lock = threading.Lock()
        self._cgroups = _cgroup_capabilities()
        # A worker the caller never killed (an exception on the way) must not outlive the grader.
        atexit.register(self._kill_leftovers)

    @abstractmethod
    def protections(self) -> dict[str, bool]:
        """Which protections are in force, for reports and for ``grader check`` to print."""

    def launch(
        self,
        argv: list[str],
        *,
        workdir: Path,
        limits: ResourceLimits,
        env: dict[str, str],
        visible_readonly: Sequence[Path] = (),
    ) -> subprocess.Popen:
        """Start ``argv`` (argv[0] an absolute path) with cwd ``workdir``; stdin/stdout/stderr are pipes."""
        workdir, readonly = check_launch(argv, workdir=workdir, env=env, visible_readonly=visible_readonly)
        jail = CgroupJail.create(limits) if self._cgroups["any"] else None
        try:
            proc = self._start(argv, workdir=workdir, limits=limits, env=env, readonly=readonly, jail=jail)
        except BaseException:
            if jail is not None:
                jail.remove()
            raise
        with self._lock:
            self._running[proc] = _Running(jail)
        return proc

    def kill(self, proc: subprocess.Popen) -> ExitInfo:
        """End the whole process tree (if anything still runs), clean up, and say how it ended."""
        with self._lock:
            running = self._running.pop(proc, None)
        if running is None:
            raise ValueError(f"process {proc.pid} was not launched by this sandbox, or was already killed")
        killed_by_grader = proc.poll() is None
        self._kill_tree(proc)
        proc.wait()
        oom_kills, peak = 0, None
        if running.jail is not None:
            oom_kills, peak = running.jail.oom_kills(), running.jail.peak_memory_bytes()
            running.jail.remove()  # kills stragglers first: a process that left the session or group
        return describe_exit(proc.returncode, oom_kills=oom_kills, killed_by_grader=killed_by_grader,
                             signal_in_status=self.name == "bubblewrap", peak_memory_bytes=peak)

    def _kill_leftovers(self) -> None:
        for proc in list(self._running):
            try:
                self.kill(proc)
            except (OSError, ValueError):
                pass

    def _common_protections(self) -> dict[str, bool]:
        return {
            "environment_scrubbed": True,
            "memory_cgroup": self._cgroups["memory"],
            "memory_rlimit": rlimits_supported() and sys.platform.startswith("linux"),
            "process_limit": self._cgroups["pids"] or (rlimits_supported() and _is_unprivileged()),
            "cpu_rlimit": rlimits_supported(),
            "file_size_rlimit": rlimits_supported(),
        }

    def _rlimits(self, limits: ResourceLimits, jail: CgroupJail | None) -> dict[str, tuple[int, int]]:
        has_pids = jail is not None and jail.pids_dir is not None
        return rlimits_for(limits, limit_process_count=not has_pids and _is_unprivileged())

    @abstractmethod
    def _start(self, argv: list[str], *, workdir: Path, limits: ResourceLimits, env: dict[str, str],
               readonly: list[Path], jail: CgroupJail | None) -> subprocess.Popen: ...

    @abstractmethod
    def _kill_tree(self, proc: subprocess.Popen) -> None: ...


class BubblewrapSandbox(Sandbox):
    name = "bubblewrap"

    def __init__(self, bwrap: str, devices: Sequence[str] = ()) -> None:
        super().__init__()
        self.bwrap = bwrap
        # Device files bound into every sandbox at the same path, read-write (a GPU a Dask worker was started
        # with: grader/cluster/devices.py). None by default: the sandbox's /dev is bubblewrap's minimal set.
        self.devices = tuple(devices)
        help_text = subprocess.run([bwrap, "--help"], capture_output=True, text=True).stdout
        # Both options exist in bubblewrap 0.8; older versions run without them and say so.
        self._can_size_tmpfs = "--size" in help_text
        self._can_disable_userns = "--disable-userns" in help_text

    def protections(self) -> dict[str, bool]:
        return {
            "network": True,
            "filesystem": True,
            "pid_namespace": True,
            "capabilities_dropped": True,
            "nested_userns_blocked": self._can_disable_userns,
            "disk_quota": self._can_size_tmpfs,
            **self._common_protections(),
        }

    def _start(self, argv, *, workdir, limits, env, readonly, jail):
        data_fds: list[int] = []
        try:
            command = self.command_prefix(home=Path(env["HOME"]), readonly=readonly, data_fds=data_fds,
                                          tmpfs=[("/dev/shm", limits.max_disk_bytes), ("/tmp", limits.max_disk_bytes)])
            command += ["--ro-bind", str(workdir), HANDIN_SOURCE]
            command += [*self._size(limits.max_disk_bytes), "--tmpfs", str(workdir)]
            command += [*SEAL_ARGS, "--chdir", str(workdir)]
            prelude = f'set -e; cp -a {HANDIN_SOURCE}/. .; mkdir -p "$HOME" "$TMPDIR"; exec "$@"'
            command += ["--", "/bin/sh", "-c", prelude, "sh", *argv]
            return subprocess.Popen(
                launcher_argv(self._rlimits(limits, jail), jail.procs_files if jail else [], command),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=env, cwd=workdir, start_new_session=True, pass_fds=data_fds,
            )
        finally:
            for fd in data_fds:
                os.close(fd)

    def command_prefix(self, *, home: Path, readonly: Sequence[Path], tmpfs: Sequence[tuple[str, int]],
                       data_fds: list[int]) -> list[str]:
        """bubblewrap and every option shared by all sandboxes of this kind: namespaces, the read-only system
        and Python installation, ``readonly`` at the same paths, generated /etc files, /proc, /dev and
        size-capped private tmpfs mounts (path, bytes). The caller adds its own mounts, then ``SEAL_ARGS``.

        The read ends of the generated /etc files are appended to ``data_fds``: pass them to the child and
        close them after starting it.
        """
        command = [self.bwrap, *self._namespace_args()]
        command += _system_binds()
        for name, text in _generated_etc(home).items():
            fd = _data_fd(text)
            data_fds.append(fd)
            command += ["--ro-bind-data", str(fd), f"/etc/{name}"]
        command += ["--proc", "/proc", "--dev", "/dev"]
        for writable, size in tmpfs:
            command += [*self._size(size), "--tmpfs", writable]
        # After the private tmpfs mounts, so that a Python or a grader package living under /tmp (a CI clone,
        # a venv) stays visible instead of being hidden by the empty /tmp.
        for path in _python_paths() + list(readonly):
            command += ["--ro-bind", str(path), str(path)]
        for device in self.devices:
            command += ["--dev-bind", device, device]
        return command

    def with_devices(self, devices: Sequence[str]) -> BubblewrapSandbox:
        """The same sandbox with these device files visible inside (and no others beyond the minimal set)."""
        return BubblewrapSandbox(self.bwrap, devices)

    def _namespace_args(self) -> list[str]:
        args = ["--unshare-all", "--unshare-user"]
        if self._can_disable_userns:
            args.append("--disable-userns")
        # Run as root, bubblewrap would keep every capability inside the sandbox: drop them all.
        args += ["--cap-drop", "ALL", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID),
                 "--hostname", "sandbox", "--die-with-parent", "--new-session"]
        return args

    def _size(self, size_bytes: int) -> list[str]:
        return ["--size", str(size_bytes)] if self._can_size_tmpfs else []

    def _kill_tree(self, proc):
        # proc is bubblewrap itself (the launcher exec'd into it). Killing it kills, through
        # --die-with-parent, the namespace's init, and with it every process in the PID namespace.
        if proc.poll() is None:
            proc.kill()


class ProcessSandbox(Sandbox):
    name = "process"

    def protections(self) -> dict[str, bool]:
        return {
            "network": False,
            "filesystem": False,
            "pid_namespace": False,
            "capabilities_dropped": False,
            "nested_userns_blocked": False,
            "disk_quota": False,
            **self._common_protections(),
        }

    def _start(self, argv, *, workdir, limits, env, readonly, jail):
        # Nothing hides the rest of the machine here; ``readonly`` paths are simply visible already.
        Path(env["HOME"]).mkdir(parents=True, exist_ok=True)
        Path(env["TMPDIR"]).mkdir(parents=True, exist_ok=True)
        if rlimits_supported():
            command = launcher_argv(self._rlimits(limits, jail), jail.procs_files if jail else [], argv)
            extra = {"start_new_session": True}
        else:  # pragma: no cover - Windows: no rlimits, no exec; a process group to kill at least
            command = argv
            extra = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=workdir, **extra)

    def _kill_tree(self, proc):
        if sys.platform == "win32":  # pragma: no cover
            subprocess.run(["taskkill", "/T", "/F", "/PID", str(proc.pid)], capture_output=True)
            return
        # The worker leads its own session; processes that called setsid themselves escape this,
        # which only a cgroup (used when available) or a PID namespace prevents.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def check_launch(argv: list[str], *, workdir: Path, env: dict[str, str],
                 visible_readonly: Sequence[Path]) -> tuple[Path, list[Path]]:
    """Validate a launch request; returns the workdir as the sandbox spells it and the resolved read-only paths."""
    # Absolute but not resolved: the caller's HOME/TMPDIR are spelled under this path, and under
    # bubblewrap the tmpfs is mounted at exactly this spelling (symlinks on the way become dirs).
    workdir = Path(os.path.abspath(workdir))
    if not workdir.is_dir():
        raise FileNotFoundError(f"sandbox workdir {workdir} is not a directory")
    if not argv or not os.path.isabs(argv[0]):
        raise ValueError(f"sandbox argv must start with an absolute path, got {argv[:1]!r}")
    for key in ("HOME", "TMPDIR"):
        if key not in env or not _is_within(Path(env[key]), workdir):
            raise ValueError(f"env {key}={env.get(key)!r} must lie inside the workdir {workdir}, "
                             "the only writable place")
    readonly = [Path(p).resolve() for p in visible_readonly]
    for path in readonly:
        if not path.exists():
            raise FileNotFoundError(f"read-only path for the sandbox does not exist: {path}")
    return workdir, readonly


_found: dict[str, Sandbox | str] = {}
_found_lock = threading.Lock()


def find_sandbox(*, require: bool) -> Sandbox:
    """Bubblewrap if it works here (probed once per process), else the process fallback.

    ``require=True`` raises SandboxUnavailable instead of falling back.
    """
    with _found_lock:
        if "result" not in _found:
            _found["result"] = _probe_bubblewrap()
        found = _found["result"]
    if isinstance(found, Sandbox):
        return found
    if require:
        raise SandboxUnavailable(f"bubblewrap cannot run here: {found}")
    with _found_lock:
        if "fallback" not in _found:
            _found["fallback"] = ProcessSandbox()
        return _found["fallback"]  # type: ignore[return-value]


def _probe_bubblewrap() -> Sandbox | str:
    """A working BubblewrapSandbox, or why there is none."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux, this is {sys.platform}"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "no bwrap executable on PATH (install the bubblewrap package)"
    sandbox = BubblewrapSandbox(bwrap)
    with tempfile.TemporaryDirectory(prefix="grader-probe-") as tmp:
        workdir = Path(tmp)
        proc = sandbox.launch([sys.executable, "-I", "-S", "-c", "pass"], workdir=workdir,
                              limits=ResourceLimits(), env=scrubbed_env(workdir / ".home", 0))
        try:
            _, stderr = proc.communicate(timeout=PROBE_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            sandbox.kill(proc)
            return f"a trial run under {bwrap} did not finish in {PROBE_TIMEOUT_SECONDS} s"
        outcome = sandbox.kill(proc)
    if not outcome.ok:
        reason = stderr.decode(errors="replace").strip() or outcome.verdict
        return f"a trial run under {bwrap} failed: {reason}"
    return sandbox


def _cgroup_capabilities() -> dict[str, bool]:
    """Which cgroup controllers this process can create worker groups in (tried once, then removed)."""
    jail = CgroupJail.create(ResourceLimits())
    if jail is None:
        return {"memory": False, "pids": False, "any": False}
    found = {"memory": jail.memory_dir is not None, "pids": jail.pids_dir is not None, "any": True}
    jail.remove()
    return found


def _is_unprivileged() -> bool:
    """RLIMIT_NPROC binds only non-root users (root, even in a user namespace, is exempt)."""
    return hasattr(os, "getuid") and os.getuid() != 0


def _is_within(path: Path, directory: Path) -> bool:
    """Whether ``path`` is ``directory`` or below it, after resolving symlinks in both (macOS: /var)."""
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(directory))


def _system_binds() -> list[str]:
    args: list[str] = []
    for top in SYSTEM_DIRS:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ETC_READONLY:
        if os.path.exists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return args


def _generated_etc(home: Path) -> dict[str, str]:
    # A user entry so getpass.getuser() and ~ lookups work; no real account names leak in.
    return {
        "passwd": f"{SANDBOX_USER}:x:{SANDBOX_UID}:{SANDBOX_GID}:{SANDBOX_USER}:{home}:/bin/sh\n",
        "group": f"{SANDBOX_USER}:x:{SANDBOX_GID}:\n",
        "hosts": "127.0.0.1 localhost\n::1 localhost\n",
        "hostname": "sandbox\n",
    }


def _data_fd(text: str) -> int:
    """A pipe's read end holding ``text`` (small enough for the pipe buffer), for --ro-bind-data."""
    read_end, write_end = os.pipe()
    os.write(write_end, text.encode())
    os.close(write_end)
    return read_end


def _python_paths() -> list[Path]:
    """The Python installation, and nothing else that happens to be on sys.path (like the repo)."""
    import sysconfig

    candidates = {sys.base_prefix, sys.prefix, sys.exec_prefix, sys.base_exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        candidates.add(sysconfig.get_paths()[key])
    resolved = sorted({Path(os.path.realpath(p)) for p in candidates if os.path.isdir(p)})
    # Bind the outermost directories only; a nested bind of the same files would be redundant.
    outer = [p for p in resolved if not any(p != q and _is_within(p, q) for q in resolved)]
    return [p for p in outer if not any(_is_within(p, Path(d)) for d in SYSTEM_DIRS if os.path.isdir(d))]

"""Resource limits for one worker: what they are, and how they are put on a process.

Two mechanisms, used together where the machine offers both:

* rlimits, set by a tiny launcher (this file run as a script) between fork and exec of the worker, so
  they hold from the first instruction of student code and are inherited by everything it starts;
* a cgroup (v1 ``memory`` and ``pids`` hierarchies) per worker, created as a child of the grader's own
  cgroup. It bounds the memory of the whole process tree, counts OOM kills so they can be reported as
  "memory limit exceeded", and caps the number of processes even for root, whom RLIMIT_NPROC ignores.

The launcher is a separate interpreter started with ``-I -S`` rather than a ``preexec_fn``: a
preexec_fn runs Python code in a forked copy of a possibly multi-threaded grader, which can deadlock.
The launcher writes its own pid into the cgroup *before* it execs, so there is no window in which a
child escapes the group.

This module imports only the standard library, because it is also executed as that launcher script.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

try:  # absent on Windows: the process fallback then runs without rlimits and says so
    import resource
except ImportError:  # pragma: no cover - exercised only on Windows
    resource = None  # type: ignore[assignment]

CGROUP_V1_ROOT = Path("/sys/fs/cgroup")
# Exit statuses of the launcher itself, chosen outside the range a worker normally uses.
LAUNCH_FAILED = 125
EXEC_FAILED = 127
# RLIMIT_CPU: SIGXCPU at the soft limit (kills a Python process), SIGKILL this much later in case
# the program catches SIGXCPU.
CPU_HARD_GRACE_SECONDS = 2


@dataclass(frozen=True)
class ResourceLimits:
    cpu_seconds: float = 300  # whole worker (RLIMIT_CPU per process; the runner adds a wall clock)
    memory_bytes: int = 4 * 2**30  # worker + children (cgroup); per process (RLIMIT_DATA)
    max_processes: int = 64  # processes *and threads* (pids cgroup counts tasks), fork bombs
    max_file_bytes: int = 64 * 2**20  # RLIMIT_FSIZE per file written
    max_disk_bytes: int = 256 * 2**20  # size of the private writable tmpfs under bubblewrap
    max_open_files: int = 256  # RLIMIT_NOFILE

    def __post_init__(self) -> None:
        for name in ("cpu_seconds", "memory_bytes", "max_processes", "max_file_bytes", "max_disk_bytes",
                     "max_open_files"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise ValueError(f"ResourceLimits.{name} must be a positive number, got {value!r}")


def rlimits_for(limits: ResourceLimits, *, limit_process_count: bool) -> dict[str, tuple[int, int]]:
    """The rlimits (name -> (soft, hard)) the launcher sets for a worker.

    RLIMIT_DATA rather than RLIMIT_AS: torch reserves gigabytes of address space it never touches,
    so an address-space limit breaks ``import torch``, while RLIMIT_DATA counts only writable private
    mappings (what numpy and torch allocate), so a too-large array fails with MemoryError.
    RLIMIT_NPROC is per user on the whole machine, so it is only used when no pids cgroup exists,
    on top of what the user already runs (see ``_nproc_allowance``).
    """
    cpu = max(1, math.ceil(limits.cpu_seconds))
    wanted = {
        "RLIMIT_CPU": (cpu, cpu + CPU_HARD_GRACE_SECONDS),
        "RLIMIT_DATA": (limits.memory_bytes, limits.memory_bytes),
        "RLIMIT_FSIZE": (limits.max_file_bytes, limits.max_file_bytes),
        "RLIMIT_NOFILE": (limits.max_open_files, limits.max_open_files),
        "RLIMIT_CORE": (0, 0),  # a crashing worker must not write a core file into the hand-in
    }
    if limit_process_count:
        allowance = _nproc_allowance(limits.max_processes)
        wanted["RLIMIT_NPROC"] = (allowance, allowance)
    return {name: value for name, value in wanted.items() if resource is not None and hasattr(resource, name)}


def _nproc_allowance(max_processes: int) -> int:
    """RLIMIT_NPROC counts every task of the real uid machine-wide: allow what runs now plus the budget."""
    uid = os.getuid()
    running = 0
    try:
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    if entry.stat().st_uid == uid:
                        running += len(os.listdir(f"/proc/{entry.name}/task"))
                except OSError:
                    continue  # the process ended while we looked
    except OSError:
        running = 0  # no /proc (macOS): the budget alone, which may be tight
    return running + max_processes


def launcher_argv(rlimits: dict[str, tuple[int, int]], cgroup_procs: list[Path], argv: list[str]) -> list[str]:
    """The command that applies ``rlimits``, joins the cgroups, then execs ``argv``."""
    spec = json.dumps({"rlimits": rlimits, "cgroup_procs": [str(p) for p in cgroup_procs]})
    return [sys.executable, "-I", "-S", str(Path(__file__).resolve()), spec, "--", *argv]


def rlimits_supported() -> bool:
    return resource is not None


# --- cgroups -----------------------------------------------------------------------------------------


class CgroupJail:
    """A per-worker child cgroup in the v1 ``memory`` and/or ``pids`` hierarchies.

    Created under the grader's own cgroup in each hierarchy (read from /proc/self/cgroup), so any limit
    that applies to the grader applies to its workers too, and whatever manages the grader's group
    keeps seeing the workers' usage.
    """

    def __init__(self, memory_dir: Path | None, pids_dir: Path | None) -> None:
        self.memory_dir = memory_dir
        self.pids_dir = pids_dir

    @property
    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in (self.memory_dir, self.pids_dir) if d is not None]

    @classmethod
    def create(cls, limits: ResourceLimits, *, root: Path = CGROUP_V1_ROOT, parent: CgroupJail | None = None,
               prefix: str = "grader-worker") -> CgroupJail | None:
        """A jail with the memory and process limits set, or None when no hierarchy is writable here.

        ``parent``: create it inside that jail (its limits then bound this one's too) instead of inside the
        grader's own cgroup.
        """
        _retry_unremoved(wait=False)
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        memory_dir = _make_child(root, "memory", name, parent.memory_dir if parent else None)
        if memory_dir is not None:
            try:
                _write(memory_dir / "memory.limit_in_bytes", limits.memory_bytes)
                # Swap counts too where the kernel accounts it, so the limit cannot be dodged by swapping.
                if (memory_dir / "memory.memsw.limit_in_bytes").exists():
                    _write(memory_dir / "memory.memsw.limit_in_bytes", limits.memory_bytes)
            except OSError:
                _remove_dir(memory_dir)
                memory_dir = None
        pids_dir = _make_child(root, "pids", name, parent.pids_dir if parent else None)
        if pids_dir is not None:
            try:
                _write(pids_dir / "pids.max", limits.max_processes)
            except OSError:
                _remove_dir(pids_dir)
                pids_dir = None
        if memory_dir is None and pids_dir is None:
            return None
        return cls(memory_dir, pids_dir)

    def add(self, pid: int) -> None:
        """Move a running process (a host pid) into the jail; raises OSError if the kernel refuses."""
        for procs in self.procs_files:
            with open(procs, "w") as handle:
                handle.write(str(pid))

    def set_limits(self, limits: ResourceLimits, *, extra_processes: int = 0) -> None:
        """Change the memory and process limits of a live jail; OSError if the kernel refuses (for example a
        memory limit below what the jail already uses)."""
        if self.memory_dir is not None:
            memsw = self.memory_dir / "memory.memsw.limit_in_bytes"
            # memsw may never be below the plain limit: raise it first when growing, lower it last when shrinking.
            current = _read_int(self.memory_dir / "memory.limit_in_bytes") or 0
            order = ["memory.limit_in_bytes", memsw.name] if limits.memory_bytes < current else \
                [memsw.name, "memory.limit_in_bytes"]
            for name in order:
                if (self.memory_dir / name).exists():
                    _write(self.memory_dir / name, limits.memory_bytes)
        if self.pids_dir is not None:
            _write(self.pids_dir / "pids.max", limits.max_processes + extra_processes)

    def reset_peak_memory(self) -> None:
        """Start measuring the peak anew from the current usage."""
        if self.memory_dir is not None:
            _write(self.memory_dir / "memory.max_usage_in_bytes", 0)

    def oom_kills(self) -> int:
        """How many processes the kernel killed for exceeding the memory limit."""
        if self.memory_dir is None:
            return 0
        fields = _read_fields(self.memory_dir / "memory.oom_control")
        if "oom_kill" in fields:
            return fields["oom_kill"]
        # Kernels before 4.13 have no oom_kill counter; failcnt counts hits of the limit instead,
        # which is the best available sign that the limit, not the program, ended the run.
        return _read_int(self.memory_dir / "memory.failcnt") or 0

    def peak_memory_bytes(self) -> int | None:
        if self.memory_dir is None:
            return None
        return _read_int(self.memory_dir / "memory.max_usage_in_bytes")

    def kill_all(self) -> None:
        """SIGKILL every process in the jail, including ones forked while we kill."""
        for directory in (self.pids_dir, self.memory_dir):
            if directory is None:
                continue
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                pids = _read_pids(directory / "cgroup.procs")
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.01)

    def remove(self) -> None:
        """Delete the cgroup directories; waits briefly for killed processes to leave them."""
        self.kill_all()
        for directory in (self.memory_dir, self.pids_dir):
            if directory is not None and not _remove_dir(directory):
                _unremoved.add(directory)


# Jail directories whose last task had not yet been reaped when the jail was removed (a dying process
# stays in its cgroup until its parent reaps it). Retried at the next jail and when the grader exits,
# so no empty group is left behind in the grader's cgroup.
_unremoved: set[Path] = set()


def _retry_unremoved(*, wait: bool) -> None:
    # Deepest first: a jail made inside another (a pool's slots) must go before its parent can.
    for directory in sorted(_unremoved, key=lambda d: len(d.parts), reverse=True):
        if _remove_dir(directory, attempts=200 if wait else 1):
            _unremoved.discard(directory)


atexit.register(_retry_unremoved, wait=True)


def _own_cgroup_path(controller: str) -> str | None:
    """This process's path in the v1 hierarchy that holds ``controller``, from /proc/self/cgroup."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3 and controller in parts[1].split(","):
            return parts[2]
    return None


def _make_child(root: Path, controller: str, name: str, parent: Path | None = None) -> Path | None:
    if parent is None:
        own = _own_cgroup_path(controller)
        hierarchy = root / controller
        if own is None or not (hierarchy / "cgroup.procs").exists():
            return None
        parent = hierarchy / own.lstrip("/")
    directory = parent / name
    try:
        directory.mkdir()
    except OSError:
        return None
    return directory


def _remove_dir(directory: Path, attempts: int = 500) -> bool:
    """Remove a cgroup directory; False if it still held tasks after ``attempts`` tries 10 ms apart."""
    # A cgroup can be removed only once its last task has exited, which takes a moment after SIGKILL.
    for attempt in range(attempts):
        try:
            directory.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            if attempt + 1 < attempts:
                time.sleep(0.01)
    return False


def _write(path: Path, value: int) -> None:
    with open(path, "w") as handle:
        handle.write(str(value))


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_fields(path: Path) -> dict[str, int]:
    fields = {}
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                fields[key] = int(value)
    except OSError:
        pass
    return fields


def _read_pids(path: Path) -> list[int]:
    try:
        return [int(word) for word in path.read_text().split()]
    except (OSError, ValueError):
        return []


def apply_rlimits(rlimits: dict[str, tuple[int, int]]) -> None:
    """Set rlimits (name -> (soft, hard)) on this process; raises OSError naming the limit that failed."""
    for name, (soft, hard) in rlimits.items():
        which = getattr(resource, name)
        # Limits only ever go down: where the current hard limit is already lower, it stays.
        current_hard = resource.getrlimit(which)[1]
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
            soft = min(soft, hard)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError) as error:
            raise OSError(f"cannot set {name}={soft}/{hard}: {error}") from None


# --- the launcher ------------------------------------------------------------------------------------


def _launch(args: list[str]) -> None:
    """Entry point of the launcher: ``limits.py SPEC -- ARGV...``. Never returns."""
    if len(args) < 3 or args[1] != "--":
        sys.stderr.write("grader launcher: usage: limits.py SPEC -- ARGV...\n")
        os._exit(LAUNCH_FAILED)
    spec = json.loads(args[0])
    argv = args[2:]
    pid = str(os.getpid())
    for procs in spec["cgroup_procs"]:
        try:
            with open(procs, "w") as handle:
                handle.write(pid)
        except OSError as error:
            sys.stderr.write(f"grader launcher: cannot join cgroup {procs}: {error}\n")
            os._exit(LAUNCH_FAILED)
    try:
        apply_rlimits(spec["rlimits"])
    except OSError as error:
        sys.stderr.write(f"grader launcher: {error}\n")
        os._exit(LAUNCH_FAILED)
    # A write past RLIMIT_FSIZE should fail with EFBIG, not kill the writer with SIGXFSZ; an ignored
    # disposition survives exec, so every program the worker starts inherits it.
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    # This interpreter ignores SIGPIPE, and an ignored signal stays ignored across exec: give the
    # worker the default back, as subprocess does, so shell pipelines behave normally.
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        os.execv(argv[0], argv)
    except OSError as error:
        sys.stderr.write(f"grader launcher: cannot run {argv[0]}: {error}\n")
        os._exit(EXEC_FAILED)


if __name__ == "__main__":
    _launch(sys.argv[1:])

"""Run a command and measure it: wall time, and the peak memory of its whole process tree.

CPU: the command's own and the whole machine's (/proc/stat), so a report can say how busy the machine was
with other work meanwhile. The command's own is counted by a cgroup v1 cpuacct group it is started in
(every descendant, also those reaped inside bubblewrap's PID namespaces, whose CPU time never reaches the
command's rusage); without one, the children's rusage is the (lower) fallback.

Memory is the sum of the proportional set size (PSS, from /proc/PID/smaps_rollup) of the command and every
descendant, sampled every 0.1 s: pages shared between processes (a zygote and the workers forked from it,
or the libraries of several kernels) count once in total, not once per process as with RSS. Descendants
inside bubblewrap's namespaces are found through their host pids like any other.
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_SECONDS = 0.1


@dataclass
class Measured:
    wall_seconds: float
    returncode: int
    peak_bytes: int
    cpu_seconds: float  # used by the command and everything it started
    machine_busy_seconds: float  # used by every process on the machine meanwhile (all CPUs together)
    samples: list[tuple[float, int]] = field(default_factory=list)  # (unix time, tree PSS in bytes)
    stdout: str = ""

    @property
    def other_load(self) -> float:
        """How many CPUs other work kept busy on average while the command ran."""
        return max(0.0, self.machine_busy_seconds - self.cpu_seconds) / self.wall_seconds


def run_measured(command: list[str], *, cwd: Path, env: dict[str, str] | None = None,
                 timeout: float | None = None) -> Measured:
    account = _cpuacct_group()
    if account is not None:
        # The shell joins the group, then becomes the command: nothing it starts is outside.
        command = ["/bin/sh", "-c", f'echo $$ > {account}/cgroup.procs && exec "$@"', "sh", *command]
    children_before, busy_before = _children_cpu(), _machine_busy()
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    samples: list[tuple[float, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.time(), tree_pss(proc.pid)))
            done.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, _ = proc.communicate()
    wall = time.perf_counter() - started
    busy = _machine_busy() - busy_before
    done.set()
    sampler.join()
    cpu = _children_cpu() - children_before
    if account is not None:
        cpu = max(cpu, int((account / "cpuacct.usage").read_text()) / 1e9)
        _remove_group(account)
    return Measured(wall, proc.returncode, max((pss for _, pss in samples), default=0), cpu, busy, samples, stdout)


def _cpuacct_group() -> Path | None:
    root = Path("/sys/fs/cgroup/cpuacct")
    group = root / f"bench-{os.getpid()}-{time.monotonic_ns()}"
    try:
        group.mkdir()
    except OSError:
        return None
    return group


def _remove_group(group: Path) -> None:
    for _ in range(300):  # killed sandboxes can take a moment to leave
        try:
            group.rmdir()
            return
        except OSError:
            time.sleep(0.01)


def _children_cpu() -> float:
    """CPU seconds of every descendant reaped so far (each process adds its reaped children's on exit)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy since boot (all CPUs; idle and I/O wait excluded)."""
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def tree_pss(root: int) -> int:
    """Bytes of PSS of ``root`` and all its descendants right now."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields after the last ")" are fixed.
        parent = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _pss(pid)
        todo.extend(children.get(pid, []))
    return total


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0

"""Limits still hold in a warm slot, failures are reported as a cold worker's would be, and the zygote lives on
(or, when a hand-in takes it down, the next hand-in gets a fresh one)."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from grader.execution.limits import ResourceLimits
from grader.execution.pool import WarmPool
from tests.pool.conftest import SETTINGS, hand_in, values

GiB, MiB = 2**30, 2**20
TIGHT = dataclasses.replace(SETTINGS, limits=ResourceLimits(memory_bytes=1 * GiB, max_processes=32, cpu_seconds=2,
                                                            max_file_bytes=1 * MiB, max_disk_bytes=16 * MiB))
# The cgroup case only tests memory: a CPU limit as tight as TIGHT's could fire first while the kernel reclaims
# at the cgroup's limit (seen under load: "cpu time limit exceeded" instead of "memory").
TIGHT_MEMORY = dataclasses.replace(TIGHT, limits=dataclasses.replace(TIGHT.limits, cpu_seconds=30))
NEXT = "import os\nalive = os.getpid()"


def next_hand_in_runs(pool) -> None:
    assert values(hand_in(pool, NEXT, get=("alive",)))["alive"] > 1


@pytest.fixture(scope="module")
def pool(bwrap):
    """Its own pool: these tests fill /tmp and /dev/shm, and the tight limits change the tmpfs size."""
    warm = WarmPool(bwrap, slots=1, preload=SETTINGS.preload, reply_timeout=2)
    yield warm
    warm.close()


def test_a_too_large_array_is_a_memory_error(pool):
    report = hand_in(pool, "import numpy as np\nx = np.ones(3 * 2**30, dtype=np.uint8)", "after = 1",
                     get=("after",), settings=TIGHT)
    assert report.cells[0].status == "memory"
    assert values(report) == {"after": 1}  # the worker survived its MemoryError


def test_the_cgroup_limit_kills_the_worker_not_the_zygote(pool):
    replaced = pool.stats.zygotes_replaced
    # Shared anonymous memory is not counted by RLIMIT_DATA: only the cgroup stops it.
    report = hand_in(pool, """
        import mmap
        block = mmap.mmap(-1, 1536 * 2**20)
        for offset in range(0, len(block), 4096):
            block[offset] = 1
    """, "after = 1", get=("after",), settings=TIGHT_MEMORY)
    assert report.cells[0].status == "memory", report.cells
    assert "memory limit exceeded" in report.cells[0].error
    assert values(report) == {"after": 1}  # run again on a fresh worker, skipping the cell
    next_hand_in_runs(pool)
    assert pool.stats.zygotes_replaced == replaced


def test_a_fork_bomb_stops_at_the_process_limit_and_is_cleaned_up(pool):
    report = hand_in(pool, """
        import os, time
        children = 0
        try:
            for _ in range(200):
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                children += 1
        except OSError as error:
            stopped = error.errno
    """, get=("children", "stopped"), settings=TIGHT)
    found = values(report)
    assert found["children"] < 32 and found["stopped"] == 11  # EAGAIN
    leftover = values(hand_in(pool, """
        import os
        others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid(), os.getppid())]
    """, get=("others",)))
    assert leftover == {"others": []}


def test_cpu_file_size_and_disk_limits(pool):
    report = hand_in(pool, """
        import errno
        try:
            open("big.bin", "wb").write(b"x" * (2 * 2**20))
        except OSError as error:
            file_error = error.errno
        try:
            for number in range(40):  # files under the size limit, together over the 16 MiB disk limit
                with open(f"/dev/shm/fill{number}", "wb") as handle:
                    handle.write(b"x" * 2**19)
        except OSError as error:
            disk_error = error.errno
    """, "while True: pass", get=("file_error", "disk_error"), settings=TIGHT)
    assert values(report) == {"file_error": 27, "disk_error": 28}  # EFBIG, ENOSPC
    assert report.cells[1].status == "crashed" and "cpu time limit exceeded" in report.cells[1].error
    next_hand_in_runs(pool)


def test_network_is_blocked(pool):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        report = hand_in(pool, f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=3)
                outcome = "connected"
            except OSError as error:
                outcome = type(error).__name__
        """, get=("outcome",))
        listener.settimeout(0.3)
        with pytest.raises(socket.timeout):
            listener.accept()
    assert values(report)["outcome"] != "connected"


def test_exit_hang_and_crash_are_reported_as_before_and_the_zygote_survives(pool):
    replaced = pool.stats.zygotes_replaced
    exited = hand_in(pool, "x = 1", "import os\nos._exit(0)", "y = 2", get=("x",))
    assert exited.cells[1].status == "exit" and exited.cells[2].status == "not run"
    assert values(exited) == {"x": 1}

    hung = hand_in(pool, "while True: pass", "y = 2", get=("y",),
                   settings=dataclasses.replace(SETTINGS, cell_timeout=0.5))
    assert hung.cells[0].status == "timeout" and values(hung) == {"y": 2}

    stuck = hand_in(pool, "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True: pass", "y = 2",
                    get=("y",), settings=dataclasses.replace(SETTINGS, cell_timeout=0.5))
    assert stuck.cells[0].status == "timeout" and values(stuck) == {"y": 2}  # killed by the grader

    crashed = hand_in(pool, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)", "y = 2", get=("y",))
    assert crashed.cells[0].status == "crashed" and "killed by signal 11" in crashed.cells[0].error
    assert values(crashed) == {"y": 2}
    assert pool.stats.zygotes_replaced == replaced
    assert pool.stats.cold_launches == 0


def test_the_zygote_ignores_every_signal_a_hand_in_sends_it(pool):
    # Issue 13: the zygote is the sandbox's PID 1, so the kernel drops its hand-ins' signals (it used to die of
    # SIGKILL, replaced for the next hand-in, and a SIGSTOP froze it until the grader gave up on it).
    replaced = pool.stats.zygotes_replaced
    report = hand_in(pool, """
        import os, signal
        zygote = os.getppid()
        for signum in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM, signal.SIGINT, signal.SIGSEGV, signal.SIGHUP):
            os.kill(zygote, signum)
        try:
            os.kill(-1, signal.SIGKILL)  # every process it may signal, itself and the zygote (init) excepted
        except ProcessLookupError:
            pass  # there is no other
        import time
        time.sleep(0.2)
        state = open(f"/proc/{zygote}/stat").read().rsplit(")", 1)[1].split()[0]
    """, "y = 2", get=("zygote", "state", "y"))
    assert report.cells[0].status == "ok" and values(report) == {"zygote": 1, "state": "S", "y": 2}
    next_hand_in_runs(pool)
    assert pool.stats.zygotes_replaced == replaced
    assert pool.stats.cold_launches == 0


def test_a_hand_in_the_pool_runs_cold_says_so(bwrap):
    """Issue 13: when zygotes cannot serve, the report (and so the gradebook) names the sandbox really used."""
    broken = WarmPool(bwrap, slots=1, preload=SETTINGS.preload)
    try:
        broken.broken = "zygotes cannot start here (set by the test)"
        report = hand_in(broken, "x = 1", get=("x",))
    finally:
        broken.close()
    assert values(report) == {"x": 1}
    assert report.sandbox == "bubblewrap" and broken.stats.cold_launches == 1
    assert any("ran in a cold bubblewrap sandbox instead of the bubblewrap-pool: zygotes cannot start here"
               in str(problem) for problem in report.problems)

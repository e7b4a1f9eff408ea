"""Nothing one hand-in does in a warm slot is visible to the next one in the same slot."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import grader

from tests.pool.conftest import hand_in, processes_with, values, wait_until_gone

_PACKAGE = Path(grader.__file__).resolve().parent
# The top folder under /tmp that leads to the grader package when the repo is a clone under /tmp, else "".
GRADER_TOP = _PACKAGE.relative_to("/tmp").parts[0] if _PACKAGE.is_relative_to("/tmp") else ""


def test_consecutive_hand_ins_share_the_zygote(pool):
    before = pool.stats.zygotes_started
    first = values(hand_in(pool, "import os\nme = os.getpid(); parent = os.getppid()", get=("me", "parent")))
    second = values(hand_in(pool, "import os\nme = os.getpid(); parent = os.getppid()", get=("me", "parent")))
    assert first["parent"] == second["parent"]  # forked by the same zygote ...
    assert first["me"] != second["me"]  # ... as two processes
    assert pool.stats.zygotes_started - before <= 1


def test_files_written_anywhere_are_gone_for_the_next_hand_in(pool, tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    (files / "data.txt").write_text("given\n")
    first = values(hand_in(pool, """
        import os, tempfile
        written = []
        for folder in (os.getcwd(), "/tmp", "/dev/shm", os.environ["HOME"], tempfile.gettempdir()):
            path = os.path.join(folder, "left-by-first.txt")
            with open(path, "w") as handle:
                handle.write("secret")
            written.append(path)
        os.makedirs("/tmp/deep/er", exist_ok=True)
        open("/tmp/deep/er/x", "w").write("x")
        os.chmod("/tmp/deep/er", 0)
        os.chmod("/tmp/deep", 0)
        os.chmod("/tmp", 0o700)
        given = open("data.txt").read()
        cwd = os.getcwd()
    """, get=("written", "given", "cwd"), files=files))
    assert first["given"] == "given\n"
    replaced = pool.stats.zygotes_replaced
    second = values(hand_in(pool, f"""
        import os
        seen = [p for p in {json.dumps(first["written"])} + ["/tmp/deep"] if os.path.exists(p)]
        # a grader package under /tmp (a clone there) is bound read-only inside: its top folder stays
        package_top = {json.dumps(GRADER_TOP)}
        listing = sorted(n for n in os.listdir("/tmp") if n != package_top) + sorted(os.listdir("/dev/shm"))
        tmp_mode = oct(os.stat("/tmp").st_mode & 0o7777)
        cwd = os.getcwd()
    """, get=("seen", "listing", "tmp_mode", "cwd")))
    assert second["seen"] == []
    assert second["listing"] == [second["cwd"].rsplit("/", 1)[1]]  # only its own workdir
    assert second["cwd"] != first["cwd"]
    assert pool.stats.zygotes_replaced == replaced  # cleaned, not thrown away


def test_background_processes_die_before_the_next_hand_in(pool):
    token = f"sleep {1000 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 10**6}"
    first = values(hand_in(pool, f"""
        import os, subprocess
        subprocess.Popen({token.split()!r}, start_new_session=True)
        if os.fork() == 0:  # a double-forked daemon in its own session
            os.setsid()
            if os.fork() == 0:
                import time
                time.sleep(1.5)
                open("/tmp/daemon-was-here", "w").write("late")
            os._exit(0)
        import time
        time.sleep(0.2)
        mine = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    """, get=("mine",)))
    assert len(first["mine"]) >= 4  # init, zygote, worker, sleep (+ the daemon)
    assert wait_until_gone(token) == []  # no longer on the host
    second = values(hand_in(pool, """
        import os, time
        time.sleep(1.8)  # past the daemon's wake-up time
        others = sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid(), os.getppid()))
        late = os.path.exists("/tmp/daemon-was-here")
    """, get=("others", "late")))
    assert second == {"others": [], "late": False}
    assert processes_with(token) == []


def test_monkeypatched_modules_and_environment_are_pristine_in_the_next_hand_in(pool):
    values(hand_in(pool, """
        import builtins, math, os, sys, numpy
        numpy.allclose = lambda *args, **kwargs: True
        numpy.random.seed = lambda *args, **kwargs: None
        builtins.print = None
        math.pi = 3.0
        sys.modules["grader_leak"] = "left"
        os.environ["LEAK"] = "1"
        os.chdir("/")
        flag = True
    """, get=("flag",)))
    second = values(hand_in(pool, """
        import builtins, math, os, sys, numpy
        close = bool(numpy.allclose(1.0, 2.0))
        draw = float(numpy.random.rand())  # the worker's seeding worked: numpy.random.seed is the real one
        printable = builtins.print is not None
        pi = math.pi
        leak = "grader_leak" in sys.modules or "LEAK" in os.environ
        cwd_is_workdir = os.getcwd() != "/"
    """, get=("close", "draw", "printable", "pi", "leak", "cwd_is_workdir")))
    import numpy

    numpy.random.seed(0)  # SETTINGS.seed: what a fresh worker draws first
    assert second == {"close": False, "draw": numpy.random.rand(), "printable": True, "pi": 3.141592653589793,
                      "leak": False, "cwd_is_workdir": True}


def test_the_zygote_is_out_of_reach(pool):
    result = values(hand_in(pool, """
        import ctypes, os
        zygote = os.getppid()
        blocked = {}
        for path in (f"/proc/{zygote}/mem", f"/proc/{zygote}/environ", f"/proc/{zygote}/fd/3", f"/proc/{zygote}/maps"):
            try:
                open(path, "rb").read(1)
                blocked[path] = False
            except OSError:
                blocked[path] = True
        libc = ctypes.CDLL(None, use_errno=True)
        ptrace = libc.ptrace(16, zygote, 0, 0)  # PTRACE_ATTACH
        ptrace_errno = ctypes.get_errno()
        # the sockets it inherited from the zygote (control, handshake) are closed: only pipes remain
        sockets = []
        for n in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{n}").startswith("socket:"):
                    sockets.append(n)
            except OSError:
                pass  # the descriptor listdir itself used
    """, get=("blocked", "ptrace", "ptrace_errno", "sockets")))
    assert all(result["blocked"].values()), result["blocked"]
    assert result["ptrace"] == -1 and result["ptrace_errno"] == 1  # EPERM
    assert result["sockets"] == []


def test_kernel_keys_and_message_queues_cannot_carry_data_to_the_next_hand_in(pool):
    first = values(hand_in(pool, """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        number = {"x86_64": 248, "aarch64": 217}[os.uname().machine]
        key = libc.syscall(number, b"user", b"note-for-next", b"42", 2, ctypes.c_int(-4))  # add_key to @u
        key_errno = ctypes.get_errno()
        rt = ctypes.CDLL("librt.so.1", use_errno=True)
        queue = rt.mq_open(b"/note-for-next", os.O_CREAT | os.O_RDWR, 0o600, None)
        queue_errno = ctypes.get_errno()
        # the same calls through the x32 ABI (system call numbers with bit 30 set) are denied too
        x32 = libc.syscall(0x40000000 | 39) if os.uname().machine == "x86_64" else -1  # getpid
        x32_errno = ctypes.get_errno() if os.uname().machine == "x86_64" else 1
    """, get=("key", "key_errno", "queue", "queue_errno", "x32", "x32_errno")))
    assert first == {"key": -1, "key_errno": 1, "queue": -1, "queue_errno": 24,  # EPERM, EMFILE
                     "x32": -1, "x32_errno": 1}


def test_system_v_ipc_left_behind_replaces_the_zygote(pool):
    replaced = pool.stats.zygotes_replaced
    first = values(hand_in(pool, """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        segment = libc.shmget(4242, 4096, 0o1666)  # IPC_CREAT | 0666, never removed
    """, get=("segment",)))
    assert first["segment"] >= 0
    second = values(hand_in(pool, """
        segments = open("/proc/sysvipc/shm").read().splitlines()[1:]
    """, get=("segments",)))
    assert second["segments"] == []
    assert pool.stats.zygotes_replaced == replaced + 1
    assert "ipc differs" in pool.stats.replaced_because[-1]


def test_hash_seed_environment_and_paths_match_a_cold_worker(pool, bwrap):
    cell = """
        import os, sys, tempfile
        facts = {"hash": hash("abc"), "home": os.environ["HOME"].endswith("/.home"),
                 "tmpdir": tempfile.gettempdir() == os.environ["TMPDIR"], "cwd": os.getcwd() == os.path.dirname(os.environ["HOME"]),
                 "env": sorted(k for k in os.environ), "argv0": sys.argv[0].endswith("worker.py"),
                 # The hand-in's own folder comes first (its helper modules import); its name differs per run.
                 "path": ["<hand-in folder>" if p == os.getcwd() else p for p in sys.path],
                 "modules": sorted(m for m in ("torch", "pandas", "matplotlib", "numpy") if m in sys.modules)}
    """
    warm = values(hand_in(pool, cell, get=("facts",)))["facts"]
    cold = values(hand_in(bwrap, cell, get=("facts",)))["facts"]
    assert warm == cold
    assert warm["home"] and warm["tmpdir"] and warm["cwd"] and warm["argv0"]
    assert warm["path"][0] == "<hand-in folder>" and warm["path"].count("<hand-in folder>") == 1


def test_a_hand_in_cannot_re_limit_trace_or_reprioritise_the_zygote(pool):
    """Issue 13: the calls that change another process of the same user are denied by the slot's seccomp filter
    unless aimed at the caller itself; what /proc still lets a hand-in change, the zygote finds before its next
    fork and is replaced."""
    before = values(hand_in(pool, SETTINGS_OF_A_PROCESS, get=("settings",)))["settings"]
    replaced = pool.stats.zygotes_replaced
    attack = values(hand_in(pool, """
        import ctypes, os, resource
        libc = ctypes.CDLL(None, use_errno=True)
        zygote = os.getppid()
        def errno_of(call):
            try:
                call()
                return 0
            except OSError as error:
                return error.errno
        denied = {
            "prlimit": errno_of(lambda: resource.prlimit(zygote, resource.RLIMIT_DATA, (2**20, 2**20))),
            "setpriority": errno_of(lambda: os.setpriority(os.PRIO_PROCESS, zygote, 19)),
            "setpriority_user": errno_of(lambda: os.setpriority(os.PRIO_USER, 0, 19)),
            "setpriority_group": errno_of(lambda: os.setpriority(os.PRIO_PGRP, 0, 19)),
            "affinity": errno_of(lambda: os.sched_setaffinity(zygote, {0})),
            "scheduler": errno_of(lambda: os.sched_setscheduler(zygote, os.SCHED_IDLE, os.sched_param(0))),
            "param": errno_of(lambda: os.sched_setparam(zygote, os.sched_param(0))),
            "ptrace": 0 if libc.ptrace(16, zygote, 0, 0) == 0 else ctypes.get_errno(),  # PTRACE_ATTACH
            "ptrace_traceme": 0 if libc.ptrace(0, 0, 0, 0) == 0 else ctypes.get_errno(),  # PTRACE_TRACEME
        }
        buffer = ctypes.create_string_buffer(8)
        local = (ctypes.c_void_p * 2)(ctypes.addressof(buffer), 8)
        remote = (ctypes.c_void_p * 2)(0x400000, 8)
        read = libc.process_vm_readv(zygote, local, 1, remote, 1, 0)
        denied["process_vm_readv"] = 0 if read >= 0 else ctypes.get_errno()
        # its own settings stay its own business
        own = {"nice": errno_of(lambda: os.nice(5)), "rlimit": errno_of(lambda: resource.setrlimit(
            resource.RLIMIT_NOFILE, (64, 64))), "affinity": errno_of(lambda: os.sched_setaffinity(0, {0}))}
        # writable through /proc (same user): found by the zygote before it forks again
        with open(f"/proc/{zygote}/oom_score_adj", "w") as handle:
            handle.write("1000")
    """, get=("denied", "own")))
    assert attack["denied"] == dict.fromkeys(attack["denied"], 1)  # EPERM
    assert attack["own"] == {"nice": 0, "rlimit": 0, "affinity": 0}
    after = values(hand_in(pool, SETTINGS_OF_A_PROCESS, get=("settings",)))["settings"]
    assert after == before
    assert pool.stats.zygotes_replaced == replaced + 1
    assert "oom_score_adj '0' -> '1000'" in pool.stats.replaced_because[-1]


SETTINGS_OF_A_PROCESS = """
    import os, resource
    settings = {"limits": [resource.getrlimit(getattr(resource, n)) for n in sorted(dir(resource)) if n.startswith("RLIMIT_")],
                "nice": os.getpriority(os.PRIO_PROCESS, 0), "scheduler": os.sched_getscheduler(0),
                "affinity": sorted(os.sched_getaffinity(0))}
"""

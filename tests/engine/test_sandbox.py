"""The sandbox, tested by experiment: every test runs a small program through a real sandbox.

Tests that need bubblewrap skip on a machine without it, but fail when CI=true: CI must prove the sandbox.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

import grader
from grader.execution.limits import ResourceLimits
from grader.execution.sandbox import (
    ExitInfo,
    ProcessSandbox,
    Sandbox,
    SandboxUnavailable,
    describe_exit,
    find_sandbox,
    scrubbed_env,
)

REPO = Path(__file__).resolve().parents[2]
GRADER_PACKAGE = Path(grader.__file__).resolve().parent
GiB = 2**30
MiB = 2**20


@pytest.fixture(scope="module")
def bwrap() -> Sandbox:
    try:
        return find_sandbox(require=True)
    except SandboxUnavailable as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the sandbox tests under bubblewrap: {error}")
        pytest.skip(str(error))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    handin = tmp_path / "handin"
    handin.mkdir()
    (handin / "answer.txt").write_text("42\n")
    return handin


@dataclass
class Run:
    exit: ExitInfo
    stdout: str
    stderr: str


def run(sandbox: Sandbox, code: str, workdir: Path, *, limits: ResourceLimits = ResourceLimits(),
        timeout: float = 30, env: dict[str, str] | None = None) -> Run:
    env = env if env is not None else scrubbed_env(workdir / ".home", seed=7)
    proc = sandbox.launch([sys.executable, "-c", textwrap.dedent(code)], workdir=workdir, limits=limits, env=env,
                          visible_readonly=[GRADER_PACKAGE])
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        sandbox.kill(proc)
        pytest.fail(f"sandboxed program still running after {timeout} s")
    return Run(sandbox.kill(proc), out.decode(errors="replace"), err.decode(errors="replace"))


def processes_with(token: str) -> list[int]:
    """Host pids whose command line contains ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def wait_until_gone(token: str, seconds: float = 3.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_with(token)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


# --- isolation under bubblewrap -------------------------------------------------------------------


def test_connect_to_a_host_loopback_listener_fails(bwrap, workdir):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        result = run(bwrap, f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=3)
                print("connected")
            except OSError as error:
                print("failed", type(error).__name__)
        """, workdir)
        listener.settimeout(0.3)
        with pytest.raises(socket.timeout):
            listener.accept()
    assert result.exit.ok, result.stderr
    assert result.stdout.startswith("failed"), result.stdout


def test_repo_rubrics_and_other_handins_are_invisible(bwrap, workdir, tmp_path):
    sibling = tmp_path / "other-handin"
    sibling.mkdir()
    (sibling / "solution.py").write_text("SECRET = 1\n")
    paths = [REPO / "reference", REPO / "rubrics", REPO / "pyproject.toml", sibling, sibling / "solution.py",
             Path.home() / ".bashrc"]
    result = run(bwrap, f"""
        import importlib.util, json, os
        paths = {[str(p) for p in paths]!r}
        print(json.dumps({{
            "visible": [p for p in paths if os.path.exists(p)],
            "own_files": sorted(os.listdir(".")),
            "repo_listing": sorted(os.listdir({str(REPO)!r})),
            "reference_importable": importlib.util.find_spec("reference") is not None,
            "grader_importable": importlib.util.find_spec("grader") is not None,
        }}))
    """, workdir)
    assert result.exit.ok, result.stderr
    seen = json.loads(result.stdout)
    assert seen["visible"] == []
    # Only the grader package (bound read-only for the worker) shows through the repo's path.
    assert seen["repo_listing"] == [GRADER_PACKAGE.name]
    assert "answer.txt" in seen["own_files"]
    assert seen["reference_importable"] is False
    assert seen["grader_importable"] is True


def test_writes_outside_the_workdir_fail_and_leave_nothing(bwrap, workdir, tmp_path):
    name = f"escape-{uuid.uuid4().hex[:8]}.txt"
    refused = [GRADER_PACKAGE / name, Path("/usr") / name, Path("/etc") / name, Path("/") / name,
               Path("/dev") / name]
    # The workdir's parent lies under /tmp, which is a private tmpfs inside: writable, never the host's.
    private = [tmp_path / name, Path("/tmp") / name]
    # A clone under /tmp (as a CI may make) has its repo folder inside that private tmpfs too.
    (private if REPO.is_relative_to("/tmp") else refused).append(REPO / name)
    result = run(bwrap, f"""
        import json
        outcome = {{}}
        for target in {[str(t) for t in refused + private]!r}:
            try:
                with open(target, "w") as handle:
                    handle.write("x")
                outcome[target] = "written"
            except OSError as error:
                outcome[target] = type(error).__name__
        with open("result.txt", "w") as handle:   # the workdir itself is writable...
            handle.write("inside")
        print(json.dumps(outcome))
    """, workdir)
    assert result.exit.ok, result.stderr
    outcome = json.loads(result.stdout)
    assert [t for t in refused if outcome[str(t)] == "written"] == []
    assert [t for t in refused + private if t.exists()] == []
    # ...but it is a throwaway copy: nothing written there reaches the host.
    assert not (workdir / "result.txt").exists()


def test_a_background_child_dies_with_the_sandbox(bwrap, workdir):
    token = f"1000.{uuid.uuid4().int % 10**9}"
    result = run(bwrap, f"""
        import subprocess
        # A new session and no shared pipes: only the PID namespace can take this one down.
        subprocess.Popen(["sleep", "{token}"], start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print("started")
    """, workdir)
    assert result.exit.ok and result.stdout.strip() == "started", result.stderr
    assert wait_until_gone(token) == []


def test_environment_is_scrubbed_and_home_is_throwaway(bwrap, workdir, monkeypatch):
    monkeypatch.setenv("GRADER_TEST_SECRET", "hunter2")
    code = """
        import json, os, pathlib
        home = pathlib.Path(os.environ["HOME"])
        (home / ".config").mkdir()
        (home / ".config" / "settings").write_text("student")
        pathlib.Path(os.environ["TMPDIR"], "scratch").write_text("tmp")
        print(json.dumps(dict(os.environ)))
    """
    first = run(bwrap, code, workdir)
    assert first.exit.ok, first.stderr
    env = json.loads(first.stdout)
    assert "GRADER_TEST_SECRET" not in env
    assert "hunter2" not in first.stdout
    assert env["HOME"] == str(workdir / ".home")
    assert env["PYTHONHASHSEED"] == "7"
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
    # Nothing from the first run is left for the second (mkdir would fail if .config still existed).
    second = run(bwrap, code, workdir)
    assert second.exit.ok, second.stderr
    assert not (workdir / ".home" / ".config").exists()


def test_a_workdir_reached_through_a_symlink_works(bwrap, workdir, tmp_path):
    link = tmp_path / "link-to-handin"
    link.symlink_to(workdir)
    result = run(bwrap, "import os; print(os.getcwd(), open('answer.txt').read().strip())", link)
    assert result.exit.ok, result.stderr
    assert result.stdout.split() == [str(link), "42"]


def test_a_read_only_path_under_tmp_stays_visible(bwrap, workdir):
    """A CI clone or a venv may live under /tmp; the private /tmp must not hide the grader package there."""
    package = Path(tempfile.mkdtemp(prefix="grader-package-under-tmp-"))
    try:
        (package / "marker.txt").write_text("visible")
        env = scrubbed_env(workdir / ".home", seed=7)
        proc = bwrap.launch([sys.executable, "-c", f"print(open({str(package / 'marker.txt')!r}).read())"],
                            workdir=workdir, limits=ResourceLimits(), env=env, visible_readonly=[package])
        out, err = proc.communicate(timeout=30)
        assert bwrap.kill(proc).ok, err.decode(errors="replace")
        assert out.decode().strip() == "visible"
    finally:
        shutil.rmtree(package)


# --- limits under bubblewrap ----------------------------------------------------------------------


def test_import_torch_and_numpy_work_under_a_memory_limit(bwrap, workdir):
    result = run(bwrap, """
        import numpy, torch
        print(float(torch.ones(3).sum()), numpy.arange(4).sum())
    """, workdir, limits=ResourceLimits(memory_bytes=2 * GiB), timeout=60)
    assert result.exit.ok, result.stderr
    assert result.stdout.split() == ["3.0", "6"]


def test_a_3_gib_array_fails_with_memory_error(bwrap, workdir):
    result = run(bwrap, """
        import numpy as np
        try:
            a = np.ones(3 * 2**30, dtype=np.uint8)
            print("allocated", a.nbytes)
        except MemoryError:
            print("MemoryError")
    """, workdir, limits=ResourceLimits(memory_bytes=1 * GiB))
    assert result.exit.ok, result.stderr
    assert result.stdout.strip() == "MemoryError"


def test_memory_of_the_whole_tree_is_capped_and_reported(bwrap, workdir):
    if not bwrap.protections()["memory_cgroup"]:
        pytest.skip("no writable memory cgroup on this machine: only the per-process RLIMIT_DATA applies")
    # Two children of 700 MiB each pass the per-process limit but not the cgroup's limit of 1 GiB.
    result = run(bwrap, """
        import subprocess, sys
        child = "import numpy as np, time; a = np.ones(700 * 2**20, dtype=np.uint8); time.sleep(1.5)"
        codes = [p.wait() for p in [subprocess.Popen([sys.executable, "-c", child]) for _ in range(2)]]
        print(codes)
        sys.exit(0 if codes == [0, 0] else 1)
    """, workdir, limits=ResourceLimits(memory_bytes=1 * GiB))
    assert result.exit.verdict == "memory limit exceeded", (result.exit, result.stdout, result.stderr)
    assert result.exit.oom_kills >= 1
    assert result.exit.peak_memory_bytes is not None and result.exit.peak_memory_bytes <= 1 * GiB


def test_a_fork_bomb_is_contained(bwrap, workdir):
    token = uuid.uuid4().hex
    result = run(bwrap, f"""
        import os, sys, time
        made = 0  # {token}
        try:
            for _ in range(1000):
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                made += 1
        except OSError as error:
            print("stopped", made, error.errno)
            sys.exit(0)
        print("unbounded", made)
    """, workdir, limits=ResourceLimits(max_processes=32))
    assert result.exit.ok, result.stderr
    verdict, made, code = result.stdout.split()
    assert verdict == "stopped" and int(made) < 32 and int(code) == errno.EAGAIN
    assert wait_until_gone(token) == []


def test_file_size_and_disk_limits(bwrap, workdir):
    result = run(bwrap, """
        import errno, os, subprocess
        outcome = []
        try:
            with open("big.bin", "wb") as handle:
                handle.write(b"x" * (2 * 2**20))
        except OSError as error:
            outcome.append(errno.errorcode[error.errno])
        # Other programs are bound too (Python's subprocess resets SIGXFSZ, so `head` dies of it).
        subprocess.run("head -c 3000000 /dev/zero > shell.bin", shell=True)
        outcome.append(os.path.getsize("shell.bin"))
        try:
            for i in range(8):
                with open(f"part{i}.bin", "wb") as handle:
                    handle.write(b"x" * 2**20)
        except OSError as error:
            outcome.append(errno.errorcode[error.errno])
        print(*outcome)
    """, workdir, limits=ResourceLimits(max_file_bytes=1 * MiB + 1, max_disk_bytes=4 * MiB))
    assert result.exit.ok, result.stderr
    assert result.stdout.split() == ["EFBIG", str(1 * MiB + 1), "ENOSPC"]


def test_the_worker_ignores_sigxfsz_but_not_sigpipe(bwrap, workdir):
    proc = bwrap.launch(["/bin/sh", "-c", "grep SigIgn /proc/self/status"], workdir=workdir,
                        limits=ResourceLimits(), env=scrubbed_env(workdir / ".home", 0))
    out, _ = proc.communicate(timeout=30)
    assert bwrap.kill(proc).ok
    ignored = int(out.split()[1], 16)
    assert ignored & (1 << (signal.SIGXFSZ - 1))
    assert not ignored & (1 << (signal.SIGPIPE - 1))


def test_cpu_time_limit_has_its_own_verdict(bwrap, workdir):
    result = run(bwrap, "while True: pass", workdir, limits=ResourceLimits(cpu_seconds=1))
    assert result.exit.verdict == "cpu time limit exceeded"


def test_kill_ends_a_running_sandbox_and_removes_its_cgroup(bwrap, workdir):
    token = f"1000.{uuid.uuid4().int % 10**9}"
    proc = bwrap.launch(["/bin/sh", "-c", f"sleep {token} & sleep {token}"], workdir=workdir,
                        limits=ResourceLimits(), env=scrubbed_env(workdir / ".home", 0))
    jail = bwrap._running[proc].jail
    deadline = time.monotonic() + 5
    while len(processes_with(token)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(processes_with(token)) >= 2  # bubblewrap and sh name the token too; at least the two sleeps
    info = bwrap.kill(proc)
    assert info.verdict == "killed by the grader"
    assert wait_until_gone(token) == []
    if jail is not None:
        assert not any(d.exists() for d in (jail.memory_dir, jail.pids_dir) if d is not None)


def test_bubblewrap_reports_its_protections(bwrap):
    on = bwrap.protections()
    assert bwrap.name == "bubblewrap"
    assert all(on[key] for key in ("network", "filesystem", "pid_namespace", "environment_scrubbed"))


# --- the process fallback --------------------------------------------------------------------------


def test_fallback_runs_in_the_workdir_with_scrubbed_env_and_limits(workdir, monkeypatch):
    monkeypatch.setenv("GRADER_TEST_SECRET", "hunter2")
    sandbox = ProcessSandbox()
    result = run(sandbox, """
        import errno, os
        try:
            open("big.bin", "wb").write(b"x" * (2 * 2**20))
            size = "written"
        except OSError as error:
            size = errno.errorcode[error.errno]
        print(os.getcwd(), "GRADER_TEST_SECRET" in os.environ, os.environ["HOME"], size)
    """, workdir, limits=ResourceLimits(max_file_bytes=1 * MiB))
    assert result.exit.ok, result.stderr
    assert result.stdout.split() == [str(workdir.resolve()), "False", str(workdir / ".home"), "EFBIG"]
    off = sandbox.protections()
    assert not off["network"] and not off["filesystem"] and not off["pid_namespace"]


def test_fallback_kill_takes_the_process_group_down(workdir):
    sandbox = ProcessSandbox()
    token = f"1000.{uuid.uuid4().int % 10**9}"
    proc = sandbox.launch(["/bin/sh", "-c", f"sleep {token} & sleep {token}"], workdir=workdir,
                          limits=ResourceLimits(), env=scrubbed_env(workdir / ".home", 0))
    deadline = time.monotonic() + 5
    while len(processes_with(token)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sandbox.kill(proc).verdict == "killed by the grader"
    assert wait_until_gone(token) == []


def test_a_worker_the_caller_forgot_does_not_outlive_the_grader(tmp_path):
    token = f"1000.{uuid.uuid4().int % 10**9}"
    grader_program = f"""
        import pathlib
        from grader.execution.limits import ResourceLimits
        from grader.execution.sandbox import ProcessSandbox, scrubbed_env
        workdir = pathlib.Path({str(tmp_path)!r})
        ProcessSandbox().launch(["/bin/sleep", "{token}"], workdir=workdir, limits=ResourceLimits(),
                                env=scrubbed_env(workdir / ".home", 0))
        print("launched, exiting without kill")
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(grader_program)], capture_output=True, text=True,
                          timeout=30, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert wait_until_gone(token) == []


def test_find_sandbox_falls_back_only_when_allowed(monkeypatch):
    import grader.execution.sandbox as sandbox_module

    monkeypatch.setattr(sandbox_module, "_found", {"result": "no bwrap executable on PATH"})
    with pytest.raises(SandboxUnavailable, match="no bwrap executable"):
        find_sandbox(require=True)
    assert find_sandbox(require=False).name == "process"


# --- pure parts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("returncode", "kwargs", "verdict"), [
    (0, {}, "ok"),
    (0, {"oom_kills": 1}, "ok"),
    (1, {}, "exit status 1"),
    (-9, {}, "killed by signal 9"),
    (-9, {"oom_kills": 1}, "memory limit exceeded"),
    (137, {"signal_in_status": True, "oom_kills": 2}, "memory limit exceeded"),
    (137, {"signal_in_status": True}, "killed by signal 9"),
    (137, {}, "exit status 137"),
    (128 + 24, {"signal_in_status": True}, "cpu time limit exceeded"),
    (-24, {}, "cpu time limit exceeded"),
    (-9, {"killed_by_grader": True}, "killed by the grader"),
])
def test_describe_exit(returncode, kwargs, verdict):
    assert describe_exit(returncode, **kwargs).verdict == verdict


def test_scrubbed_env_is_complete_and_inherits_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_TEST_SECRET", "hunter2")
    env = scrubbed_env(tmp_path / "home", seed=123)
    assert "GRADER_TEST_SECRET" not in env
    assert env["HOME"] == str(tmp_path / "home") and Path(env["TMPDIR"]).is_relative_to(env["HOME"])
    assert env["PYTHONHASHSEED"] == "123" and env["MPLBACKEND"] == "module://grader.execution.figure_backend" and env["LANG"] == "C.UTF-8"
    with pytest.raises(ValueError, match="PYTHONHASHSEED"):
        scrubbed_env(tmp_path, seed=-1)


def test_launch_rejects_a_home_outside_the_workdir_and_missing_paths(workdir, tmp_path):
    sandbox = ProcessSandbox()
    with pytest.raises(ValueError, match="HOME"):
        sandbox.launch([sys.executable], workdir=workdir, limits=ResourceLimits(),
                       env=scrubbed_env(tmp_path / "elsewhere", 0))
    with pytest.raises(FileNotFoundError, match="no-such-dir"):
        sandbox.launch([sys.executable], workdir=workdir, limits=ResourceLimits(),
                       env=scrubbed_env(workdir / ".home", 0), visible_readonly=[tmp_path / "no-such-dir"])


def test_resource_limits_reject_nonsense():
    with pytest.raises(ValueError, match="memory_bytes"):
        ResourceLimits(memory_bytes=0)

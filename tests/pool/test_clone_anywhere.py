"""Issue 15, item 2: the warm pool works wherever the package and the interpreter are installed; here a copy of the
grader package under /tmp, an interpreter (a virtual environment) under /tmp, and workers' folders in a folder of
/tmp (as pytest's tmp_path and the hostile corpus have them). Each of these once made every zygote fail to start
("Read-only file system", "Device or resource busy") and every hand-in silently ran cold."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

import grader

SCRIPT = textwrap.dedent("""
    import json, os, sys, tempfile
    work = tempfile.mkdtemp(prefix="workers-", dir=sys.argv[1])
    tempfile.tempdir = work  # workers' folders in a folder of /tmp: a tmpfs inside the zygote's /tmp
    import grader
    from grader.execution.pool import WarmPool
    from grader.execution.program import Cell, Program
    from grader.execution.protocol import Request
    from grader.execution.runner import ExecutionSettings, run_program
    from grader.execution.sandbox import find_sandbox
    from pathlib import Path

    package = os.path.dirname(grader.__file__)
    top = "/tmp/" + package.split("/")[2]  # the folder of /tmp that leads to the package
    HAND_INS = [
        # lock the folders that lead to the package, leave files everywhere it can write
        f"import os\\nos.chmod({top!r}, 0)\\nopen('/tmp/left-behind', 'w').write('x')\\nx = 1",
        "import os, sys\\nx = (sorted(os.listdir('/tmp')), os.listdir(os.path.dirname(sys.modules['grader'].__file__)) != [],"
        " sys.prefix, os.getppid())",
        "import numpy\\nx = float(numpy.arange(4).sum())",
    ]
    pool = WarmPool(find_sandbox(require=True), slots=1, preload=("numpy",), reply_timeout=10)
    settings = ExecutionSettings(preload=("numpy",), cell_timeout=20, startup_timeout=120)
    values = []
    try:
        for source in HAND_INS:
            program = Program(Path("handin.py"), "script", [Cell(0, "1", source)])
            report = run_program(program, [Request("x", "get", "x")], files_dir=None, sandbox=pool, settings=settings)
            reply = report.replies["x"]
            values.append(reply.value if reply.ok else f"error: {reply.error} {report.cells} {report.problems}")
    finally:
        pool.close()
    print(json.dumps({"package": package, "prefix": sys.prefix, "values": values, "sandbox": report.sandbox,
                      "stats": vars(pool.stats)}, default=str))
""")


@pytest.fixture(scope="module")
def under_tmp(bwrap):
    """A copy of the grader package installed (by a .pth file, as an editable install does) into a virtual environment
    that sees the system's packages (numpy), both under /tmp."""
    root = Path(tempfile.mkdtemp(prefix="grader-clone-", dir="/tmp"))
    try:
        shutil.copytree(Path(grader.__file__).resolve().parent, root / "clone" / "grader",
                        ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(root / "venv")],
                       check=True)
        site = root / "venv" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
        (site / "aaa-grader-clone.pth").write_text(f"{root / 'clone'}\n")
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_warm_pool_runs_from_a_package_and_a_venv_under_tmp(under_tmp):
    python = under_tmp / "venv" / "bin" / "python"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(under_tmp)}
    done = subprocess.run([str(python), "-c", SCRIPT, str(under_tmp)], capture_output=True, text=True, env=env,
                          cwd=under_tmp, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["package"] == str(under_tmp / "clone" / "grader")
    assert found["prefix"] == str(under_tmp / "venv")
    assert found["sandbox"] == "bubblewrap-pool"
    stats = found["stats"]
    assert stats["warm_launches"] == 3 and stats["cold_launches"] == 0, stats
    assert stats["zygotes_replaced"] == 0, stats["replaced_because"]
    first, second, third = found["values"]
    assert first == 1
    listing, package_readable, prefix, parent = second
    assert "left-behind" not in listing and package_readable and prefix == found["prefix"] and parent == 1
    assert third == 6.0

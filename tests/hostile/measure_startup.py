"""What starting a worker costs per hand-in, with and without bubblewrap (a measurement, not a test).

    python tests/hostile/measure_startup.py [--repeat 7]

For each row, the median wall time of `repeat` runs (after one warm-up run, so the page cache is warm):
- a bare `python -I -S -c pass` (the floor), started directly and through each sandbox;
- a whole run of a one-cell hand-in through `run_program` (sandbox, worker start, preload, one cell, quit),
  preloading nothing, numpy, and numpy + torch (what sheet 02's rubric asks for).
The difference between the two sandboxes' rows is what bubblewrap itself costs; the difference between the
preload rows is the cost of the imports, paid again by every hand-in. ("nothing" still imports numpy: the
worker's frame format needs it.)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO))

from grader.execution.limits import ResourceLimits
from grader.execution.program import load_program
from grader.execution.runner import ExecutionSettings, run_program
from grader.execution.sandbox import ProcessSandbox, Sandbox, find_sandbox, scrubbed_env
from tests.conftest import write_notebook


def median_seconds(action: Callable[[], None], repeat: int) -> float:
    action()  # warm-up: page cache, bytecode of the grader's own modules
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bare_python() -> None:
    subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)


def sandboxed_python(sandbox: Sandbox) -> Callable[[], None]:
    def run() -> None:
        with tempfile.TemporaryDirectory(prefix="grader-measure-") as tmp:
            workdir = Path(tmp)
            proc = sandbox.launch([sys.executable, "-I", "-S", "-c", "pass"], workdir=workdir,
                                  limits=ResourceLimits(), env=scrubbed_env(workdir / ".home", 0))
            proc.communicate(timeout=60)
            outcome = sandbox.kill(proc)
            if not outcome.ok:
                raise RuntimeError(f"the sandboxed python failed: {outcome.verdict}")
    return run


def one_cell_run(sandbox: Sandbox, preload: tuple[str, ...], folder: Path) -> Callable[[], None]:
    program = load_program(write_notebook(folder / f"one-cell-{len(preload)}.ipynb", ["x = 1"]))
    settings = ExecutionSettings(preload=preload)

    def run() -> None:
        report = run_program(program, [], files_dir=None, sandbox=sandbox, settings=settings)
        if report.problems or report.cells[program.cells[0].index].status != "ok":
            raise RuntimeError(f"the one-cell run failed: {report.problems} {report.cells}")
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    sandboxes: list[Sandbox] = [ProcessSandbox()]
    try:
        sandboxes.insert(0, find_sandbox(require=True))
    except Exception as exc:
        print(f"(no bubblewrap here: {exc})")
    rows = [("python -I -S -c pass, no sandbox", median_seconds(bare_python, args.repeat))]
    with tempfile.TemporaryDirectory(prefix="grader-measure-") as tmp:
        for sandbox in sandboxes:
            rows.append((f"python -I -S -c pass, {sandbox.name}", median_seconds(sandboxed_python(sandbox),
                                                                               args.repeat)))
            for preload in ((), ("numpy",), ("numpy", "torch")):
                label = f"one-cell hand-in, {sandbox.name}, preload {'+'.join(preload) or 'nothing'}"
                rows.append((label, median_seconds(one_cell_run(sandbox, preload, Path(tmp)), args.repeat)))
    width = max(len(label) for label, _ in rows)
    print(f"{'what (median of ' + str(args.repeat) + ' runs)':<{width}}  seconds")
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds:7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

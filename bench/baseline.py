"""The kernel-per-notebook baseline: what nbgrader and Otter-Grader do underneath, one notebook at a time.

    python bench/baseline.py OUT.jsonl PRELOAD NOTEBOOK...      (PRELOAD: e.g. numpy,torch)

For each notebook, in order: a fresh Jupyter kernel (nbclient, as nbgrader's autograde step uses it) imports
the PRELOAD modules, executes every cell with errors allowed, and is shut down. One JSON line per notebook
goes to OUT.jsonl as soon as it is done: the wall time from reading the notebook to the kernel's shutdown,
the start-up (kernel start and the imports), and the student's own compute: the sum of the cells' execution
times inside the kernel (nbclient's timing metadata). The imports are done first so that the notebook's own
`import torch` is as cheap as in the grader's warm workers: what counts as the student's compute is the same
for both.

It executes the notebook only: the checks our grader runs on top (about 30 calls per sheet 02 hand-in) are
not added as test cells, so the baseline does less work than the grader it is compared with.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

CELL_TIMEOUT_SECONDS = 600


def cell_seconds(cell: dict) -> float:
    """How long the kernel spent executing one cell, from nbclient's timing metadata (0 if not run)."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not start or not end:
        return 0.0
    return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())


def run_one(path: Path, preload: list[str]) -> dict:
    started = time.perf_counter()
    record = {"notebook": path.name, "folder": path.parent.name, "status": "ok", "compute": 0.0}
    with tempfile.TemporaryDirectory(prefix="baseline-") as workdir:
        try:
            notebook = nbformat.read(str(path), as_version=4)
        except Exception as exc:  # noqa: BLE001 - nbformat raises many types for a broken file
            record.update(status=f"unreadable: {type(exc).__name__}", wall=time.perf_counter() - started)
            return record
        shutil.copy(path, Path(workdir) / path.name)
        client = NotebookClient(notebook, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3", allow_errors=True,
                                record_timing=True, resources={"metadata": {"path": workdir}})
        try:
            with client.setup_kernel():
                if preload:
                    client.execute_cell(nbformat.v4.new_code_cell(f"import {', '.join(preload)}"), 0)
                record["startup"] = time.perf_counter() - started
                for index, cell in enumerate(notebook.cells):
                    client.execute_cell(cell, index)
        except (CellTimeoutError, DeadKernelError) as exc:
            record["status"] = type(exc).__name__
        record["compute"] = sum(cell_seconds(cell) for cell in notebook.cells if cell.cell_type == "code")
        errors = sum(1 for cell in notebook.cells if cell.cell_type == "code"
                     and any(out.get("output_type") == "error" for out in cell.get("outputs", [])))
        record["cells_with_errors"] = errors
    record["wall"] = time.perf_counter() - started
    return record


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: " + __doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    out, preload = Path(argv[0]), [m for m in argv[1].split(",") if m]
    with out.open("a", encoding="utf-8") as handle:
        for name in argv[2:]:
            record = run_one(Path(name), preload)
            record["finished"] = time.time()
            handle.write(json.dumps(record) + "\n")
            handle.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

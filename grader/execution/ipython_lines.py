"""Which lines of a cell the grader does not run: IPython magics and shell escapes.

A notebook cell may hold `!pip install pyro-ppl`, `%matplotlib inline` or a `%%bash` cell. The sandbox runs
Python only: `to_python` turns these lines into calls on a stand-in `get_ipython()` that does nothing (the timing
and capturing cell magics `%%time`, `%%timeit`, `%%capture`, `%%prun` run their code). Skipping them silently
left students puzzled by a `ModuleNotFoundError` two cells later, so each cell's skipped lines are listed in the
feedback and by `grader check`, read here by comparing the cell with its translation (nothing is run).
"""

from __future__ import annotations

import re

# Cell magics whose body the worker's stand-in runs (grader/execution/worker.py, IPythonShim.run_cell_magic).
RUN_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
_CELL_MAGIC = re.compile(r"^get_ipython\(\)\.run_cell_magic\('(?P<name>[^']*)'")
_MAGIC_OR_SHELL = re.compile(r"^\s*(?:[\w.,\s\[\]]+=\s*)?(?:!|%)")
_CALL = "get_ipython()."


def skipped_lines(original: str, translated: str) -> list[str]:
    """The cell's lines (as the student wrote them) that do not run: shell escapes, magics, a whole cell magic."""
    first = translated.lstrip("\n")
    cell_magic = _CELL_MAGIC.match(first)
    if cell_magic:
        if cell_magic.group("name") in RUN_CELL_MAGICS:
            return []
        head = next((line.strip() for line in original.splitlines() if line.strip()), "%%")
        lines = len([line for line in original.splitlines() if line.strip()])
        return [f"{head} (the whole cell, {lines} lines)"]
    originals = original.splitlines()
    skipped = []
    for number, line in enumerate(translated.splitlines()):
        if _CALL in line and number < len(originals) and _MAGIC_OR_SHELL.match(originals[number]):
            skipped.append(originals[number].strip())
    return skipped


def skipped_note(label: str, lines: list[str]) -> str:
    """The sentence for one cell: what was not run, and why an install line matters."""
    shown = ", ".join(f"`{line[:120]}`" for line in lines[:8]) + (f" and {len(lines) - 8} more" if len(lines) > 8
                                                                  else "")
    note = f"cell {label}: not run by the grader (it runs Python only; magics and shell commands are skipped): {shown}"
    if any(re.search(r"\b(?:pip|conda|mamba|apt(?:-get)?)\s+install\b", line) for line in lines):
        note += ("; nothing is installed while grading, only the course's packages are there, so an import of "
                 "what that line installs fails")
    return note

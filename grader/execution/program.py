"""Turn a hand-in file (notebook or script) into the list of code cells the worker will run.

Parsing happens in the grader (it is only JSON or text); nothing here executes student code. Stored outputs
in a notebook are dropped on purpose: the code is always run again.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_SOURCE_BYTES = 20 * 2**20
CELL_MARKER = re.compile(r"^# ?%%", re.MULTILINE)


class ProgramError(ValueError):
    """The hand-in cannot be turned into runnable cells; the message names the file and the problem."""


@dataclass(frozen=True)
class Cell:
    index: int
    label: str  # how feedback names the cell: "3" for notebook cell 3, "line 12" for a script
    source: str


@dataclass
class Program:
    path: Path
    kind: str  # "notebook" | "script"
    cells: list[Cell]
    markdown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def cell(self, index: int) -> Cell:
        return next(c for c in self.cells if c.index == index)


def load_program(path: Path) -> Program:
    path = Path(path)
    if path.stat().st_size > MAX_SOURCE_BYTES:
        raise ProgramError(f"{path.name}: {path.stat().st_size} bytes is more than the "
                           f"{MAX_SOURCE_BYTES // 2**20} MB a hand-in file may have")
    suffix = path.suffix.lower()
    if suffix == ".ipynb":
        return _load_notebook(path)
    if suffix == ".py":
        return _load_script(path)
    raise ProgramError(f"{path.name}: not a notebook (.ipynb) or a Python script (.py)")


def _load_notebook(path: Path) -> Program:
    import nbformat

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProgramError(f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProgramError(f"{path.name}: not a notebook, the JSON is broken at line {exc.lineno}, "
                           f"column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ProgramError(f"{path.name}: not a notebook, the JSON is nested too deeply to read") from None
    if not isinstance(raw, dict) or "nbformat" not in raw:
        raise ProgramError(f"{path.name}: JSON but not a notebook (no 'nbformat' field)")
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several types for malformed notebooks
        raise ProgramError(f"{path.name}: not a readable notebook: {str(exc)[:300]}") from None
    notes = []
    if raw.get("nbformat") != 4:
        notes.append(f"notebook format v{raw.get('nbformat')} was converted to v4")
    cells, markdown = [], []
    for number, cell in enumerate(notebook.cells):
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise ProgramError(f"{path.name}: cell {number + 1}'s source is not text")
        if cell.get("cell_type") == "code":
            if source.strip():
                cells.append(Cell(index=number, label=str(number + 1), source=to_python(source)))
        elif cell.get("cell_type") == "markdown":
            markdown.append(source)
    return Program(path=path, kind="notebook", cells=cells, markdown=markdown, notes=notes)


def _load_script(path: Path) -> Program:
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProgramError(f"{path.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if CELL_MARKER.search(source):
        pieces = [p for p in CELL_MARKER.split(source) if p.strip()]
        cells = [Cell(index=i, label=f"%% block {i + 1}", source=to_python(p)) for i, p in enumerate(pieces)]
        return Program(path=path, kind="script", cells=cells)
    return Program(path=path, kind="script", cells=_split_statements(source, path))


def _split_statements(source: str, path: Path) -> list[Cell]:
    """One cell per top-level statement, so an error in one line does not hide the definitions after it."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        # Run it whole: the worker reports the syntax error the way Python would.
        return [Cell(index=0, label=f"line {exc.lineno or 1}", source=source)]
    lines = source.splitlines(keepends=True)
    cells = []
    for i, node in enumerate(tree.body):
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        text = "".join(lines[start - 1:node.end_lineno])
        # Keep line numbers in tracebacks true to the student's file.
        cells.append(Cell(index=i, label=f"line {start}", source="\n" * (start - 1) + text))
    return cells


def to_python(source: str) -> str:
    """IPython syntax (magics, shell escapes) to plain Python calls that the worker's shim ignores."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return re.sub(r"^(\s*)([%!].*)$", r"\1pass  # \2", source, flags=re.MULTILINE)
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # a transformer bug must not cost the student the cell: run it as written
        return source

"""Turn a hand-in file (notebook or script) into the list of code cells the worker will run.

Parsing happens in the grader (it is only JSON or text); nothing here executes student code. Stored outputs
in a notebook are dropped on purpose, before the size check: the code is always run again, so the cap on what a
hand-in may hold applies to what is run, and a notebook that is big only because a cell printed a lot is graded.

Scripts: a `.py` file in the percent format (`# %%` cells, as Jupytext, VS Code and Spyder write it) runs cell by
cell; the text after `# %%` is the cell's title and options (`[markdown]`, `[raw]`, `tags=[...]`), never code.
A script without markers runs one top-level statement at a time, so an error hides no later definition.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from grader.execution.ipython_lines import skipped_lines, skipped_note
from grader.execution.kernels import NotebookLanguage, notebook_language
from grader.text.files import TextEncodingError, read_hand_in_text

MAX_SOURCE_BYTES = 20 * 2**20  # what is run: code and text, without stored outputs
MAX_READ_BYTES = 100 * 2**20  # bomb guard: a notebook file is not even read beyond this (the zip entry cap)
# A percent-format cell marker (Jupytext): "# %%" or "#%%" at the start of a line, then the cell's title and
# options. "# %%%" and deeper are Spyder's sub-cells; they start a cell too.
CELL_MARKER = re.compile(r"^#\s?%%+(?P<rest>(?:[ \t].*)?)$")
CELL_TYPE = re.compile(r"\[(markdown|md|raw)\]")
CELL_OPTIONS = re.compile(r"\s[\w-]+=(\[[^\]]*\]|\"[^\"]*\"|'[^']*'|\S+)")


class ProgramError(ValueError):
    """The hand-in cannot be turned into runnable cells; the message names the file and the problem."""


class OtherLanguageError(ProgramError):
    """A notebook written for another kernel (R, Julia, ...): not run; the message names the kernel."""

    def __init__(self, name: str, language: NotebookLanguage) -> None:
        super().__init__(f"{name} was written for {language.describe()}, not Python: the grader runs Python "
                         "notebooks only, so its code was not run (its written answers are still read)")
        self.language = language


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
    suffix = path.suffix.lower()
    size = path.stat().st_size
    if suffix == ".ipynb":
        if size > MAX_READ_BYTES:
            raise ProgramError(f"{path.name}: {size} bytes is more than the {MAX_READ_BYTES // 2**20} MB a "
                               f"notebook file may have, even with its stored outputs")
        return _load_notebook(path)
    if size > MAX_SOURCE_BYTES:
        raise ProgramError(f"{path.name}: {size} bytes is more than the {MAX_SOURCE_BYTES // 2**20} MB a "
                           f"hand-in file may have")
    if suffix == ".py":
        return _load_script(path)
    raise ProgramError(f"{path.name}: not a notebook (.ipynb) or a Python script (.py)")


def _drop_outputs(raw: dict) -> int:
    """Remove stored outputs, execution counts and attachments in place; returns how many bytes they held."""
    dropped = 0
    cells = raw.get("cells")
    if not isinstance(cells, list):  # nbformat v3 keeps cells in worksheets: left to nbformat's converter
        return 0
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        for key, empty in (("outputs", []), ("attachments", None)):
            if cell.get(key):
                dropped += len(json.dumps(cell[key], ensure_ascii=False).encode("utf-8", "surrogatepass"))
                if empty is None:
                    del cell[key]
                else:
                    cell[key] = empty
        if "execution_count" in cell:
            cell["execution_count"] = None
    return dropped


def _load_notebook(path: Path) -> Program:
    import nbformat

    try:
        text = read_hand_in_text(path)
    except TextEncodingError as exc:
        raise ProgramError(str(exc)) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProgramError(f"{path.name}: not a notebook, the JSON is broken at line {exc.lineno}, "
                           f"column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ProgramError(f"{path.name}: not a notebook, the JSON is nested too deeply to read") from None
    if not isinstance(raw, dict) or "nbformat" not in raw:
        raise ProgramError(f"{path.name}: JSON but not a notebook (no 'nbformat' field)")
    language = notebook_language(raw)
    if not language.is_python:
        raise OtherLanguageError(path.name, language)
    notes = []
    file_bytes = len(text.encode("utf-8", "surrogatepass"))
    dropped = _drop_outputs(raw)
    if dropped:
        text = json.dumps(raw, ensure_ascii=False)
    kept = len(text.encode("utf-8", "surrogatepass"))
    if kept > MAX_SOURCE_BYTES:
        raise ProgramError(f"{path.name}: its code and text are {_mb(kept)} without the stored outputs, more than "
                           f"the {MAX_SOURCE_BYTES // 2**20} MB a hand-in may run")
    if file_bytes > MAX_SOURCE_BYTES:
        notes.append(f"{path.name} is {_mb(file_bytes)}, over the {MAX_SOURCE_BYTES // 2**20} MB limit, only "
                     f"because of its stored outputs ({_mb(dropped)}); they were dropped (the grader never uses "
                     f"stored outputs, it runs the code again) and the {_mb(kept)} of code and text were graded")
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several types for malformed notebooks
        raise ProgramError(f"{path.name}: not a readable notebook: {str(exc)[:300]}") from None
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
                skipped = skipped_lines(source, cells[-1].source)
                if skipped:
                    notes.append(skipped_note(cells[-1].label, skipped))
        elif cell.get("cell_type") == "markdown":
            markdown.append(source)
    return Program(path=path, kind="notebook", cells=cells, markdown=markdown, notes=notes)


def _load_script(path: Path) -> Program:
    try:
        source = read_hand_in_text(path)
    except TextEncodingError as exc:
        raise ProgramError(str(exc)) from None
    lines = source.splitlines(keepends=True)
    if any(CELL_MARKER.match(line.rstrip("\r\n")) for line in lines):
        cells, markdown, notes = _percent_cells(lines)
        return Program(path=path, kind="script", cells=cells, markdown=markdown, notes=notes)
    return Program(path=path, kind="script", cells=_split_statements(source, path))


def _percent_cells(lines: list[str]) -> tuple[list[Cell], list[str], list[str]]:
    """Cells of a percent-format script: code cells to run (line numbers kept), markdown cells' text, and notes
    on lines that do not run (magics, shell commands)."""
    blocks: list[tuple[int, str, str, list[str]]] = []  # (first body line, title, type, body lines)
    start, title, kind, body = 0, "", "code", []
    for number, line in enumerate(lines):
        marker = CELL_MARKER.match(line.rstrip("\r\n"))
        if marker is None:
            body.append(line)
            continue
        blocks.append((start, title, kind, body))
        title, kind = _cell_header(marker.group("rest"))
        start, body = number + 1, []
    blocks.append((start, title, kind, body))
    cells, markdown, notes = [], [], []
    for first_line, title, kind, body in blocks:
        text = "".join(body)
        if not text.strip():
            continue
        if kind == "markdown":
            markdown.append(_uncomment(body))
        elif kind == "code":
            label = f"{title} (line {first_line + 1})" if title else f"line {first_line + 1}"
            # Blank lines in front keep line numbers in tracebacks true to the student's file.
            translated = to_python(text)
            cells.append(Cell(index=len(cells), label=label, source="\n" * first_line + translated))
            skipped = skipped_lines(text, translated)
            if skipped:
                notes.append(skipped_note(label, skipped))
    return cells, markdown, notes


def _cell_header(rest: str) -> tuple[str, str]:
    """The title and cell type from what follows "# %%": "1b [markdown] tags=["x"]" -> ("1b", "markdown")."""
    found = CELL_TYPE.search(rest)
    kind = {"md": "markdown"}.get(found.group(1), found.group(1)) if found else "code"
    title = CELL_TYPE.sub(" ", rest)
    title = CELL_OPTIONS.sub(" ", " " + title)
    return " ".join(title.split()), kind


def _uncomment(body: list[str]) -> str:
    """A markdown cell's text: its lines without the leading "# ", or the inside of a triple-quoted string."""
    text = "".join(body).strip()
    for quote in ('"""', "'''"):
        if len(text) >= 6 and text.startswith(quote) and text.endswith(quote):
            return text[3:-3].strip("\n")
    return "".join(re.sub(r"^# ?", "", line) for line in body).strip("\n")


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


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"

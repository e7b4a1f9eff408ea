"""What the grader's own run of a hand-in produced, kept beside its results: `ran.ipynb` and its figures.

For every graded hand-in, OUT/<folder>/ holds
- `ran.ipynb`: the hand-in's notebook (a script's code cells as a notebook) with the outputs of the GRADER'S run
  in place of any stored ones: printed text (capped as the runner caps it), errors, a line for a cell that timed
  out, ran out of memory, crashed or did not run, and the figures its code drew (image/png display data). Stored
  outputs and attachments of the hand-in are dropped, never trusted. Valid nbformat 4; a hand-in that could not
  be run gets a notebook with one Markdown cell saying why. The review app (issue 17) renders it.
- `figures/cell-<cell>-<n>.png` and `figures.json`: each figure with the cell that drew it and the question that
  cell belongs to (the cell's `grader.question` metadata, else the question whose heading or marker precedes it,
  found as written answers are found), so pages can show it beside the question. The PNGs were checked by the
  runner (signature, size); the grader never decodes them.

Nothing here runs code: notebooks are read as JSON.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

from grader.execution.protocol import CellOutcome, RunReport
from grader.prose.questions import ProseQuestion, task_and_part
from grader.prose.segment import segment_lines
from grader.prose.sources import HandInReadError, read_document
from grader.text.files import TextEncodingError, read_hand_in_text

RAN_NOTEBOOK = "ran.ipynb"
FIGURES_FOLDER = "figures"
FIGURES_JSON = "figures.json"
_STATUS_TEXT = {"timeout": "stopped at the time limit", "memory": "ran out of memory", "crashed": "crashed the worker",
                "exit": "ended the run (exit)", "not run": "was not run (an earlier cell ended the run, or time ran out)"}


@dataclass(frozen=True)
class Figure:
    question: str | None  # the rubric question the drawing cell belongs to; None when no question owns it
    cell: str  # the cell's label ("12" for notebook cell 12, "line 30" in a script)
    file: str  # relative to the hand-in's output folder: "figures/cell-12-1.png"
    bytes: int


def clear_run_files(folder: Path) -> None:
    """Remove an earlier grading's ran.ipynb and figures (the folder is ours)."""
    (Path(folder) / RAN_NOTEBOOK).unlink(missing_ok=True)
    (Path(folder) / FIGURES_JSON).unlink(missing_ok=True)
    shutil.rmtree(Path(folder) / FIGURES_FOLDER, ignore_errors=True)


def write_run_files(folder: Path, main_file: Path | None, run: RunReport | None, question_ids: list[str],
                    *, why_not_run: str | None = None, sandbox: str = "") -> list[Figure]:
    """Write ran.ipynb, figures/ and figures.json into FOLDER; return the figures."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clear_run_files(folder)
    notebook = _base_notebook(main_file) if main_file is not None else None
    if notebook is None or run is None:
        # Not run (another kernel, a broken or missing notebook): its cells, if readable, and why.
        reason = why_not_run or "the hand-in's code was not run"
        notebook = notebook or nbformat.v4.new_notebook()
        notebook.cells.insert(0, nbformat.v4.new_markdown_cell(f"**Not run by the grader.** {reason}"))
        figures: list[Figure] = []
    else:
        questions = cell_questions(main_file, notebook, question_ids) if main_file.suffix == ".ipynb" else {}
        figures = _fill_outputs(notebook, run, questions, folder)
    notebook.metadata["grader"] = {"outputs": "from the grader's own run; stored outputs were dropped",
                                   "sandbox": sandbox or (run.sandbox if run is not None else "")}
    notebook = _valid(notebook)
    _write(folder / RAN_NOTEBOOK, nbformat.writes(notebook))
    _write(folder / FIGURES_JSON, json.dumps({"figures": [asdict(f) for f in figures]}, indent=1) + "\n")
    return figures


def read_figures(folder: Path) -> list[Figure]:
    """The figures figures.json lists (empty when the hand-in was graded before figures were kept)."""
    try:
        data = json.loads((Path(folder) / FIGURES_JSON).read_text(encoding="utf-8"))
        return [Figure(question=f.get("question"), cell=str(f["cell"]), file=str(f["file"]), bytes=int(f["bytes"]))
                for f in data.get("figures", []) if (Path(folder) / str(f["file"])).is_file()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def _base_notebook(main_file: Path) -> nbformat.NotebookNode | None:
    """The hand-in as a notebook without stored outputs, or None when it cannot be read."""
    try:
        text = read_hand_in_text(main_file)
    except (OSError, TextEncodingError):
        return None
    if main_file.suffix.lower() == ".ipynb":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # duplicate or missing cell ids: repaired in _valid
                notebook = nbformat.reads(text, as_version=4)
        except Exception:  # noqa: BLE001 - nbformat raises many kinds for broken files; such a hand-in did not run
            return None
        for cell in notebook.cells:
            cell.pop("attachments", None)
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        return notebook
    return _script_notebook(main_file)


def _script_notebook(main_file: Path) -> nbformat.NotebookNode | None:
    """A script's cells (percent-format cells, or one per top-level statement) as code cells, in run order."""
    from grader.execution.program import ProgramError, load_program

    try:
        program = load_program(main_file)
    except (ProgramError, OSError):
        return None
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(cell.source.lstrip("\n")) for cell in program.cells]
    for cell, source in zip(notebook.cells, program.cells):
        cell.metadata["grader"] = {"label": source.label}
    return notebook


def cell_questions(path: Path, notebook: nbformat.NotebookNode, question_ids: list[str]) -> dict[int, str]:
    """Notebook cell index -> the question the cell belongs to: its grader metadata, else the question whose
    marker or heading ("### Task 3 (c)", "3c)") comes last before it."""
    found: dict[int, str] = {}
    for index, cell in enumerate(notebook.cells):
        meta = cell.get("metadata", {}).get("grader")
        if isinstance(meta, dict) and meta.get("question") in question_ids:
            found[index] = meta["question"]
    questions = [ProseQuestion(id=qid, task=task or qid, part=part) for qid in question_ids
                 for task, part in [task_and_part(qid)]]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nbformat's notes on the hand-in's cell ids: not for the terminal
            lines = read_document(path).lines
    except HandInReadError:
        return found
    # Cells are matched by position: nbformat gives duplicate ids a random new one on every read.
    position = {cell: k for k, cell in enumerate(line.cell for line in lines if line.cell_start)}
    # The owner in force at the end of each Markdown cell (the last segment holding its lines) ...
    last_owner: dict[int, str | None] = {}
    for segment in segment_lines(lines, questions):
        for line in segment.lines:
            if line.cell is not None and line.cell_type == "markdown" and line.cell in position:
                last_owner[position[line.cell]] = segment.owner
    # ... passes on to the code cells after it.
    owner: str | None = None
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown" and index in last_owner:
            owner = last_owner[index]
        elif cell.cell_type == "code" and owner is not None:
            found.setdefault(index, owner)
    return found


def _fill_outputs(notebook: nbformat.NotebookNode, run: RunReport, questions: dict[int, str],
                  folder: Path) -> list[Figure]:
    figures: list[Figure] = []
    count = 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        outcome = run.cells.get(index)
        if outcome is None:
            continue  # an empty cell: not run, nothing to show
        count += 1
        cell.execution_count = count
        cell.outputs = _outputs(outcome)
        for number, png in enumerate(outcome.figures, start=1):
            name = f"{FIGURES_FOLDER}/cell-{_safe(outcome.label)}-{number}.png"
            _write_bytes(folder / name, png)
            figures.append(Figure(question=questions.get(index), cell=outcome.label, file=name, bytes=len(png)))
            cell.outputs.append(nbformat.v4.new_output(
                "display_data", data={"image/png": base64.b64encode(png).decode("ascii"),
                                      "text/plain": f"<figure {number} drawn by cell {outcome.label}>"}))
    return figures


def _outputs(outcome: CellOutcome) -> list:
    outputs = []
    if outcome.output:
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text=outcome.output))
    if outcome.status == "error" and outcome.error:
        lines = outcome.error.rstrip().splitlines()
        last = lines[-1] if lines else "Error"
        name, _, value = last.partition(": ")
        outputs.append(nbformat.v4.new_output("error", ename=name.strip()[:100] or "Error", evalue=value,
                                              traceback=lines))
    elif outcome.status in _STATUS_TEXT:
        text = f"[grader] this cell {_STATUS_TEXT[outcome.status]}" + (f": {outcome.error}" if outcome.error else "")
        outputs.append(nbformat.v4.new_output("stream", name="stderr", text=text + "\n"))
    return outputs


_CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _valid(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook made valid nbformat 4.5: hand-ins carry cell ids nbformat refuses ("q11.1.1", duplicates) and
    metadata of any shape; ids are repaired, and if it is still invalid, the cells are rebuilt from their sources
    and our outputs alone. Raises nothing for a hand-in's oddities."""
    seen: set[str] = set()
    for number, cell in enumerate(notebook.cells):
        cell_id = str(cell.get("id") or "")
        if not _CELL_ID.match(cell_id) or cell_id in seen:
            base = re.sub(r"[^a-zA-Z0-9_-]+", "-", cell_id).strip("-")[:50] or "cell"
            cell_id = f"{base}-{number + 1}"
        cell["id"] = cell_id
        seen.add(cell_id)
    notebook.nbformat, notebook.nbformat_minor = 4, max(5, int(notebook.get("nbformat_minor") or 0))
    try:
        nbformat.validate(notebook)
        return notebook
    except nbformat.ValidationError:
        rebuilt = nbformat.v4.new_notebook(metadata={"grader": notebook.metadata.get("grader", {})})
        for cell in notebook.cells:
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            if cell.get("cell_type") == "code":
                fresh = nbformat.v4.new_code_cell(source, outputs=cell.get("outputs", []),
                                                  execution_count=cell.get("execution_count"))
            elif cell.get("cell_type") == "raw":
                fresh = nbformat.v4.new_raw_cell(source)
            else:
                fresh = nbformat.v4.new_markdown_cell(source)
            fresh["id"] = cell["id"]
            rebuilt.cells.append(fresh)
        nbformat.validate(rebuilt)
        return rebuilt


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", label).strip("-")[:40] or "cell"


def _write(path: Path, text: str) -> None:
    _write_bytes(path, text.encode("utf-8"))


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(path)

"""The whole hand-in as the grader ran it: OUT/<hand-in>/ran.ipynb, rendered for the tutor.

ran.ipynb is the hand-in's notebook with the outputs of the grader's own run in place of any stored ones
(docs/gradebook.md). It is rendered by nbconvert's HTML exporter in a bounded child process and cleaned by nh3
there (grader/commands/review/_render_notebook.py); the page then shows it in an iframe that the server sends with a
Content-Security-Policy `sandbox` and no script source, so even HTML that slipped through could not run.

Figures and code per question are read from the same file: a cell belongs to the question its
`metadata.grader.question` names (the templates put it there).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from grader.prose.markers import label_path, parse_marker
from grader.commands.review.bounded import RenderError, run_bounded

RAN_NOTEBOOK = "ran.ipynb"
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
_CACHE_SIZE = 64
_cache: OrderedDict[str, str] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass
class QuestionCells:
    """One question's code cells and the figures they drew in the grader's run."""

    code: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)  # data: URIs of PNG images


def ran_notebook(folder: Path) -> Path | None:
    path = Path(folder) / RAN_NOTEBOOK
    return path if path.is_file() else None


def render_notebook(path: Path) -> str:
    """Sanitised HTML of the notebook's cells and outputs. Raises RenderError."""
    data = _read(path)
    key = hashlib.sha256(data).hexdigest()
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    html = run_bounded([sys.executable, "-m", "grader.commands.review._render_notebook", str(path)],
                       what=f"{path.parent.name}/{path.name}").decode("utf-8", "replace")
    with _cache_lock:
        _cache[key] = html
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return html


def question_cells(path: Path, question_id: str, *, figures: bool = True,
                   question_ids: list[str] | None = None) -> QuestionCells:
    """The question's code cells and (with `figures`) PNG figures, from the notebook's JSON (nothing is rendered
    or run). Figures are taken from ran.ipynb only: a hand-in's own notebook has the outputs it was saved with,
    which nobody checked."""
    found = QuestionCells()
    try:
        notebook = json.loads(_read(path))
    except (RenderError, ValueError, RecursionError):
        return found
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    cells = [cell for cell in cells if isinstance(cell, dict)] if isinstance(cells, list) else []
    for cell, question in zip(cells, cell_questions(cells, question_ids or [question_id])):
        if cell.get("cell_type") != "code" or question != question_id:
            continue
        source = cell.get("source", "")
        found.code.append("".join(source) if isinstance(source, list) else str(source))
        for output in (cell.get("outputs") or []) if figures else []:
            data = output.get("data") if isinstance(output, dict) else None
            png = data.get("image/png") if isinstance(data, dict) else None
            if isinstance(png, list):
                png = "".join(png)
            if isinstance(png, str) and _is_png(png):
                found.figures.append("data:image/png;base64," + "".join(png.split()))
    return found


def cell_questions(cells: list[dict], question_ids: list[str]) -> list[str | None]:
    """The question each cell belongs to: its `metadata.grader.question` when the template put one there (a
    student's copy often loses it), else the last question a Markdown cell named before it ("### Task 1 (b)",
    "**Aufgabe 2a)**", "1b)": the markers grader.prose.markers reads in written answers)."""
    paths = {label_path(qid): qid for qid in question_ids}
    found: list[str | None] = []
    current: str | None = None
    task: tuple[str, ...] = ()
    for cell in cells:
        named = _question(cell)
        if named is not None:
            current = named
        elif cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            for line in ("".join(source) if isinstance(source, list) else str(source)).splitlines()[:20]:
                marker = parse_marker(line)
                if marker is None or marker.answer:
                    continue
                if marker.task is not None:
                    task = marker.task
                    current = paths.get(task)  # a task without parts is a question of its own
                path = marker.full or ((*task, *marker.part) if marker.part else None)
                if path is not None and path in paths:
                    current = paths[path]
        found.append(current)
    return found


def _question(cell: dict) -> str | None:
    metadata = cell.get("metadata")
    grader = metadata.get("grader") if isinstance(metadata, dict) else None
    question = grader.get("question") if isinstance(grader, dict) else None
    return question if isinstance(question, str) else None


def _is_png(text: str) -> bool:
    try:
        return base64.b64decode("".join(text.split())[:24] + "==", validate=False).startswith(b"\x89PNG")
    except ValueError:
        return False


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise RenderError(f"{path.name}: larger than {MAX_NOTEBOOK_BYTES // 2**20} MB, not shown")
        return path.read_bytes()
    except OSError as exc:
        raise RenderError(f"{path.name}: cannot read it ({exc.strerror})") from None

"""A hand-in file's code as the similarity engine wants it: notebook code cells, or a script's text.

Runs where hand-in files are read (the bounded reader child, grader/commands/manual/_reader.py): it parses untrusted
files, as JSON or text only, and never runs anything. Output is capped at `max_chars` characters per file.
"""

from __future__ import annotations

import json
from pathlib import Path

CODE_SUFFIXES = (".ipynb", ".py")


class CodeReadError(ValueError):
    """The file's code cannot be read; the message says why (without the file's path)."""


def read_code(path: Path, max_chars: int) -> tuple[list[dict], list[str]]:
    """The file's code units as {"label", "text", "question"} dicts, and notes on what was left out.

    A notebook gives one unit per non-empty code cell, labelled "cell N" (N counts all cells, as Jupyter
    shows them) and with the cell's question from its grader metadata when the template put it there; a .py
    file gives one unit. Text beyond `max_chars` in all is cut off, with a note.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CodeReadError(f"cannot read it ({exc.strerror})") from None
    if path.suffix.lower() != ".ipynb":
        units = [{"label": path.name, "text": text, "question": None}]
    else:
        units = _notebook_cells(text)
    kept, notes, budget = [], [], max_chars
    for unit in units:
        if budget <= 0:
            notes.append(f"code after {kept[-1]['label'] if kept else 'the start'} left out: more than "
                         f"{max_chars:,} characters")
            break
        if len(unit["text"]) > budget:
            unit = {**unit, "text": unit["text"][:budget]}
            notes.append(f"{unit['label']}: cut off after {max_chars:,} characters of code")
        budget -= len(unit["text"])
        kept.append(unit)
    return kept, notes


def _notebook_cells(text: str) -> list[dict]:
    try:
        notebook = json.loads(text)
    except RecursionError:
        raise CodeReadError("not a notebook: the JSON is nested too deeply to read") from None
    except json.JSONDecodeError as exc:
        raise CodeReadError(f"not a notebook: the JSON is broken at line {exc.lineno}") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if cells is None and isinstance(notebook, dict):  # nbformat 3 keeps cells in worksheets
        cells = [c for sheet in notebook.get("worksheets") or [] if isinstance(sheet, dict)
                 for c in sheet.get("cells") or []]
    if not isinstance(cells, list):
        raise CodeReadError("not a notebook: no list of cells")
    units = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", cell.get("input", ""))
        if isinstance(source, list):
            source = "".join(part for part in source if isinstance(part, str))
        if not isinstance(source, str) or not source.strip():
            continue
        metadata = cell.get("metadata")
        grader = metadata.get("grader") if isinstance(metadata, dict) else None
        question = grader.get("question") if isinstance(grader, dict) else None
        units.append({"label": f"cell {number}", "text": source,
                      "question": question if isinstance(question, str) else None})
    return units

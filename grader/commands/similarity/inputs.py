"""What the similarity engine compares: plain data, so the batch, the CLI and a review page can all call it.

A hand-in is its code (notebook cells or files, as text) and its written answers per question (text). The
shared material is what every hand-in may contain without copying anything: the released template's code and
text, the task text, and the names the rubric's checks make every solution use.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CodeUnit:
    """One piece of a hand-in's code: a notebook cell, or a whole .py file."""

    label: str  # where it is, for the report: "sheet02.ipynb, cell 7", "helpers.py"
    text: str
    question: str | None = None  # the question the cell belongs to, when the notebook says so (cell metadata)


@dataclass(frozen=True)
class HandInText:
    """One hand-in as the engine sees it. `id` is unique in a batch (the gradebook's file name)."""

    id: str
    code: tuple[CodeUnit, ...] = ()
    answers: dict[str, str] = field(default_factory=dict)  # question id -> the written answer's text
    notes: tuple[str, ...] = ()  # what could not be read, for the report


@dataclass(frozen=True)
class SharedMaterial:
    """What everybody shares, removed before comparing.

    code: the released template's code (and any starter code); text: the template's text and the task text
    (questions); names: identifiers every solution must use (the rubric's checked functions and variables),
    mapped to the question that asks for them; sources: where each part came from, for the report.
    """

    code: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    names: dict[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

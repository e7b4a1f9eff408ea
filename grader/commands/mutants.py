"""Registered wrong answers ("mutants") of a master notebook, kept beside the rubric.

A mutant replaces the solution regions of one cell of the master with a known mistake and states which
checks must catch it (and which hint must show). The selftest grades every mutant and fails when a mutant
keeps points it should lose: that is a rubric bug.
"""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path

import nbformat
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.rubric.notebooks import CODE_BEGIN, CODE_END, MarkupError, cell_meta


class Mutant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[\w.-]+$")
    description: str
    cell: str  # metadata.grader.id of the master cell to change
    regions: list[str] = Field(min_length=1)  # new code for the cell's solution regions, in order
    loses: list[str] = Field(min_length=1)  # "question/check" that must score 0
    hint: str | None = None  # text that must appear in the hints shown


class MutantSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sheet: str
    master: str  # path of the master notebook, relative to the course root
    mutants: list[Mutant] = Field(min_length=1)


def load_mutants(path: Path) -> MutantSet:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return MutantSet.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the mutants: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{path}: {problems}") from None


def apply_mutant(master: nbformat.NotebookNode, mutant: Mutant) -> nbformat.NotebookNode:
    notebook = copy.deepcopy(master)
    cells = [c for c in notebook.cells if cell_meta(c).get("id") == mutant.cell]
    if len(cells) != 1:
        raise MarkupError(f"mutant {mutant.id}: the master has {len(cells)} cells with id {mutant.cell!r}")
    cell = cells[0]
    cell.source = _replace_regions(cell.source, mutant.regions, f"mutant {mutant.id}")
    return notebook


def _replace_regions(source: str, regions: list[str], where: str) -> str:
    out, replacements, inside = [], iter(regions), False
    used = 0
    for line in source.splitlines():
        begin = CODE_BEGIN.match(line)
        if begin:
            inside = True
            code = next(replacements, None)
            if code is None:
                raise MarkupError(f"{where}: the cell has more solution regions than the mutant gives")
            used += 1
            out.extend(textwrap.indent(textwrap.dedent(code).strip("\n"), begin.group(1)).splitlines())
        elif CODE_END.match(line):
            inside = False
        elif not inside:
            out.append(line)
    if used != len(regions):
        raise MarkupError(f"{where}: the mutant gives {len(regions)} regions, the cell has {used}")
    return "\n".join(out)

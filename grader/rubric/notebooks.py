"""The master-notebook markup, shared by every course, and the student template made from a master.

Every cell of a master carries `metadata.grader = {"id", "question", "role"}` with role one of given,
solution, answer, team, text. Code solutions lie between `# BEGIN SOLUTION` / `# END SOLUTION` lines,
prose between `<!-- BEGIN SOLUTION -->` / `<!-- END SOLUTION -->`. The template replaces a code region by
`raise NotImplementedError()` at the region's indentation, and a prose region by a placeholder.
"""

from __future__ import annotations

import copy
import re
import textwrap
from pathlib import Path

import nbformat

ROLES = frozenset({"given", "solution", "answer", "team", "text"})
CODE_BEGIN, CODE_END = re.compile(r"^(\s*)# BEGIN SOLUTION\s*$"), re.compile(r"^\s*# END SOLUTION\s*$")
PROSE_REGION = re.compile(r"<!-- BEGIN SOLUTION -->.*?<!-- END SOLUTION -->", re.S)
ANSWER_PLACEHOLDER = "YOUR ANSWER HERE"


class MarkupError(ValueError):
    """A master notebook whose solution markup is broken; names the cell."""


def make_cell(kind: str, cell_id: str, question: str | None, role: str, source: str) -> nbformat.NotebookNode:
    """A master cell with its markup; the fixed cell id keeps a rebuilt notebook byte-identical."""
    if role not in ROLES:
        raise MarkupError(f"cell {cell_id!r}: unknown role {role!r}")
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    cell = make(textwrap.dedent(source).strip("\n"))
    cell.id = cell_id
    cell.metadata["grader"] = {"id": cell_id, "question": question, "role": role}
    return cell


def cell_meta(cell: dict) -> dict:
    meta = cell.get("metadata", {}).get("grader")
    return meta if isinstance(meta, dict) else {}


def strip_code_solution(source: str, where: str = "cell") -> str:
    out, inside, indent = [], False, ""
    for number, line in enumerate(source.splitlines(), 1):
        begin = CODE_BEGIN.match(line)
        if begin:
            if inside:
                raise MarkupError(f"{where}: BEGIN SOLUTION inside another region (line {number})")
            inside, indent = True, begin.group(1)
            out.append(f"{indent}# YOUR CODE HERE")
            out.append(f"{indent}raise NotImplementedError()")
        elif CODE_END.match(line):
            if not inside:
                raise MarkupError(f"{where}: END SOLUTION without BEGIN (line {number})")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkupError(f"{where}: BEGIN SOLUTION is never closed")
    return "\n".join(out)


def make_template(master: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student's copy: solutions removed, outputs cleared, the markup kept so answers can be found."""
    template = copy.deepcopy(master)
    for index, cell in enumerate(template.cells):
        meta = cell_meta(cell)
        where = f"cell {index + 1} ({meta.get('id', 'no id')})"
        if meta and meta.get("role") not in ROLES:
            raise MarkupError(f"{where}: unknown role {meta.get('role')!r}")
        if cell.cell_type == "code":
            cell.source = strip_code_solution(cell.source, where)
            cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "markdown":
            cell.source = PROSE_REGION.sub(ANSWER_PLACEHOLDER, cell.source)
    return template


def write_template(master_path: Path, out_path: Path) -> Path:
    master = nbformat.read(str(master_path), as_version=4)
    nbformat.write(make_template(master), str(out_path))
    return out_path

"""Generate a realistic folder of hand-ins for a sheet from its master notebook and registered mutants.

Every 20 hand-ins follow the same mix (so the first 25 and the first 100 of a set of 400 are the same mix):
11 correct, 5 partial (one registered mutant each, in turn), 1 with a code error, 1 whose notebook file is
cut off (unreadable), 1 handed-in empty template, and 1 correct one with an extra slow cell (about a second
of pure-Python compute). Each is a zip named as the sheet asks (Surname_id_Surname_id.zip) holding one
notebook with the team's names; all names are invented. A manifest.csv gives on-time hand-in times.
"""

from __future__ import annotations

import copy
import csv
import io
import random
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.commands.mutants import apply_mutant, load_mutants
from grader.rubric.notebooks import cell_meta, make_template

PATTERN = ("correct", "correct", "partial", "correct", "code_error", "correct", "partial", "correct", "correct",
           "slow", "correct", "partial", "correct", "template", "correct", "partial", "correct", "unreadable",
           "correct", "partial")
SLOW_CELL = ("# a slow cell: plain Python, about a second\n"
             "slow_total = 0\n"
             "for slow_i in range(6_000_000):\n"
             "    slow_total += slow_i * slow_i\n")
_ZIP_TIME = (2025, 1, 27, 12, 0, 0)
_CODE_MARKER = re.compile(r"^[ \t]*# (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)
_PROSE_MARKER = re.compile(r"\s*<!-- (BEGIN|END) SOLUTION -->\s*")
# Invented names, not those of any real person in the course material.
_FIRST = ("Mara", "Tomas", "Ilse", "Kwame", "Noor", "Oskar", "Priya", "Ruben", "Sanna", "Teo", "Ugo", "Vera",
          "Wanda", "Xaver", "Yara", "Zeno", "Alma", "Bodo", "Cleo", "Dario")
_LAST = ("Lindqvist", "Baumgart", "Okonkwo", "Haddad", "Strand", "Varga", "Iyer", "Moreau", "Kettunen", "Abara",
         "Castell", "Dorn", "Esposito", "Falk", "Gruber", "Holm", "Ibsen", "Jansen", "Kovac", "Larsen")


@dataclass(frozen=True)
class HandIn:
    path: Path  # the zip
    notebook: str  # the notebook's name inside the zip
    kind: str  # one of PATTERN's kinds


def generate(sheet: str, count: int, dest: Path, course: Path) -> list[HandIn]:
    """Write `count` hand-ins of `sheet` into `dest` (plus manifest.csv); the same arguments give the same files."""
    dest.mkdir(parents=True, exist_ok=True)
    mutant_set = load_mutants(course / "rubrics" / f"{sheet}.mutants.yaml")
    master = nbformat.read(str(course / mutant_set.master), as_version=4)
    rng = random.Random(f"{sheet}-{count}")
    hand_ins, partial_count, used_names = [], 0, set()
    for index in range(count):
        kind = PATTERN[index % len(PATTERN)]
        team = _team(rng, index, used_names)
        if kind == "partial":
            notebook = apply_mutant(master, mutant_set.mutants[partial_count % len(mutant_set.mutants)])
            partial_count += 1
        elif kind == "template":
            notebook = make_template(master)
        elif kind == "code_error":
            notebook = _with_code_error(master)
        elif kind == "slow":
            notebook = _with_slow_cell(master)
        else:
            notebook = master
        data = _notebook_bytes(_as_hand_in(notebook, team))
        if kind == "unreadable":
            data = data[: len(data) // 3]  # cut off while saving
        name = "_".join(f"{last}_{student_id}" for _, last, student_id in team) + ".zip"
        path = dest / name
        path.write_bytes(_zip({f"{sheet}.ipynb": data}))
        hand_ins.append(HandIn(path, f"{sheet}.ipynb", kind))
    with (dest / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "timestamp"])
        for index, hand_in in enumerate(hand_ins):
            writer.writerow([hand_in.path.name, f"2025-01-28T{10 + index % 12:02d}:{index % 60:02d}:00+01:00"])
    return hand_ins


def _team(rng: random.Random, index: int, used: set[str]) -> list[tuple[str, str, str]]:
    size = 2 if index % 3 else 3
    team = []
    for member in range(size):
        while True:
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            student_id = f"25{index:04d}{member}"
            if f"{first} {last}" not in used:
                used.add(f"{first} {last}")
                break
            if len(used) > len(_FIRST) * len(_LAST) // 2:
                used.clear()
        team.append((first, last, student_id))
    return team


def _as_hand_in(master: nbformat.NotebookNode, team: list[tuple[str, str, str]]) -> nbformat.NotebookNode:
    """As a student hands it in: the team filled in, the grader's markup gone."""
    notebook = copy.deepcopy(master)
    team_text = "## Team\n" + "\n\n".join(
        f"Name: {first} {last}\nStudent ID: {student_id}\nEmail: {first.lower()}.{last.lower()}@example.org"
        for first, last, student_id in team)
    for cell in notebook.cells:
        if cell_meta(cell).get("role") == "team":
            cell.source = team_text
        cell.get("metadata", {}).pop("grader", None)
        if cell.cell_type == "code":
            cell.source = _CODE_MARKER.sub("", cell.source)
        elif cell.cell_type == "markdown":
            cell.source = _PROSE_MARKER.sub("\n", cell.source).strip()
    return notebook


def _with_code_error(master: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The first solution cell starts with a name the student never defined: the cell fails, the rest runs."""
    notebook = copy.deepcopy(master)
    for cell in notebook.cells:
        if cell.cell_type == "code" and "BEGIN SOLUTION" in cell.source:
            cell.source = "result = undefined_helper(42)\n" + cell.source
            break
    return notebook


def _with_slow_cell(master: nbformat.NotebookNode) -> nbformat.NotebookNode:
    notebook = copy.deepcopy(master)
    notebook.cells.append(nbformat.v4.new_code_cell(SLOW_CELL))
    return notebook


def _notebook_bytes(notebook: nbformat.NotebookNode) -> bytes:
    return (nbformat.writes(notebook) + "\n").encode("utf-8")


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()

"""Shared pieces for the batch tests: example hand-ins, a course copy with short time limits, cached plans."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import nbformat
import pytest

from grader.rubric.plans import plan_checks
from grader.rubric.load import load_rubric
from submissions.make_examples import Member, as_hand_in, make_zip, notebook_bytes, write_examples, zip_name
from tests.conftest import REPO

MASTER02 = REPO / "reference" / "notebooks" / "sheet02_master.ipynb"


def make_course(root: Path, *, cell_timeout: float | None = None, extra_comment: str = "") -> Path:
    """A course folder whose sheet02 rubric is the real one (optionally with a shorter cell time limit)."""
    (root / "rubrics").mkdir(parents=True, exist_ok=True)
    text = (REPO / "rubrics" / "sheet02.yaml").read_text(encoding="utf-8")
    if cell_timeout is not None:
        text, count = re.subn(r"(?m)^  cell_timeout: \d+$", f"  cell_timeout: {cell_timeout:g}", text)
        assert count == 1, "the sheet02 rubric no longer sets execution.cell_timeout on its own line"
    (root / "rubrics" / "sheet02.yaml").write_text(text + extra_comment, encoding="utf-8")
    if not (root / "reference").exists():
        (root / "reference").symlink_to(REPO / "reference", target_is_directory=True)
    return root


def master02() -> nbformat.NotebookNode:
    return nbformat.read(str(MASTER02), as_version=4)


def full_hand_in(folder: Path, team: list[Member], extra_cell: str | None = None) -> Path:
    """The master as a team's zip, optionally with one more code cell at the end."""
    notebook = as_hand_in(master02(), team)
    if extra_cell is not None:
        notebook.cells.append(nbformat.v4.new_code_cell(extra_cell))
    path = folder / zip_name(team)
    path.write_bytes(make_zip({"sheet02.ipynb": notebook_bytes(notebook)}))
    return path


def append_manifest(folder: Path, rows: list[tuple[str, str]]) -> None:
    manifest = folder / "manifest.csv"
    existing = manifest.exists()
    with manifest.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if not existing:
            writer.writerow(["file", "timestamp"])
        writer.writerows(rows)


def examples(folder: Path, keep: set[str] | None = None) -> dict[str, Path]:
    """The sheet02 examples written to `folder`, by case; with `keep`, only those cases stay (and in the manifest)."""
    from submissions.make_examples import sheet02_examples

    cases = {e.file_name: e.case for e in sheet02_examples(REPO)}
    paths = write_examples("sheet02", folder, REPO)
    by_case = {cases[p.name]: p for p in paths}
    if keep is not None:
        for case, path in list(by_case.items()):
            if case not in keep:
                path.unlink()
                del by_case[case]
        rows = list(csv.reader((folder / "manifest.csv").open(encoding="utf-8")))
        (folder / "manifest.csv").unlink()
        append_manifest(folder, [tuple(r) for r in rows[1:] if (folder / r[0]).exists()])
    return by_case


@pytest.fixture(scope="session")
def sheet02_plans():
    return plan_checks(load_rubric(REPO / "rubrics" / "sheet02.yaml", course_root=REPO))


@pytest.fixture
def cached_plans(monkeypatch, sheet02_plans):
    """Planning runs the reference on every case (seconds); tests that only count gradings reuse one plan."""
    import grader.scoring.grade

    monkeypatch.setattr(grader.scoring.grade, "plan_checks", lambda loaded: sheet02_plans)
    return sheet02_plans


@pytest.fixture
def unsafe(sandbox) -> bool:
    """Whether the batch must be allowed the process fallback here (CI requires bubblewrap)."""
    return sandbox.name != "bubblewrap"


def grading_count(book, sheet: str, file_name: str | None = None) -> int:
    """How many gradings the gradebook holds (for one hand-in, or for the whole sheet), read with plain SQL."""
    import sqlite3

    query = "SELECT COUNT(*) FROM gradings g JOIN submissions s ON s.id = g.submission_id WHERE s.sheet = ?"
    params: tuple = (sheet,) if file_name is None else (sheet, file_name)
    if file_name is not None:
        query += " AND s.file_name = ?"
    with sqlite3.connect(book.path) as connection:
        return int(connection.execute(query, params).fetchone()[0])

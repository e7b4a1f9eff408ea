"""A graded sheet-02 batch for the manual round trip, built once per session and copied per test.

The hand-ins are the course's examples (full marks, the same notebook under another team, the PDF-only
one, the broken notebook) plus three made here: a notebook whose 1a answer differs by a few words and that
answers 3d in an extra answers.md (with text a spreadsheet or a browser would run), and a PDF whose
answers are a scanned page.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest

from grader.commands.batch import BatchOptions, run_batch
from submissions.make_examples import Member, as_hand_in, make_zip, notebook_bytes, write_examples, zip_name
from tests.conftest import REPO
from tests.prose._pdfmaker import image_only_page_pdf

# Invented teams.
ODA = Member("Oda Brannstrom", "2309901", "oda.brannstrom@example.org")
KAI = Member("Kai Ferreira", "2309902", "kai.ferreira@example.org")
MINA = Member("Mina Okoye", "2309903", "mina.okoye@example.org")
RUBEN = Member("Ruben Castellanos", "2309904", "ruben.castellanos@example.org")

NEAR_COPY = zip_name([ODA, KAI])
SCANNED = zip_name([MINA, RUBEN])
FULL = "Mustermann_2301001_Müller-Lüdenscheidt_2301002.zip"
SAME_AS_FULL = "Schneider_2301008.zip"
PDF_ONLY = "Nguyen_2301011_Rossi_2301012.zip"
BROKEN = "Weber_2301006_Yılmaz_2301007.zip"
# The 3d explanation in NEAR_COPY's answers.md: a formula for spreadsheets, a script for browsers.
ANSWER_3D = ("=1+1 is not the trick. <script>alert('x')</script> We write z = mu + sigma * eps with eps drawn "
             "from N(0, I), so the sample is a differentiable function of mu and sigma and backpropagation "
             "reaches the encoder.")
HANDED_IN = "2025-01-29T12:00:00+01:00"
NOW = datetime(2025, 3, 1, tzinfo=UTC)  # after the deadline: feedback shows the model answers


def _master() -> nbformat.NotebookNode:
    return nbformat.read(str(REPO / "reference" / "notebooks" / "sheet02_master.ipynb"), as_version=4)


def near_copy_zip() -> bytes:
    """The master with a few words of 1a changed, and its 3d answer cell moved out into answers.md."""
    notebook = as_hand_in(_master(), [ODA, KAI])
    notebook.cells = [c for c in notebook.cells if c.get("id") != "answer3d"]
    cell = next(c for c in notebook.cells if c.get("id") == "answer1a")
    changed = cell.source.replace("The memory cell is updated additively", "Our memory cell gets updated additively")
    assert changed != cell.source, "the master's 1a answer changed; update this fixture"
    cell.source = changed
    answers_md = f"# Extra answers\n\n### Task 3 (d)\n\n**Answer:**\n{ANSWER_3D}\n"
    return make_zip({"sheet02.ipynb": notebook_bytes(notebook), "answers.md": answers_md.encode("utf-8")})


def scanned_zip(folder: Path) -> bytes:
    team = "\n".join(f"Name: {m.name}\nStudent ID: {m.student_id}\nEmail: {m.email}" for m in (MINA, RUBEN))
    pdf = image_only_page_pdf(folder / "scan.pdf", before=f"RGANN sheet 02\n{team}")
    data = pdf.read_bytes()
    pdf.unlink()
    return make_zip({"scan.pdf": data})


@pytest.fixture(scope="session")
def graded_out(tmp_path_factory: pytest.TempPathFactory, sandbox) -> Path:
    """OUT of `grader grade` over the hand-ins above (do not modify: copy it with `out`)."""
    root = tmp_path_factory.mktemp("manual-batch")
    hand_ins = root / "hand-ins"
    keep = {FULL, SAME_AS_FULL, PDF_ONLY, BROKEN}
    for path in write_examples("sheet02", hand_ins, REPO):
        if path.name not in keep:
            path.unlink()
    (hand_ins / NEAR_COPY).write_bytes(near_copy_zip())
    (hand_ins / SCANNED).write_bytes(scanned_zip(root))
    with (hand_ins / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "timestamp"])
        writer.writerows([name, HANDED_IN] for name in sorted(keep | {NEAR_COPY, SCANNED}))
    out = root / "out"
    summary = run_batch(BatchOptions(hand_ins=hand_ins, sheet="sheet02", out=out, course=REPO, now=NOW,
                                     unsafe_no_sandbox=sandbox.name != "bubblewrap"))
    assert len(summary.graded) == 6 and not summary.interrupted
    return out


@pytest.fixture
def out(graded_out: Path, tmp_path: Path) -> Path:
    """A private copy of the graded OUT folder."""
    copy = tmp_path / "out"
    shutil.copytree(graded_out, copy)
    return copy


def db_state(db: Path) -> tuple[str, str]:
    """(SQL dump, sha256 of the file): what "the gradebook did not change" compares."""
    with sqlite3.connect(db) as connection:
        dump = "\n".join(connection.iterdump())
    connection.close()
    return dump, hashlib.sha256(db.read_bytes()).hexdigest()


def manual_row_count(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        count = connection.execute("SELECT COUNT(*) FROM manual_scores").fetchone()[0]
    connection.close()
    return count


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[dict[str, str]], *, delimiter: str = ",", encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path

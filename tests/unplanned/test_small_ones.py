"""Issue 19 item 6: `grader check` over the cap says one thing; pypdf's warnings are kept with their file, not
printed bare; notes and errors name files as the hand-in does, never by the server's paths."""

from __future__ import annotations

import base64
import io
import random
import logging
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader.commands.manual.reading import pdf_text
from grader.intake.team import declared_team
from grader.text.paths import as_in_hand_in
from grader.commands.selfcheck import load_public_checks, run_self_check
from tests.conftest import REPO
from tests.prose._pdfmaker import markdown_to_pdf


@pytest.fixture(scope="module")
def public_checks():
    return load_public_checks("sheet02", course=REPO)


def test_grader_check_over_the_cap_says_not_graded_and_nothing_else(tmp_path: Path, public_checks) -> None:
    book = nbformat.v4.new_notebook()
    noise = base64.b64encode(random.Random(19).randbytes(16 * 2**20)).decode()  # 21 MB that do not compress
    book.cells = [nbformat.v4.new_code_cell(f"blob = '{noise}'")]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # stored: nothing to gain compressing noise
        archive.writestr("sheet02.ipynb", nbformat.writes(book))
    hand_in = tmp_path / "Berg_2302001.zip"
    hand_in.write_bytes(buffer.getvalue())
    outcome = run_self_check(hand_in, sheet="sheet02", course=REPO, checks=public_checks)
    assert outcome.grade.error and "more than the 20 MB" in outcome.grade.error
    said = " ".join([outcome.grade.error, *outcome.notes])
    assert "was graded" not in said and "it was chosen for grading" in said
    assert "grader-check-" not in said and "/tmp" not in said


def test_grader_check_lists_the_skipped_lines_per_cell(tmp_path: Path, public_checks) -> None:
    from rich.console import Console

    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell("!pip install pyro-ppl\nimport numpy as np"),
                  nbformat.v4.new_code_cell("%%bash\nls /data"),
                  nbformat.v4.new_code_cell("bidirectional_online_feasible = False")]
    nbformat.write(book, str(tmp_path / "sheet02.ipynb"))
    outcome = run_self_check(tmp_path / "sheet02.ipynb", sheet="sheet02", course=REPO, checks=public_checks)
    console = Console(width=200, record=True)
    outcome.print(console)
    said = console.export_text()
    assert "note: cell 1: not run by the grader" in said and "`!pip install pyro-ppl`" in said
    assert "note: cell 2: not run by the grader" in said and "%%bash (the whole cell, 2 lines)" in said
    assert "/tmp" not in said


def broken_pdf(path: Path) -> Path:
    markdown_to_pdf("## Team\nName: Lena Strüber\nStudent ID: 7012345\nEmail: lena@uni.example\n", path)
    data = path.read_bytes()
    path.write_bytes(data[:data.rfind(b"startxref")] + b"startxref\n99999\n%%EOF\n")  # a wrong xref pointer
    return path


def test_pypdf_warnings_are_logged_with_the_hand_in_and_file_not_printed_bare(tmp_path: Path, capfd, caplog) -> None:
    files = tmp_path / "out" / "Team" / "files"
    files.mkdir(parents=True)
    broken_pdf(files / "answers.pdf")
    notes: list[str] = []
    with caplog.at_level(logging.WARNING):
        members, source = declared_team(files, None, ["answers.pdf"], notes, pdf_text)
    assert [m.student_id for m in members] == ["7012345"] and source == "'answers.pdf'"
    said = [r.getMessage() for r in caplog.records if r.name == "grader.pdf"]
    assert any(m.startswith("Team: answers.pdf: the PDF reader warned: ") and "startxref" in m for m in said), said
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]
    captured = capfd.readouterr()
    assert not [line for line in (captured.err + captured.out).splitlines() if line.startswith("incorrect startxref")]


@pytest.mark.parametrize("text, expected", [
    ("No such file or directory: '/tmp/grader-run-k2j1_x/data.csv'", "No such file or directory: 'data.csv'"),
    ("cannot read team information from '{files}/answers.pdf': not a PDF", "cannot read team information from "
                                                                           "'answers.pdf': not a PDF"),
    ("the run's folder /tmp/grader-check-a1b2/files was empty", "the run's folder . was empty"),
])
def test_paths_are_shown_as_inside_the_hand_in(tmp_path: Path, text: str, expected: str) -> None:
    files = tmp_path / "out" / "Team" / "files"
    assert as_in_hand_in(text.format(files=files), [files]) == expected

"""The pipeline's front doors: intake.take_in gives a HandIn, scoring.grade_hand_in grades it without the
gradebook, and both travel to another process as plain pickled data (what a cluster worker receives)."""

from __future__ import annotations

import multiprocessing
import pickle
import sys
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

import grader.scoring.grade
from grader.commands.manual.reading import pdf_text
from grader.intake.hand_in import HandIn, IntakeRules, TimingRule, take_in
from grader.rubric.load import load_rubric
from grader.scoring.grade import grade_hand_in, plan_sheet
from grader.scoring.record import GradingRecord
from tests.conftest import write_notebook
from tests.engine import elsewhere
from tests.prose._pdfmaker import new_pdf

TOY = Path(__file__).parent / "toycourse"
RIGHT = ["import numpy as np\ndef scale(x, factor):\n    return x * factor", "answer = 42", "is_it_true = 'Yes'"]
TEAM_PDF_LINES = ["Team", "Name: Hanna Berg, Student ID: 2302001, Email: hanna.berg@example.org",
                  "Name: Yusuf Demir, Student ID: 2302002, Email: yusuf.demir@example.org"]


@pytest.fixture(scope="module")
def toy() -> tuple:
    loaded = load_rubric(TOY / "rubrics" / "toy.yaml")
    return loaded, plan_sheet(loaded, rubric_sha256="r" * 64)


def rules_for(loaded, pdf_reader=None) -> IntakeRules:
    rubric = loaded.rubric
    return IntakeRules(rubric.naming, TimingRule(None, rubric.deadline, rubric.late_policy),
                       IntakeRules.sheet_number_of(rubric.sheet), pdf_reader)


def team_pdf(path: Path) -> bytes:
    pdf = new_pdf()
    pdf.add_page()
    pdf.set_font("DejaVu", size=11)
    for line in TEAM_PDF_LINES:
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path.read_bytes()


def zipped_hand_in(folder: Path, name: str, with_pdf: bool) -> Path:
    notebook = write_notebook(folder / "src" / "toy.ipynb", RIGHT)
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(notebook, "toy.ipynb")
        if with_pdf:
            archive.writestr("answers.pdf", team_pdf(folder / "src" / "answers.pdf"))
    return path


def points(record: GradingRecord) -> dict[str, float]:
    return {q.question_id: q.points for q in record.questions}


def test_take_in_then_grade_hand_in_composes_the_record(toy, sandbox, tmp_path):
    loaded, planned = toy
    path = zipped_hand_in(tmp_path, "Berg_2302001_Demir_2302002.zip", with_pdf=False)
    hand_in = take_in(path, rules_for(loaded), tmp_path / "out" / "Berg_2302001_Demir_2302002")
    assert hand_in.main_file == "toy.ipynb" and hand_in.not_gradable is None
    assert hand_in.folder == "Berg_2302001_Demir_2302002" and hand_in.files_dir.is_dir()
    assert [s.student_id for s in hand_in.students] == ["2302001", "2302002"]
    # no manifest: time unknown; the notebook names no team, which the tutors are told
    assert hand_in.timing.time_source == "unknown"
    assert [f.code for f in hand_in.flags] == ["time_unknown", "team_mismatch"]

    record = grade_hand_in(hand_in, planned, sandbox)
    assert record.status == "done" and record.error is None
    assert points(record) == {"1": 2.0, "2": 1.0, "3": 0.0} and record.pending_manual == 1.0
    # composed: the HandIn's facts and the sheet's result, not copied field by field
    assert record.intake.main_file == hand_in.main_file and record.timing == hand_in.timing
    assert record.file_name == hand_in.name and record.content_sha256 == hand_in.content_sha256
    assert record.rubric_sha256 == planned.rubric_sha256 and record.flags == list(hand_in.flags)


def test_a_hand_in_that_cannot_be_run_is_graded_as_not_gradable(toy, sandbox, tmp_path):
    loaded, planned = toy
    path = tmp_path / "Berg_2302001.zip"
    path.write_bytes(b"not a zip at all")
    hand_in = take_in(path, rules_for(loaded), tmp_path / "out" / "Berg_2302001")
    assert hand_in.files_dir is None and hand_in.not_gradable
    record = grade_hand_in(hand_in, planned, sandbox)
    assert record.status == "done" and record.error == hand_in.not_gradable and record.auto_points == 0
    assert "corrupt_zip" in {f.code for f in record.flags}


def test_a_grader_failure_is_the_records_error_not_an_exception(toy, sandbox, tmp_path, monkeypatch):
    loaded, planned = toy
    path = zipped_hand_in(tmp_path, "Berg_2302001.zip", with_pdf=False)
    hand_in = take_in(path, rules_for(loaded), tmp_path / "out" / "Berg_2302001")

    def grader_bug(*args, **kwargs):
        raise RuntimeError("simulated grader bug")

    monkeypatch.setattr(grader.scoring.grade, "grade_file", grader_bug)
    record = grade_hand_in(hand_in, planned, sandbox)
    assert record.status == "error" and "simulated grader bug" in record.error and record.auto_points == 0
    assert [f.code for f in record.flags] == ["grading_error"]


def test_grade_hand_in_runs_in_another_process_from_pickled_plain_data(toy, sandbox, tmp_path):
    loaded, planned = toy
    path = zipped_hand_in(tmp_path, "Berg_2302001_Demir_2302002.zip", with_pdf=False)
    hand_in = take_in(path, rules_for(loaded), tmp_path / "out" / "Berg_2302001_Demir_2302002")
    here = grade_hand_in(hand_in, planned, sandbox)
    shipped = pickle.dumps((hand_in, planned))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=elsewhere.course_importable,
                             initargs=(str(TOY),)) as pool:
        there: GradingRecord = pickle.loads(pool.submit(elsewhere.grade_shipped, shipped).result(timeout=300))
    assert isinstance(pickle.loads(shipped)[0], HandIn)
    assert points(there) == points(here) == {"1": 2.0, "2": 1.0, "3": 0.0}
    assert [(c.check_id, c.status, c.message) for q in there.questions for c in q.checks] == \
        [(c.check_id, c.status, c.message) for q in here.questions for c in q.checks]
    assert there.intake == here.intake and there.flags == here.flags


def test_a_pdf_declares_the_team_through_the_bounded_reader_never_pypdf_here(toy, tmp_path, monkeypatch):
    loaded, _ = toy
    path = zipped_hand_in(tmp_path, "Berg_2302001_Demir_2302002.zip", with_pdf=True)
    monkeypatch.setitem(sys.modules, "pypdf", None)  # importing pypdf in this process now fails
    hand_in = take_in(path, rules_for(loaded, pdf_text), tmp_path / "out" / "team")
    assert hand_in.written_answers == ("answers.pdf",)
    assert [(s.student_id, s.email, s.source) for s in hand_in.students] == [
        ("2302001", "hanna.berg@example.org", "file name and hand-in"),
        ("2302002", "yusuf.demir@example.org", "file name and hand-in")]
    without_reader = take_in(path, rules_for(loaded), tmp_path / "out" / "team")
    assert [s.source for s in without_reader.students] == ["file name", "file name"]

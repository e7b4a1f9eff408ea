"""The gradebook store on its own: round trip, which grading is current, manual scores and what reports make of them."""

from __future__ import annotations

import csv
import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from grader.store.layout import folder_name
from grader.rubric.fingerprint import rubric_fingerprint
from grader.checks.plan import CheckResult
from grader.intake.flags import FlagRecord
from grader.intake.hand_in import HandInTiming
from grader.intake.team import StudentRecord
from grader.scoring.record import FailedCell, GradingRecord, IntakeFacts, RunFacts, SheetScore
from grader.store.gradebook import Gradebook, GradebookError
from grader.scoring.sheet import QuestionScore
from grader.reports.outputs import write_outputs
from grader.rubric.load import load_rubric
from tests.batch.conftest import grading_count, make_course
from tests.conftest import REPO

START = datetime(2025, 2, 3, 9, 15, 30, 250000, tzinfo=UTC)


def check(question, check_id, status, points, max_points, kind="function", visibility="public", message="", hints=()):
    return CheckResult(question_id=question, check_id=check_id, kind=kind, visibility=visibility, points=points,
                       max_points=max_points, status=status, message=message, hints=list(hints), description="d")


def make_record(file_name="Berg_2302001_Demir_2302002.zip", *, sha="a" * 64, status="done", late_factor=1.0,
                choice_points=0.5) -> GradingRecord:
    questions = [
        QuestionScore("1a", "How gated units learn to count", 0.0, 1.0, False,
                      [check("1a", "answer", "pending", 0.0, 1.0, kind="manual", visibility="hidden")]),
        QuestionScore("1c", "Bidirectional RNNs", choice_points, 1.0, False,
                      [check("1c", "yes-no", "passed" if choice_points else "failed", choice_points, 0.5,
                             kind="choice", message="`bidirectional_online_feasible` is right",
                             hints=["a hint with ü"]),
                       check("1c", "explanation", "pending", 0.0, 0.5, kind="manual", visibility="hidden")]),
    ]
    return GradingRecord(
        sheet="sheet02", file_name=file_name, folder=folder_name(file_name), content_sha256=sha,
        rubric_sha256="r" * 64, engine_version="0.1.0", status=status, started_at=START,
        finished_at=START + timedelta(seconds=4.5),
        intake=IntakeFacts(
            main_file="sheet02.ipynb", main_file_reason="the only notebook", ignored_entries=["__MACOSX/x: junk"],
            written_answers=["answers.pdf"],
            students=[StudentRecord("2302001", "Hanna Berg", "hanna.berg@example.org", "file name and hand-in"),
                      StudentRecord("2302002", "Yusuf Demir", None, "file name")]),
        timing=HandInTiming(submitted_at=START - timedelta(days=5), time_source="manifest",
                            time_explanation="from the CMS manifest", late=late_factor < 1, minutes_late=0.0,
                            days_late=0, late_factor=late_factor, lateness_message="on time", deadline=None),
        score=SheetScore(questions, auto_points=choice_points, pending_manual=2.0, max_points=18.0, error=None),
        run=RunFacts(sandbox="bubblewrap", protections_off=[],
                     failed_cells=[FailedCell("cell 3", "error", "ZeroDivisionError")]),
        flags=[FlagRecord("team_size", "1 student named")], notes=["a note"])


@pytest.fixture
def book(tmp_path):
    with Gradebook.open(tmp_path / "gradebook.db") as opened:
        yield opened


def new_run(book):
    return book.start_run(sheet="sheet02", input_dir="/x", rubric_sha256="r" * 64, engine_version="0.1.0",
                          sandbox="bubblewrap", jobs=2, forced=False)


def test_a_grading_reads_back_exactly_as_stored(book):
    record = make_record()
    book.record(new_run(book), record)
    [stored] = book.results("sheet02")
    assert stored.record == record
    assert stored.record.seconds == pytest.approx(4.5)


def test_only_the_latest_done_grading_with_the_same_hashes_is_current(book):
    run = new_run(book)
    name = "Berg_2302001_Demir_2302002.zip"
    current = dict(content_sha256="a" * 64, rubric_sha256="r" * 64, engine_version="0.1.0")
    assert not book.is_current("sheet02", name, **current)
    book.record(run, make_record(status="error"))
    assert not book.is_current("sheet02", name, **current)
    book.record(run, make_record())
    assert book.is_current("sheet02", name, **current)
    assert not book.is_current("sheet02", name, **{**current, "rubric_sha256": "s" * 64})
    assert not book.is_current("sheet02", name, **{**current, "engine_version": "0.2.0"})
    assert not book.is_current("sheet11", name, **current)
    book.record(run, make_record(sha="b" * 64, choice_points=0.0))
    assert not book.is_current("sheet02", name, **current)
    [latest] = book.results("sheet02")
    assert latest.record.content_sha256 == "b" * 64 and grading_count(book, "sheet02", name) == 3


def test_manual_scores_add_up_survive_a_regrade_and_the_last_one_counts(book):
    run = new_run(book)
    name = "Berg_2302001_Demir_2302002.zip"
    book.record(run, make_record(late_factor=0.75))
    book.add_manual_score("sheet02", name, "1a", "answer", 0.5, tutor="Tutor A")
    book.add_manual_score("sheet02", name, "1a", "answer", 0.75, tutor="Tutor B", comment="second look")
    book.add_manual_score("sheet02", name, "1c", "explanation", 0.5, tutor="Tutor A")
    book.record(run, make_record(late_factor=0.75))  # a regrade keeps the tutors' work
    [result] = book.results("sheet02")
    assert result.manual_points == pytest.approx(1.25)
    assert result.manual_pending == 0
    assert result.manual[("1a", "answer")].tutor == "Tutor B"
    assert [result.question_points(q) for q in result.record.questions] == [0.75, 1.0]
    assert result.total == pytest.approx((0.5 + 1.25) * 0.75)


@pytest.mark.parametrize("question, check_id, points, error", [
    ("1a", "answer", 1.5, ValueError),  # more than the check is worth
    ("1a", "answer", -0.5, ValueError),
    ("1c", "yes-no", 0.5, ValueError),  # graded automatically
    ("1c", "nope", 0.5, KeyError),
])
def test_manual_scores_are_checked(book, question, check_id, points, error):
    book.record(new_run(book), make_record())
    with pytest.raises(error):
        book.add_manual_score("sheet02", "Berg_2302001_Demir_2302002.zip", question, check_id, points, tutor="T")
    with pytest.raises(KeyError, match="no graded hand-in"):
        book.add_manual_score("sheet02", "unknown.zip", "1a", "answer", 0.5, tutor="T")


def test_reports_combine_auto_and_manual_points(book, tmp_path):
    name = "Berg_2302001_Demir_2302002.zip"
    book.record(new_run(book), make_record())
    book.add_manual_score("sheet02", name, "1a", "answer", 1.0, tutor="Tutor A", comment="clear & complete <ok>")
    loaded = load_rubric(REPO / "rubrics" / "sheet02.yaml", course_root=REPO, resolve=False)
    out = tmp_path / "out"
    write_outputs(book.results("sheet02"), loaded, out, now=datetime.now(UTC))
    rows = list(csv.DictReader((out / "gradebook.csv").open(encoding="utf-8", newline="")))
    assert [r["student_id"] for r in rows] == ["2302001", "2302002"]
    assert all((r["1a"], r["1c"], r["manual_points"], r["manual_pending"], r["total"]) == ("1", "0.5", "1", "0.5", "1.5")
               for r in rows)
    assert rows[1]["email"] == "" and rows[0]["flags"] == "team_size"
    data = json.loads((out / folder_name(name) / "results.json").read_text("utf-8"))
    assert [(t["name"], t["score"]) for t in data["tests"]] == [("1a", 1.0), ("1c", 0.5)]
    assert data["score"] == 1.5 and "clear & complete <ok>" in data["tests"][0]["output"]
    html = (out / folder_name(name) / "feedback.html").read_text("utf-8")
    assert "clear &amp; complete &lt;ok&gt;" in html and "<ok>" not in html


def test_a_formula_in_a_file_name_stays_text_in_the_csv(book, tmp_path):
    name = "=HYPERLINK(1)_2302001.zip"
    record = make_record(name)
    record.students = [StudentRecord("2302001", "=cmd", None, "file name")]
    book.record(new_run(book), record)
    loaded = load_rubric(REPO / "rubrics" / "sheet02.yaml", course_root=REPO, resolve=False)
    write_outputs(book.results("sheet02"), loaded, tmp_path / "out", now=datetime.now(UTC))
    [row] = list(csv.DictReader((tmp_path / "out" / "gradebook.csv").open(encoding="utf-8", newline="")))
    assert row["name"] == "'=cmd" and row["hand_in"] == "'" + name


def test_foreign_or_newer_databases_are_refused(tmp_path):
    not_sqlite = tmp_path / "notes.db"
    not_sqlite.write_text("just text, not a database" * 100)
    with pytest.raises(GradebookError, match="notes.db"):
        Gradebook.open(not_sqlite)
    newer = tmp_path / "newer.db"
    Gradebook.open(newer).close()
    with sqlite3.connect(newer) as connection:
        connection.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(GradebookError, match="schema version 99"):
        Gradebook.open(newer)


def test_rubric_fingerprint_follows_rubric_and_reference_code_but_not_model_answers(tmp_path):
    course = tmp_path / "course"
    make_course(course)
    (course / "reference").unlink()
    reference = course / "reference"
    for path in (REPO / "reference").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and "notebooks" not in path.parts:
            target = reference / path.relative_to(REPO / "reference")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())

    def fingerprint():
        return rubric_fingerprint(load_rubric(course / "rubrics" / "sheet02.yaml", course_root=course, resolve=False))

    original = fingerprint()
    assert fingerprint() == original
    answers = reference / "answers" / "sheet02.yaml"
    answers.write_text(answers.read_text("utf-8") + "\n# reworded\n", encoding="utf-8")
    assert fingerprint() == original
    mistakes = reference / "mistakes.py"
    mistakes.write_text(mistakes.read_text("utf-8") + "\n# fixed a reference\n", encoding="utf-8")
    fixed = fingerprint()
    assert fixed != original
    make_course(course, extra_comment="# reworded\n")
    assert fingerprint() not in (original, fixed)


def test_folder_names_keep_hand_ins_apart():
    assert folder_name("Berg_2302001.zip") == "Berg_2302001"
    assert folder_name("Berg_2302001.ZIP") == "Berg_2302001"
    assert folder_name("Berg_2302001.ipynb") == "Berg_2302001_ipynb"
    assert folder_name("noending") == "noending"
    assert len({folder_name(n) for n in ("a.zip", "a.ipynb", "a.py", "a.pdf")}) == 4
    assert replace(make_record("x.py")).folder == "x_py"


def test_pending_tutor_points_never_read_as_lost(book, tmp_path):
    """1a waits for a tutor entirely, 1c's explanation too: nowhere a 0 of 1 or a lost point."""
    name = "Berg_2302001_Demir_2302002.zip"
    record = make_record()
    record.notes = ["sheet02.ipynb is 25.0 MB, over the 20 MB limit, only because of its stored outputs (24.9 MB); "
                    "they were dropped"]
    book.record(new_run(book), record)
    loaded = load_rubric(REPO / "rubrics" / "sheet02.yaml", course_root=REPO, resolve=False)
    out = tmp_path / "out"
    write_outputs(book.results("sheet02"), loaded, out, now=datetime.now(UTC))

    data = json.loads((out / folder_name(name) / "results.json").read_text("utf-8"))
    # Gradescope counts max_score as lost where score falls short: only graded parts are tests.
    assert [(t["name"], t["score"], t["max_score"]) for t in data["tests"]] == [("1c", 0.5, 0.5)]
    assert "explanation: waiting for a tutor (0.5 points, not counted yet)" in data["tests"][0]["output"]
    assert "Waiting for a tutor: 1.5 points (1a (1), 1c (0.5))" in data["output"]
    assert data["extra_data"]["pending"] == [{"question": "1a", "check": "answer", "points": 1.0},
                                             {"question": "1c", "check": "explanation", "points": 0.5}]

    [row, _] = list(csv.DictReader((out / "gradebook.csv").open(encoding="utf-8", newline="")))
    assert (row["1a"], row["1c"], row["manual_pending"], row["waiting_for_tutor"]) == ("", "0.5", "1.5", "1a:1 1c:0.5")

    feedback = (out / folder_name(name) / "feedback.md").read_text("utf-8")
    assert "## 1a How gated units learn to count: waiting for a tutor (1 point)" in feedback
    assert "## 1c Bidirectional RNNs: 0.5 of 0.5 points, 0.5 more waiting for a tutor" in feedback
    assert "0 of 1" not in feedback and "0/1" not in feedback
    assert "Points so far: 0.5 of" in feedback and "only because of its stored outputs" in feedback

    summary = (out / "summary.html").read_text("utf-8")
    assert "waiting for a tutor" in summary and "1.5 (1a, 1c)" in summary

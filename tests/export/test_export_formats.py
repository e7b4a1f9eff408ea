"""Each format built from the bundled examples' gradebook and read back with the csv module against the columns
docs/exports.md documents (and each system's importer reads)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from grader.commands.export import ExportError, export_grades
from tests.batch.conftest import make_course
from tests.conftest import REPO
from tests.export.conftest import EXPECTED, FISCHER, copy_gradebook, read_back

MOODLE = ["First name", "Last name", "ID number", "Blatt 2 (Real)", "Blatt 2 (Feedback)"]
ILIAS = ["update", "usr_id", "login", "lastname", "firstname", "status", "mark", "notice", "comment", "plagiarism",
         "plag_comment"]
CANVAS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Blatt 2"]
PLAIN = ["student_id", "name", "email", "hand_in", "points", "max_points", "late_factor", "pending_points", "state",
         "feedback"]
NAMES = {"2301009": "Jonas Fischer", "2301010": "Marta Kowalski", "2301001": "Erika Mustermann",
         "2301002": "Jürgen Müller-Lüdenscheidt", "2301008": "Sofia Schneider", "2301011": "Thi Nguyen",
         "2301012": "Luca Rossi", "2301006": "Weber", "2301007": "Yılmaz", "2301003": "Ayşe Çelik",
         "2301004": "Petr Novák", "2301005": "Chidi Okafor", "2301013": "Noor Haddad", "2301014": "Mateo García"}


def export(out: Path, fmt: str, target: Path, **options):
    summary = export_grades(out, target, fmt=fmt, assignment="Blatt 2", course=REPO, **options)
    return summary, read_back(target)


def test_moodle_grade_import(scored_out, tmp_path):
    summary, rows = export(scored_out, "moodle", tmp_path / "moodle.csv")
    assert rows[0] == MOODLE
    by_id = {row[2]: dict(zip(MOODLE, row)) for row in rows[1:]}
    assert {sid: row["Blatt 2 (Real)"] for sid, row in by_id.items()} == EXPECTED
    assert {sid: row["Last name"] for sid, row in by_id.items()} == NAMES  # one full name, never split by guess
    assert summary.notes == ["in Moodle's import map from 'ID number' to 'ID number' (useridnumber), "
                             "'Blatt 2 (Real)' to the grade item and 'Blatt 2 (Feedback)' to its feedback"]
    fischer = by_id["2301009"]["Blatt 2 (Feedback)"]
    assert fischer.startswith("9.88 of 18 points for RGANN sheet 02")
    assert "1c 0.75/1" in fischer and "3g 2/2 (bonus)" in fischer and "multiplied by 0.50" in fischer
    assert "could not be graded automatically" in by_id["2301006"]["Blatt 2 (Feedback)"]
    assert summary.rows == 14 and summary.with_points == 14 and summary.warnings == []


def test_ilias_status_file(scored_out, tmp_path):
    summary, rows = export(scored_out, "ilias", tmp_path / "status.csv", pass_points=10)
    assert rows[0] == ILIAS
    by_name = {row[3]: dict(zip(ILIAS, row)) for row in rows[1:]}
    assert {name: row["mark"] for name, row in by_name.items()} == {NAMES[s]: p for s, p in EXPECTED.items()}
    assert {row["update"] for row in by_name.values()} == {"1"}
    assert by_name["Jonas Fischer"]["status"] == "failed" and by_name["Ayşe Çelik"]["status"] == "passed"
    assert by_name["Jonas Fischer"]["notice"] == f"grader: {FISCHER}"
    assert by_name["Jonas Fischer"]["comment"].startswith("9.88 of 18 points")
    # Without ILIAS's own status file as roster there is no usr_id, and the export says so.
    assert {row["usr_id"] for row in by_name.values()} == {""}
    assert any("usr_id" in w for w in summary.warnings)


def test_canvas_gradebook_import(scored_out, tmp_path):
    _, rows = export(scored_out, "canvas", tmp_path / "canvas.csv")
    assert rows[0] == CANVAS
    assert rows[1] == ["Points Possible", "", "", "", "", "18"]
    by_sis = {row[2]: dict(zip(CANVAS, row)) for row in rows[2:]}
    assert {sid: row["Blatt 2"] for sid, row in by_sis.items()} == EXPECTED
    assert {sid: row["Student"] for sid, row in by_sis.items()} == NAMES


def test_plain_csv(scored_out, tmp_path):
    _, rows = export(scored_out, "csv", tmp_path / "plain.csv")
    assert rows[0] == PLAIN
    by_id = {row[0]: dict(zip(PLAIN, row)) for row in rows[1:]}
    assert {sid: row["points"] for sid, row in by_id.items()} == EXPECTED
    assert by_id["2301009"]["hand_in"] == FISCHER and by_id["2301009"]["late_factor"] == "0.5"
    assert {row["state"] for row in by_id.values()} == {"graded"}
    assert {row["max_points"] for row in by_id.values()} == {"18"}


def test_the_rubric_rounding_rule_is_applied(scored_out, tmp_path):
    course = make_course(tmp_path / "course", extra_comment="\nrounding: {step: 0.5, mode: down}\n")
    export_grades(scored_out, tmp_path / "plain.csv", fmt="csv", course=course)
    points = {row[0]: row[4] for row in read_back(tmp_path / "plain.csv")[1:]}
    assert points["2301009"] == "9.5"  # 9.875 down to a half point
    assert points["2301001"] == "20" and points["2301003"] == "16.5"


@pytest.mark.parametrize("fmt", ["moodle", "ilias", "canvas", "csv"])
def test_same_gradebook_same_bytes_and_the_gradebook_is_untouched(scored_out, tmp_path, fmt):
    db = scored_out / "gradebook.db"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    first, second = tmp_path / "first.csv", tmp_path / "elsewhere" / "second.csv"
    export_grades(scored_out, first, fmt=fmt, course=REPO)
    export_grades(copy_gradebook(scored_out, tmp_path / "copy"), second, fmt=fmt, course=REPO)
    assert first.read_bytes() == second.read_bytes()
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_no_hidden_check_detail_reaches_any_export(scored_out, tmp_path):
    with sqlite3.connect(scored_out / "gradebook.db") as db:
        hidden = db.execute("SELECT message, hints, description FROM check_results WHERE visibility = 'hidden'"
                            " AND kind != 'manual'").fetchall()
    db.close()
    secrets = {text for message, hints, description in hidden for text in [message, description, *json.loads(hints)]
               if len(text) >= 12}
    assert secrets  # the examples have failed hidden checks with messages and hints
    for fmt in ("moodle", "ilias", "canvas", "csv"):
        text = export_grades(scored_out, tmp_path / f"{fmt}.csv", fmt=fmt, course=REPO).path.read_text("utf-8-sig")
        assert not [secret for secret in secrets if secret in text], fmt


def test_open_tutor_checks_refuse_the_export_and_say_which(pending_out, tmp_path):
    target = tmp_path / "moodle.csv"
    with pytest.raises(ExportError) as refused:
        export_grades(pending_out, target, fmt="moodle", course=REPO)
    message = str(refused.value)
    assert "7 hand-ins not final" in message
    assert "1a, 1c, 2a, 2b, 2c, 2d, 3a, 3b, 3d, 3e, 3f, 4a, 4b in 7 hand-ins" in message
    assert "--allow-pending" in message and not target.exists()
    summary = export_grades(pending_out, target, fmt="csv", course=REPO, allow_pending=True)
    rows = {row[0]: row for row in read_back(target)[1:]}
    assert rows["2301001"][4] == "7.5" and rows["2301001"][8] == "pending"
    assert "12.5 points still to be scored by a tutor" in rows["2301001"][9]
    assert "1a 0/1 (tutor part open)" in rows["2301001"][9]
    assert any("not final" in w for w in summary.warnings)


@pytest.mark.parametrize("fmt, header", [("moodle", MOODLE), ("ilias", ILIAS), ("csv", PLAIN),
                                         ("canvas", CANVAS[:5] + ["Blatt 2 (4412)"])])
def test_the_example_files_in_the_docs_have_the_documented_columns(fmt, header):
    rows = read_back(REPO / "docs" / "exports" / f"example-{fmt}.csv")
    assert rows[0] == header and len(rows) > 2
    assert (REPO / "docs" / "exports.md").read_text(encoding="utf-8").count(f"exports/example-{fmt}.csv") >= 1
    if fmt in ("moodle", "csv"):  # made from the same gradebook as scored_out: the same points
        column = 2 if fmt == "moodle" else 0
        assert {row[column]: row[header.index("Blatt 2 (Real)" if fmt == "moodle" else "points")]
                for row in rows[1:]} == EXPECTED

"""Two tutors on one gradebook: every score says who entered it and when, an import never silently replaces a
score another tutor entered after the export, --overwrite does it knowingly, and the history keeps everything."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from grader.commands.cli import app
from grader.store.gradebook import SCHEMA_VERSION, Gradebook
from tests.conftest import REPO
from tests.manual.conftest import FULL, NEAR_COPY, read_rows, write_rows

KEY = (FULL, "1a", "answer")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--course", str(REPO)])
    return result.exit_code, " ".join(result.output.split())


def export(out: Path, name: str) -> Path:
    path = out / name
    code, said = run("manual", "export", "--sheet", "sheet02", "--out", str(path))
    assert code == 0, said
    return path


def fill(path: Path, scores: dict[tuple[str, str, str], tuple[str, str]], *, drop: str | None = None) -> Path:
    rows = read_rows(path)
    for row in rows:
        key = (row["hand_in"], row["question"], row["check"])
        if key in scores:
            row["points"], row["comment"] = scores[key]
        if drop:
            del row[drop]
    return write_rows(path, rows)


def current(out: Path, key: tuple[str, str, str]):
    with Gradebook.open(out / "gradebook.db") as book:
        [result] = [r for r in book.results("sheet02") if r.record.file_name == key[0]]
        return result.manual.get(key[1:])


def test_a_second_tutors_import_never_silently_replaces_the_first_tutors_score(out: Path) -> None:
    first = export(out, "ana.csv")
    second = shutil.copy(first, out / "ben.csv")  # both tutors start from the same export

    fill(first, {KEY: ("0.5", "Zählen fehlt")})
    code, said = run("manual", "import", str(first), "--tutor", "Ana")
    assert code == 0 and "scored 1," in said, said
    ana = current(out, KEY)
    assert (ana.points, ana.tutor, ana.comment) == (0.5, "Ana", "Zählen fehlt") and ana.entered_at.tzinfo

    # Ben scored the same check in his copy, and another one nobody else touched.
    fill(second, {KEY: ("1", "passt"), (NEAR_COPY, "3d", "explanation"): ("0.75", "")})
    code, said = run("manual", "import", str(second), "--tutor", "Ben")
    assert code == 1, said
    assert "scored 1, unchanged 0" in said and "refused 1 (scored by another tutor since your export)" in said
    assert (f"1a/answer of '{FULL}': Ana entered 0.5 points (\"Zählen fehlt\")" in said
            and "after your export (your export showed no score); your 1 (Ben) was not imported" in said
            and "--overwrite to replace Ana's score" in said)
    assert current(out, KEY).tutor == "Ana"  # the first tutor's score stands
    assert current(out, (NEAR_COPY, "3d", "explanation")).tutor == "Ben"  # the rest of Ben's file is in

    # Knowingly: --overwrite replaces it, and both stay in the history.
    code, said = run("manual", "import", str(second), "--tutor", "Ben", "--overwrite")
    assert code == 0 and "scored 1, unchanged 1" in said, said
    assert (current(out, KEY).points, current(out, KEY).tutor) == (1.0, "Ben")
    with Gradebook.open(out / "gradebook.db") as book:
        history = [s for s in book.manual_history("sheet02", FULL) if (s.question_id, s.check_id) == KEY[1:]]
    assert [(s.tutor, s.points) for s in history] == [("Ana", 0.5), ("Ben", 1.0)]
    assert history[0].id < history[1].id and history[1].based_on is None

    # A fresh export shows who scored what; changing a score you have seen is no conflict.
    seen = export(out, "ana-again.csv")
    row = next(r for r in read_rows(seen) if (r["hand_in"], r["question"], r["check"]) == KEY)
    assert (row["points"], row["scored_by"], row["score_id"]) == ("1", "Ben", str(history[1].id))
    assert row["scored_at"].endswith("UTC")
    carl = shutil.copy(seen, out / "carl.csv")
    fill(seen, {KEY: ("0.75", "Kompromiss")})
    code, said = run("manual", "import", str(seen), "--tutor", "Ana")
    assert code == 0 and "scored 1," in said, said
    assert (current(out, KEY).points, current(out, KEY).tutor, current(out, KEY).based_on) == (
        0.75, "Ana", history[1].id)

    # Carl's copy of that export still shows Ben's 1 on that row: left as it was, it is no change, and
    # Ana's newer score stays; Carl's own score elsewhere goes in.
    fill(carl, {(NEAR_COPY, "1a", "answer"): ("1", "")})
    code, said = run("manual", "import", str(carl), "--tutor", "Carl")
    assert code == 0 and "scored 1," in said and "refused" not in said, said
    assert current(out, KEY).tutor == "Ana"

    # An export from before score ids (no score_id column) cannot say what it showed: another tutor's score
    # is never replaced from it without --overwrite.
    old = fill(shutil.copy(carl, out / "old.csv"), {KEY: ("0", "")}, drop="score_id")
    code, said = run("manual", "import", str(old), "--tutor", "Ben")
    assert code == 1 and "this file does not say which score it showed" in said, said

    # The history, as a tutor reads it.
    shown = CliRunner().invoke(app, ["manual", "history", "--sheet", "sheet02", "--results", str(out),
                                     "--hand-in", FULL])
    code, said = shown.exit_code, " ".join(shown.output.split())
    assert code == 0, said
    assert said.count(f"{FULL} 1a/answer") == 3
    assert "Ana: " in said and "Ben: " in said and "= 0.75 \"Kompromiss\", after seeing" in said
    assert said.index("= 0.75") > said.index("= 1 \"passt\"") and said.count("(counts)") >= 1


def test_a_row_whose_score_id_is_not_this_rows_score_is_a_problem(out: Path) -> None:
    sheet = export(out, "manual.csv")
    again = shutil.copy(sheet, out / "again.csv")
    fill(sheet, {KEY: ("0.5", "")})
    assert run("manual", "import", str(sheet), "--tutor", "Ana")[0] == 0
    stored_id = str(current(out, KEY).id)
    rows = read_rows(again)
    other = next(r for r in rows if (r["hand_in"], r["question"], r["check"]) != KEY)
    other["points"], other["score_id"] = "0", stored_id
    write_rows(again, rows)
    code, said = run("manual", "import", str(again), "--tutor", "Ben")
    assert code == 2 and f"score_id {stored_id} belongs to 1a/answer of '{FULL}', not to this row" in said
    other["score_id"] = "12x"
    code, said = run("manual", "import", str(write_rows(again, rows)), "--tutor", "Ben")
    assert code == 2 and "score_id '12x' is not a score in this gradebook" in said


def test_a_gradebook_of_schema_1_is_migrated_in_place(tmp_path: Path) -> None:
    """tests/fixtures/gradebook-v1.db was written by the grader before schema 2 (one grading, two manual
    scores by two tutors); opening it adds the new columns and keeps everything."""
    db = shutil.copy(REPO / "tests" / "fixtures" / "gradebook-v1.db", tmp_path / "gradebook.db")
    with Gradebook.open(db) as book:
        [result] = book.results("sheet02")
        history = book.manual_history("sheet02")
    assert [(s.tutor, s.points, s.comment, s.based_on) for s in history] == [
        ("Tutor A", 0.5, "first look", None), ("Tutor B", 0.75, "second look", None)]
    assert result.manual[("1a", "answer")].tutor == "Tutor B" and result.record.deadline is None
    assert result.record.students[0].name == "Hanna Berg"
    with sqlite3.connect(db) as connection:
        version = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        columns = {row[1] for row in connection.execute("PRAGMA table_info(manual_scores)")}
    connection.close()
    assert version == str(SCHEMA_VERSION) == "2" and "based_on" in columns
    with Gradebook.open(db) as book:  # opening it again is a no-op
        assert len(book.manual_history("sheet02")) == 2

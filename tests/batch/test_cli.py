"""`grader grade` as a tutor types it: usage errors are one clear line and exit 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from grader.commands.cli import app
from tests.conftest import REPO


def flat(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    """A line as wide as the longest message: rich folds a word longer than the console's width, such as a long
    temporary path (pytest-xdist's are 10 characters longer), and flat() cannot join its pieces again."""
    monkeypatch.setenv("COLUMNS", "300")


def test_missing_folder_and_unknown_sheet_are_usage_errors(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(app, ["grade", str(tmp_path / "nowhere"), "--sheet", "sheet02", "--out",
                                  str(tmp_path / "out"), "--course", str(REPO)])
    assert missing.exit_code == 2 and "nowhere: no such hand-in or folder of hand-ins" in flat(missing.output)
    unknown = runner.invoke(app, ["grade", str(tmp_path), "--sheet", "sheet99", "--out", str(tmp_path / "out"),
                                  "--course", str(REPO)])
    assert unknown.exit_code == 2 and "no rubric for sheet 'sheet99'" in flat(unknown.output)
    assert not (tmp_path / "out").exists()
    same = runner.invoke(app, ["grade", str(tmp_path), "--sheet", "sheet02", "--out", str(tmp_path), "--course",
                               str(REPO)])
    assert same.exit_code == 2 and "not the folder of hand-ins" in flat(same.output)


def test_a_broken_manifest_names_the_file(tmp_path):
    (tmp_path / "Berg_2302001_Demir_2302002.zip").write_bytes(b"PK")
    (tmp_path / "manifest.csv").write_text("who,when\nx,y\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["grade", str(tmp_path), "--sheet", "sheet02", "--out", str(tmp_path / "out"),
                                      "--course", str(REPO)])
    assert result.exit_code == 2 and "manifest.csv" in flat(result.output)


def test_an_empty_folder_is_an_error_not_graded_0(tmp_path):
    (tmp_path / "hand-ins").mkdir()
    (tmp_path / "hand-ins" / ".DS_Store").write_bytes(b"x")
    (tmp_path / "hand-ins" / "manifest.csv").write_text("file,timestamp\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["grade", str(tmp_path / "hand-ins"), "--sheet", "sheet02", "--out",
                                      str(tmp_path / "out"), "--course", str(REPO)])
    assert result.exit_code == 2 and "no hand-ins in this folder" in flat(result.output)
    assert "graded 0" not in flat(result.output)


def test_one_zip_is_graded_on_its_own(tmp_path, unsafe, cached_plans):
    hand_ins = tmp_path / "downloads"
    hand_ins.mkdir()
    one, other = hand_ins / "Berg_2302001_Demir_2302002.zip", hand_ins / "Kovač_2302003_Janssen_2302004.zip"
    one.write_bytes(b"this is not a zip")  # graded quickly: intake refuses it
    other.write_bytes(b"neither is this")
    (hand_ins / "manifest.csv").write_text(f"file,timestamp\n{one.name},2025-01-29T20:00:00+01:00\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["grade", str(one), "--sheet", "sheet02", "--out", str(tmp_path / "out"),
                                      "--course", str(REPO), "--no-warm", *(["--unsafe-no-sandbox"] if unsafe else [])])
    assert result.exit_code == 0, result.output
    assert "graded 1, skipped 0" in flat(result.output)
    from grader.store.gradebook import Gradebook

    with Gradebook.open(tmp_path / "out" / "gradebook.db") as book:
        [stored] = book.results("sheet02")
    assert stored.record.file_name == one.name and stored.record.time_source == "manifest"  # the manifest beside it
    assert [f.code for f in stored.record.flags] == ["corrupt_zip"]
    csv_refused = CliRunner().invoke(app, ["grade", str(hand_ins / "manifest.csv"), "--sheet", "sheet02", "--out",
                                           str(tmp_path / "out"), "--course", str(REPO)])
    assert csv_refused.exit_code == 2 and "a CSV file is a manifest, not a hand-in" in flat(csv_refused.output)

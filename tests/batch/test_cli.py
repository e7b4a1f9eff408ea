"""`grader grade` as a tutor types it: usage errors are one clear line and exit 2."""

from __future__ import annotations

from typer.testing import CliRunner

from grader.cli import app
from tests.conftest import REPO


def flat(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines


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

"""Hand-in times: without a manifest row the time is unknown (flagged, no penalty) unless the tutor asks for file
dates; --deadline overrides the rubric's; a manifest or deadline given after the first run changes lateness and
totals on the next run without grading anything again."""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.commands.cli import app
from grader.store.gradebook import Gradebook
from submissions.make_examples import Member
from tests.batch.conftest import append_manifest, full_hand_in, grading_count
from tests.conftest import REPO

TEAM = [Member("Ines Varga", "2303001", "ines.varga@example.org"),
        Member("Tomasz Lewicki", "2303002", "tomasz.lewicki@example.org")]
DOWNLOADED = datetime(2026, 1, 12, 9, 0, tzinfo=UTC).timestamp()  # the day the tutor fetched the folder


def grade(hand_ins: Path, out: Path, unsafe: bool, *extra: str):
    result = CliRunner().invoke(app, ["grade", str(hand_ins), "--sheet", "sheet02", "--out", str(out), "--course",
                                      str(REPO), "--jobs", "1", "--no-warm",
                                      *(["--unsafe-no-sandbox"] if unsafe else []), *extra])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def stored(out: Path):
    with Gradebook.open(out / "gradebook.db") as book:
        [result] = book.results("sheet02")
        return result, grading_count(book, "sheet02")


def csv_row(out: Path) -> dict[str, str]:
    with (out / "gradebook.csv").open(encoding="utf-8") as handle:
        return next(csv.DictReader(handle))


@pytest.fixture
def downloaded(tmp_path: Path) -> Path:
    """One full-marks hand-in whose file date is the day of the download, months after the deadline."""
    hand_ins = tmp_path / "hand-ins"
    hand_ins.mkdir()
    path = full_hand_in(hand_ins, TEAM)
    os.utime(path, (DOWNLOADED, DOWNLOADED))
    return path


def test_times_are_unknown_without_a_manifest_and_a_later_manifest_or_deadline_only_retimes(
        downloaded: Path, tmp_path: Path, unsafe: bool, cached_plans) -> None:
    hand_ins, out = downloaded.parent, tmp_path / "out"

    output = grade(hand_ins, out, unsafe)
    result, gradings = stored(out)
    record = result.record
    assert (record.time_source, record.submitted_at, record.late, record.late_factor) == ("unknown", None, False, 1.0)
    assert [f.code for f in record.flags] == ["time_unknown"]
    assert result.total == record.auto_points > 0
    assert "hand-in time unknown: 1 hand-in(s) have no row in a CMS manifest, so no late penalty" in output
    assert f"{downloaded.name} done; 1/1 graded" in output  # the progress line, one per hand-in in a log
    assert csv_row(out)["late"] == "unknown" and csv_row(out)["late_factor"] == "1"
    assert "hand-in time of 1 of 1 hand-ins is unknown" in (out / "summary.html").read_text(encoding="utf-8")
    feedback = (out / record.folder / "feedback.md").read_text(encoding="utf-8")
    assert "hand-in time unknown" in feedback and "there is no CMS manifest" in feedback
    full = record.auto_points

    # The CMS export arrives: 31.01. 10:00, 1 day 10 hours late: two started days at 25 % each.
    append_manifest(hand_ins, [(downloaded.name, "2025-01-31T10:00:00+01:00")])
    output = grade(hand_ins, out, unsafe)
    result, again = stored(out)
    assert again == gradings, "the hand-in was graded again; only its lateness had to change"
    assert "graded 0, skipped 1 (unchanged, new hand-in time or lateness for 1)" in output
    assert "hand-in time unknown" not in output
    record = result.record
    assert (record.time_source, record.late, record.days_late, record.late_factor) == ("manifest", True, 2, 0.5)
    assert record.submitted_at == datetime(2025, 1, 31, 9, 0, tzinfo=UTC)
    assert [f.code for f in record.flags] == ["late"] and record.auto_points == full
    assert result.total == pytest.approx(full * 0.5)
    assert csv_row(out)["late"] == "yes" and float(csv_row(out)["total"]) == pytest.approx(full * 0.5)
    assert "taken from the CMS manifest" in (out / record.folder / "feedback.md").read_text(encoding="utf-8")
    assert any("updated" in note and "without grading again" in note for note in record.notes)

    # The same again: nothing to change, nothing noted twice.
    notes = len(record.notes)
    output = grade(hand_ins, out, unsafe)
    assert "new hand-in time" not in output and len(stored(out)[0].record.notes) == notes

    # The tutors extend the deadline on the command line: the same hand-in is on time.
    output = grade(hand_ins, out, unsafe, "--deadline", "2025-02-02 23:59")
    result, again = stored(out)
    assert again == gradings and "new hand-in time or lateness for 1" in output
    assert (result.record.late, result.record.late_factor, result.total) == (False, 1.0, full)
    assert "before the deadline 02.02.2025 23:59 (Europe/Berlin)" in result.record.lateness_message
    assert result.record.flags == []


def test_file_dates_only_when_the_tutor_asks(downloaded: Path, tmp_path: Path, unsafe: bool, cached_plans) -> None:
    hand_ins, out = downloaded.parent, tmp_path / "out"
    output = grade(hand_ins, out, unsafe, "--times", "mtime")
    result, _ = stored(out)
    record = result.record
    assert (record.time_source, record.late, record.late_factor) == ("zip mtime", True, 0.0)  # > max_days late
    assert record.submitted_at == datetime.fromtimestamp(DOWNLOADED, UTC)
    assert "hand-in time unknown" not in output and [f.code for f in record.flags] == ["late"]
    # back to the default: the file date no longer counts, and no code runs for that
    output = grade(hand_ins, out, unsafe)
    result, gradings = stored(out)
    assert gradings == 1 and (result.record.time_source, result.record.late_factor) == ("unknown", 1.0)


def test_a_bad_times_or_deadline_option_is_a_usage_error(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["grade", str(tmp_path), "--sheet", "sheet02", "--out", str(tmp_path / "out"), "--course", str(REPO)]
    times = runner.invoke(app, [*base, "--times", "zip"])
    assert times.exit_code == 2 and "--times 'zip'" in " ".join(times.output.split())
    deadline = runner.invoke(app, [*base, "--deadline", "friday"])
    assert deadline.exit_code == 2
    assert "--deadline: cannot read the deadline 'friday'" in " ".join(deadline.output.split())
    assert not (tmp_path / "out").exists()

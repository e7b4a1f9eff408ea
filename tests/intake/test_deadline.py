import os
import unicodedata
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from grader.intake.deadline import (
    Deadline,
    LatePolicy,
    ManifestError,
    SubmissionTime,
    assess_lateness,
    parse_deadline,
    read_manifest,
    submission_time,
)
from grader.intake.flags import Flag

BERLIN = ZoneInfo("Europe/Berlin")
SHEET_11 = Deadline(local="2025-01-29T23:59", time_zone="Europe/Berlin")


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def test_sheet_11_deadline_is_2259_utc_in_winter():
    assert SHEET_11.instant().astimezone(UTC) == datetime(2025, 1, 29, 22, 59, tzinfo=UTC)
    assert SHEET_11.describe() == "29.01.2025 23:59 (Europe/Berlin)"


def test_summer_deadline_uses_summer_time():
    summer = Deadline(local=datetime(2025, 7, 1, 23, 59))
    assert summer.instant().astimezone(UTC) == datetime(2025, 7, 1, 21, 59, tzinfo=UTC)


def test_deadline_in_the_spring_gap_is_refused_and_the_autumn_repeat_means_the_later_time():
    with pytest.raises(ValidationError, match="does not exist in Europe/Berlin"):
        Deadline(local="2025-03-30T02:30")
    twice = Deadline(local="2025-10-26T02:30")
    assert twice.instant().astimezone(UTC) == datetime(2025, 10, 26, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "fields, complaint",
    [
        ({"local": "2025-01-29T23:59", "time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"local": "2025-01-29T23:59+01:00"}, "without an offset"),
        ({"local": "2025-01-29T23:59", "zone": "UTC"}, "Extra inputs are not permitted"),
    ],
)
def test_deadline_rejects_bad_settings(fields, complaint):
    with pytest.raises(ValidationError, match=complaint):
        Deadline(**fields)


def test_policy_rejects_two_penalties_and_bad_fractions():
    with pytest.raises(ValidationError, match="either penalty_per_day or zero_after_grace"):
        LatePolicy(penalty_per_day=0.1, zero_after_grace=True)
    with pytest.raises(ValidationError):
        LatePolicy(penalty_per_day=1.5)
    with pytest.raises(ValidationError):
        LatePolicy(grace_minutes=-1)


def test_on_time_and_exactly_at_the_deadline():
    policy = LatePolicy(penalty_per_day=0.1)
    for when in ("2025-01-29T20:00", "2025-01-29T23:59:00"):
        result = assess_lateness(berlin(when), SHEET_11, policy)
        assert (result.late, result.factor, result.minutes_late, result.flag()) == (False, 1.0, 0.0, None)
    assert assess_lateness(berlin("2025-01-29T20:00"), SHEET_11, policy).message == (
        "handed in 29.01.2025 20:00, before the deadline 29.01.2025 23:59 (Europe/Berlin)"
    )


def test_grace_period_edges():
    policy = LatePolicy(grace_minutes=10, penalty_per_day=0.25)
    inside = assess_lateness(berlin("2025-01-30T00:09:00"), SHEET_11, policy)
    assert (inside.late, inside.factor, inside.minutes_late) == (False, 1.0, 10.0)
    assert inside.message == (
        "handed in 30.01.2025 00:09, 10 min after the deadline 29.01.2025 23:59 (Europe/Berlin), "
        "within the 10-minute grace period: no penalty"
    )
    just_after = assess_lateness(berlin("2025-01-30T00:09:01"), SHEET_11, policy)
    assert (just_after.late, just_after.days_late, just_after.factor) == (True, 1, 0.75)
    assert just_after.flag() == Flag(
        "late",
        "handed in 30.01.2025 00:09, 10 min after the deadline 29.01.2025 23:59 (Europe/Berlin) "
        "(1 started day late): the late policy deducts 25% per started day, so the points are multiplied by 0.75",
    )


def test_without_grace_a_second_is_late():
    result = assess_lateness(berlin("2025-01-29T23:59:01"), SHEET_11, LatePolicy(zero_after_grace=True))
    assert (result.late, result.factor) == (True, 0.0)
    assert "1 second after the deadline" in result.message


def test_penalty_counts_started_days_from_the_deadline():
    policy = LatePolicy(grace_minutes=15, penalty_per_day=0.1)
    assert assess_lateness(berlin("2025-01-30T23:59"), SHEET_11, policy).factor == pytest.approx(0.9)
    two_days = assess_lateness(berlin("2025-01-31T00:59"), SHEET_11, policy)
    assert (two_days.days_late, two_days.factor) == (2, pytest.approx(0.8))
    assert "1 d 1 h after the deadline" in two_days.message
    far = assess_lateness(berlin("2025-03-01T00:00"), SHEET_11, policy)
    assert far.factor == 0.0


def test_max_days_turns_a_penalty_into_zero():
    policy = LatePolicy(penalty_per_day=0.1, max_days=2)
    assert assess_lateness(berlin("2025-01-31T23:59"), SHEET_11, policy).factor == pytest.approx(0.8)
    over = assess_lateness(berlin("2025-01-31T23:59:01"), SHEET_11, policy)
    assert over.factor == 0.0 and "more than the 2 days the late policy accepts: zero points" in over.message


def test_lateness_without_penalty_is_only_flagged():
    result = assess_lateness(berlin("2025-01-30T08:00"), SHEET_11, LatePolicy())
    assert (result.late, result.factor) == (True, 1.0)
    assert result.message.endswith("the late policy sets no penalty")


def test_lateness_across_the_spring_dst_change_counts_real_minutes():
    deadline = Deadline(local="2025-03-30T01:59")  # 00:59 UTC, one minute before the clocks jump
    result = assess_lateness(berlin("2025-03-30T03:30"), deadline, LatePolicy(grace_minutes=30))
    assert result.minutes_late == 31.0  # 01:30 UTC; wall clocks differ by 91 minutes
    assert result.late
    inside = assess_lateness(berlin("2025-03-30T03:29"), deadline, LatePolicy(grace_minutes=30))
    assert (inside.late, inside.minutes_late) == (False, 30.0)


def test_lateness_across_the_autumn_dst_change():
    deadline = Deadline(local="2025-10-26T01:59")  # 23:59 UTC on the 25th, summer time
    # 02:10 summer time, then 02:05 winter time (fold=1), which is later although it reads earlier.
    first = datetime(2025, 10, 26, 2, 10, tzinfo=BERLIN)
    second = datetime(2025, 10, 26, 2, 5, fold=1, tzinfo=BERLIN)
    assert assess_lateness(first, deadline, LatePolicy()).minutes_late == 11.0
    assert assess_lateness(second, deadline, LatePolicy()).minutes_late == 66.0


def test_naive_hand_in_time_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        assess_lateness(datetime(2025, 1, 30), SHEET_11, LatePolicy())


@settings(max_examples=200, deadline=None)
@given(
    a=st.integers(-3 * 86400, 10 * 86400),
    b=st.integers(-3 * 86400, 10 * 86400),
    grace=st.integers(0, 120),
    penalty=st.one_of(st.none(), st.floats(0.01, 1.0)),
)
def test_later_is_never_better(a, b, grace, penalty):
    policy = LatePolicy(grace_minutes=grace, penalty_per_day=penalty)
    due = SHEET_11.instant()
    early, late = sorted((a, b))
    first = assess_lateness(due + timedelta(seconds=early), SHEET_11, policy)
    second = assess_lateness(due + timedelta(seconds=late), SHEET_11, policy)
    assert 0.0 <= second.factor <= first.factor <= 1.0
    assert first.late <= second.late
    assert first.late == (early > grace * 60)


def write_csv(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_manifest_with_offsets_naive_times_and_z(tmp_path):
    manifest = read_manifest(
        write_csv(
            tmp_path / "cms.csv",
            "file name,timestamp\n"
            "Strüber_111_Çelik_222.zip,2025-01-29T23:50:00+01:00\n"
            "Weber_333_Ong_444.zip,2025-01-29 23:58\n"
            "Li_555_Kim_666.zip,2025-01-29T22:00:30Z\n"
            "\n",
        ),
        "Europe/Berlin",
    )
    assert manifest == {
        "Strüber_111_Çelik_222.zip": datetime(2025, 1, 29, 22, 50, tzinfo=UTC),
        "Weber_333_Ong_444.zip": datetime(2025, 1, 29, 22, 58, tzinfo=UTC),
        "Li_555_Kim_666.zip": datetime(2025, 1, 29, 22, 0, 30, tzinfo=UTC),
    }


def test_manifest_from_german_excel(tmp_path):
    text = "\ufeffDateiname;Abgabezeit\nStrüber_111_Çelik_222.zip;30.01.2025 00:05\nWeber_333_Ong_444.zip;29.01.2025 23:10:05\n"
    manifest = read_manifest(write_csv(tmp_path / "cms.csv", text, "utf-8"))
    assert manifest["Strüber_111_Çelik_222.zip"] == datetime(2025, 1, 29, 23, 5, tzinfo=UTC)
    assert manifest["Weber_333_Ong_444.zip"] == datetime(2025, 1, 29, 22, 10, 5, tzinfo=UTC)
    latin = read_manifest(write_csv(tmp_path / "latin.csv", "Datei;Zeit\nMüller_1_Ong_2.zip;29.01.2025 23:00\n", "cp1252"))
    assert list(latin) == ["Müller_1_Ong_2.zip"]


def test_manifest_keeps_the_latest_upload_and_nfc_names(tmp_path):
    name = unicodedata.normalize("NFD", "Strüber_111_Çelik_222.zip")
    manifest = read_manifest(
        write_csv(
            tmp_path / "cms.csv",
            f"submission,submitted_at\n{name},2025-01-29T23:00\nuploads/{name},2025-01-30T00:30\n{name},2025-01-29T23:30\n",
        )
    )
    assert manifest == {"Strüber_111_Çelik_222.zip": datetime(2025, 1, 29, 23, 30, tzinfo=UTC)}


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("file,timestamp\na.zip,yesterday\n", "cms.csv, line 2: cannot read the timestamp 'yesterday'"),
        ("file,timestamp\na.zip,2025-01-29T23:00\nb.zip\n", "cms.csv, line 3: expected at least 2 columns, found 1"),
        ("file,timestamp\n,2025-01-29T23:00\n", "cms.csv, line 2: the file name is empty"),
        ("name\na.zip\n", "cms.csv, line 1: no timestamp column"),
        ("when,what\n2025-01-29,a.zip\n", "cms.csv, line 1: no file-name column"),
        ("file,timestamp\na.zip,2025-03-30T02:30\n", "cms.csv, line 2: '2025-03-30T02:30' does not exist in Europe/Berlin"),
        ("\n\n", "cms.csv: the manifest is empty"),
    ],
)
def test_manifest_errors_name_file_and_line(tmp_path, text, complaint):
    with pytest.raises(ManifestError) as caught:
        read_manifest(write_csv(tmp_path / "cms.csv", text))
    assert complaint in str(caught.value)
    assert str(tmp_path / "cms.csv") in str(caught.value)


def test_missing_manifest_file_is_a_manifest_error(tmp_path):
    with pytest.raises(ManifestError, match="nope.csv: cannot read the manifest"):
        read_manifest(tmp_path / "nope.csv")


def test_submission_time_prefers_the_manifest(tmp_path):
    hand_in = tmp_path / "Strüber_111_Çelik_222.zip"
    hand_in.write_bytes(b"PK")
    when = datetime(2025, 1, 29, 22, 0, tzinfo=UTC)
    found = submission_time(hand_in, {"Strüber_111_Çelik_222.zip": when})
    assert (found.time, found.source) == (when, "manifest")
    assert found.explanation == "The hand-in time is taken from the CMS manifest."
    folded = submission_time(hand_in, {"strüber_111_çelik_222.ZIP": when})
    assert folded.source == "manifest"


def test_without_a_manifest_row_the_time_is_unknown_and_costs_nothing(tmp_path):
    """A folder freshly downloaded from the CMS has today's file dates: they must not make everyone late."""
    hand_in = tmp_path / "Strüber_111_Çelik_222.zip"
    hand_in.write_bytes(b"PK")
    stamp = datetime(2025, 3, 30, 12, 0, tzinfo=UTC).timestamp()  # two months after the deadline
    os.utime(hand_in, (stamp, stamp))
    for manifest, missing in ((None, "there is no CMS manifest"),
                              ({"other.zip": datetime(2025, 1, 1, tzinfo=UTC)},
                               "the CMS manifest has no row for 'Strüber_111_Çelik_222.zip'")):
        found = submission_time(hand_in, manifest)
        assert (found.time, found.source, found.known) == (None, "unknown", False)
        assert missing in found.explanation and "date on disk is not used" in found.explanation
        lateness = assess_lateness(found, SHEET_11, LatePolicy(zero_after_grace=True))
        assert (lateness.late, lateness.factor, lateness.minutes_late, lateness.unknown) == (False, 1.0, 0.0, True)
        assert lateness.flag() == Flag("time_unknown", lateness.message)
        assert "hand-in time unknown" in lateness.message and "no late penalty" in lateness.message


def test_file_dates_only_when_asked_for(tmp_path):
    hand_in = tmp_path / "Strüber_111_Çelik_222.zip"
    hand_in.write_bytes(b"PK")
    stamp = datetime(2025, 1, 30, 0, 30, tzinfo=UTC).timestamp()
    os.utime(hand_in, (stamp, stamp))
    found = submission_time(hand_in, {"other.zip": datetime(2025, 1, 1, tzinfo=UTC)}, use_file_dates=True)
    assert (found.time, found.source) == (datetime(2025, 1, 30, 0, 30, tzinfo=UTC), "zip mtime")
    assert "CMS manifest has no row for 'Strüber_111_Çelik_222.zip'" in found.explanation
    assert "dates of the files inside the zip are not used" in found.explanation
    lateness = assess_lateness(found, SHEET_11, LatePolicy(zero_after_grace=True))
    assert lateness.late and lateness.minutes_late == 91.0 and lateness.flag().code == "late"
    # the manifest still wins where it has a row
    when = datetime(2025, 1, 29, 20, 0, tzinfo=UTC)
    assert submission_time(hand_in, {hand_in.name: when}, use_file_dates=True).time == when


def test_submission_time_of_a_bare_notebook(tmp_path):
    hand_in = tmp_path / "Strüber_111_Çelik_222.ipynb"
    hand_in.write_text("{}")
    found = submission_time(hand_in, use_file_dates=True)
    assert found.source == "file mtime"
    assert found.explanation == "The hand-in time is the file's modification time on disk (there is no CMS manifest)."
    assert isinstance(found, SubmissionTime) and found.time.tzinfo is not None


@pytest.mark.parametrize("text, local, zone", [
    ("2025-02-05 23:59", "2025-02-05T23:59", "Europe/Berlin"),
    ("  2025-02-05T23:59:30 ", "2025-02-05T23:59:30", "Europe/Berlin"),
    ("05.02.2025 23:59", "2025-02-05T23:59", "Europe/Berlin"),
    ("2025-02-05 23:59 America/New_York", "2025-02-05T23:59", "America/New_York"),
    ("2025-02-05 23:59 UTC", "2025-02-05T23:59", "UTC"),
])
def test_a_deadline_as_a_tutor_types_it(text, local, zone):
    deadline = parse_deadline(text, "Europe/Berlin")
    assert deadline == Deadline(local=local, time_zone=zone)


@pytest.mark.parametrize("text, complaint", [
    ("2025-02-05", "give a date and a time"),
    ("next friday", "give a date and a time"),
    ("2025-02-05T23:59+01:00", "without an offset"),
    ("2025-03-30 02:30", "does not exist in Europe/Berlin"),
    ("2025-02-05 23:59 Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
])
def test_a_deadline_that_cannot_be_read_says_why(text, complaint):
    with pytest.raises(ValueError, match=complaint):
        parse_deadline(text, "Europe/Berlin")

"""When a hand-in arrived, and what the late policy makes of it.

The deadline is a wall-clock time in a named time zone (sheet 11: 29.01.2025 23:59
Europe/Berlin), so daylight saving time is handled by zoneinfo. The hand-in time comes from
the CMS manifest when there is one, else from the file's modification time; the feedback says
which, because the dates *inside* a zip only say when the students saved their files.
"""

from __future__ import annotations

import csv
import math
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from grader.intake.flags import Flag

TimeSource = Literal["manifest", "zip mtime", "file mtime"]

_FILE_COLUMNS = {"file", "filename", "filenames", "name", "submission", "submissionfile", "upload", "datei", "dateiname"}
_TIME_COLUMNS = {
    "timestamp",
    "time",
    "submitted",
    "submittedat",
    "submissiontime",
    "date",
    "datetime",
    "uploaded",
    "uploadedat",
    "zeit",
    "zeitpunkt",
    "abgabezeit",
    "datum",
}
_GERMAN_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M")
_DISPLAY_FORMAT = "%d.%m.%Y %H:%M"


class LatePolicy(BaseModel):
    """What lateness costs, as the rubric says.

    Within `grace_minutes` after the deadline a hand-in counts as on time. After that it is
    late, and either `penalty_per_day` (a fraction of the points per started day, counted from
    the deadline) or `zero_after_grace` applies; with neither, lateness is flagged only.
    `max_days`: later than this many started days gives zero.
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    grace_minutes: int = Field(default=0, ge=0)
    penalty_per_day: float | None = Field(default=None, gt=0, le=1)
    zero_after_grace: bool = False
    max_days: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_penalty(self) -> LatePolicy:
        if self.zero_after_grace and self.penalty_per_day is not None:
            raise ValueError("give either penalty_per_day or zero_after_grace, not both")
        return self


class Deadline(BaseModel):
    """A wall-clock deadline in an IANA time zone, e.g. 2025-01-29T23:59 in Europe/Berlin."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    local: datetime = Field(description="Wall-clock time without offset; the zone goes in time_zone.")
    time_zone: str = Field(default="Europe/Berlin", strict=True)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (expected an IANA name like 'Europe/Berlin')") from exc
        return value

    @field_validator("local")
    @classmethod
    def _wall_clock(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            raise ValueError("give the deadline as local time without an offset; the zone goes in time_zone")
        return value

    @model_validator(mode="after")
    def _exists_in_zone(self) -> Deadline:
        if not _exists(self.local, self.zone):
            raise ValueError(
                f"{self.local:%Y-%m-%d %H:%M} does not exist in {self.time_zone}: the clocks skip it (daylight saving)"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def instant(self) -> datetime:
        """The deadline as an aware datetime. A time that occurs twice (clocks going back)
        means its later occurrence, in the students' favour."""
        return self.local.replace(tzinfo=self.zone, fold=1)

    def describe(self) -> str:
        return f"{self.local.strftime(_DISPLAY_FORMAT)} ({self.time_zone})"


@dataclass(frozen=True)
class SubmissionTime:
    """When a hand-in arrived, where that came from, and a sentence saying so for feedback."""

    time: datetime  # aware
    source: TimeSource
    explanation: str


@dataclass(frozen=True)
class Lateness:
    """The late policy applied to one hand-in. `factor` multiplies its points (1.0: no penalty)."""

    late: bool  # after the deadline and the grace period
    minutes_late: float  # after the deadline, 0.0 when on time
    days_late: int  # started days after the deadline, 0 when not late
    factor: float
    message: str

    def flag(self) -> Flag | None:
        return Flag("late", self.message) if self.late else None


class ManifestError(ValueError):
    """A CMS manifest that cannot be read; the message names the file and line."""


def read_manifest(csv_path: Path, time_zone: str = "Europe/Berlin") -> dict[str, datetime]:
    """Hand-in times from a CMS export: a CSV with a file-name column and a timestamp column.

    Timestamps are ISO 8601 with or without offset (or `29.01.2025 23:59[:ss]`, or Unix
    seconds); those without offset are read in `time_zone`. A file listed twice keeps its
    latest time: the file at hand is the last upload. Keys are NFC-normalised file names,
    values aware datetimes in UTC.
    """
    csv_path = Path(csv_path)
    zone = ZoneInfo(time_zone)
    text = _read_text(csv_path)
    lines = text.splitlines(keepends=True)
    if not any(line.strip() for line in lines):
        raise ManifestError(f"{csv_path}: the manifest is empty")
    # The separator is the one that splits the header into a file-name and a timestamp column (',' first, then
    # ';', then TAB): decided by the header alone, never guessed from the rows, whose file names students chose
    # (a name with ';' or quotes once made the guess wrong and the whole batch refused to start).
    delimiter = _manifest_delimiter(lines, csv_path)
    reader = csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
    header = next(reader)
    file_col = _find_column(header, _FILE_COLUMNS, csv_path, "file-name")
    time_col = _find_column(header, _TIME_COLUMNS, csv_path, "timestamp")

    times: dict[str, datetime] = {}
    for row in reader:
        where = f"{csv_path}, line {reader.line_num}"
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(file_col, time_col):
            raise ManifestError(f"{where}: expected at least {max(file_col, time_col) + 1} columns, found {len(row)}")
        # The name as written (a file name may begin with a TAB or a space), and trimmed, for exports that pad.
        exact = unicodedata.normalize("NFC", row[file_col].strip("\r\n")).replace("\\", "/").rsplit("/", 1)[-1]
        if not exact.strip():
            raise ManifestError(f"{where}: the file name is empty")
        when = parse_timestamp(row[time_col], zone, where).astimezone(UTC)
        for name in dict.fromkeys([exact, exact.strip()]):
            if name not in times or when > times[name]:
                times[name] = when
    return times


def _manifest_delimiter(lines: list[str], csv_path: Path) -> str:
    header = next(line for line in lines if line.strip())
    for delimiter in (",", ";", "\t"):
        cells = next(csv.reader([header], delimiter=delimiter))
        try:
            _find_column(cells, _FILE_COLUMNS, csv_path, "file-name")
            _find_column(cells, _TIME_COLUMNS, csv_path, "timestamp")
        except ManifestError:
            continue
        return delimiter
    # None fits: the error names what is missing, as read with the documented default.
    cells = next(csv.reader([header]))
    _find_column(cells, _FILE_COLUMNS, csv_path, "file-name")
    _find_column(cells, _TIME_COLUMNS, csv_path, "timestamp")
    return ","


def parse_timestamp(text: str, zone: ZoneInfo, where: str = "timestamp") -> datetime:
    """An aware datetime from ISO 8601, German `dd.mm.yyyy hh:mm[:ss]` or Unix seconds."""
    value = text.strip()
    if re.fullmatch(r"\d{9,11}(?:\.\d+)?", value):
        return datetime.fromtimestamp(float(value), tz=UTC)
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        for pattern in _GERMAN_FORMATS:
            try:
                parsed = datetime.strptime(value, pattern)
                break
            except ValueError:
                continue
    if parsed is None:
        raise ManifestError(
            f"{where}: cannot read the timestamp {value!r} (expected ISO 8601 like 2025-01-29T23:50:00+01:00)"
        )
    if parsed.tzinfo is not None:
        return parsed
    if not _exists(parsed, zone):
        raise ManifestError(f"{where}: {value!r} does not exist in {zone.key} (the clocks skip it)")
    # A time that occurs twice when the clocks go back: the earlier one, in the students' favour.
    return parsed.replace(tzinfo=zone, fold=0)


def submission_time(path: Path, manifest: Mapping[str, datetime] | None = None) -> SubmissionTime:
    """When the hand-in at `path` arrived: the manifest's time, else the file's modification time."""
    path = Path(path)
    name = unicodedata.normalize("NFC", path.name)
    if manifest:
        when = manifest.get(name)
        if when is None:
            folded = [value for key, value in manifest.items() if key.casefold() == name.casefold()]
            when = folded[0] if len(folded) == 1 else None
        if when is not None:
            return SubmissionTime(when, "manifest", "The hand-in time is taken from the CMS manifest.")
    when = datetime.fromtimestamp(os.stat(path).st_mtime, tz=UTC)
    missing = f" (the CMS manifest has no row for '{name}')" if manifest else " (there is no CMS manifest)"
    if path.suffix.lower() == ".zip":
        return SubmissionTime(
            when,
            "zip mtime",
            "The hand-in time is the zip file's modification time on disk"
            + missing
            + "; the dates of the files inside the zip are not used, because they show when the files were "
            "saved, not when the CMS received the zip.",
        )
    return SubmissionTime(when, "file mtime", "The hand-in time is the file's modification time on disk" + missing + ".")


def assess_lateness(submitted: datetime | SubmissionTime, deadline: Deadline, policy: LatePolicy) -> Lateness:
    """Apply `policy` to a hand-in time; the message states times in the deadline's zone."""
    when = submitted.time if isinstance(submitted, SubmissionTime) else submitted
    if when.tzinfo is None:
        raise ValueError("the hand-in time has no time zone; read it with read_manifest or submission_time")
    due = deadline.instant()
    handed_in = f"handed in {when.astimezone(deadline.zone).strftime(_DISPLAY_FORMAT)}"
    # Through UTC: datetimes sharing one tzinfo subtract as wall-clock times, wrong across DST.
    seconds = (when.astimezone(UTC) - due.astimezone(UTC)).total_seconds()
    if seconds <= 0:
        return Lateness(False, 0.0, 0, 1.0, f"{handed_in}, before the deadline {deadline.describe()}")

    after = f"{handed_in}, {_duration(seconds)} after the deadline {deadline.describe()}"
    minutes = seconds / 60
    if seconds <= policy.grace_minutes * 60:
        message = f"{after}, within the {policy.grace_minutes}-minute grace period: no penalty"
        return Lateness(False, minutes, 0, 1.0, message)

    days = math.ceil(seconds / 86400)
    day_text = f"{days} started day{'s' if days != 1 else ''} late"
    if policy.max_days is not None and days > policy.max_days:
        factor = 0.0
        consequence = f"more than the {policy.max_days} days the late policy accepts: zero points"
    elif policy.zero_after_grace:
        factor = 0.0
        consequence = "the late policy gives zero points after the grace period"
    elif policy.penalty_per_day is not None:
        factor = max(0.0, 1.0 - policy.penalty_per_day * days)
        consequence = (
            f"the late policy deducts {policy.penalty_per_day:.0%} per started day, "
            f"so the points are multiplied by {factor:.2f}"
        )
    else:
        factor = 1.0
        consequence = "the late policy sets no penalty"
    return Lateness(True, minutes, days, factor, f"{after} ({day_text}): {consequence}")


def _exists(local: datetime, zone: ZoneInfo) -> bool:
    """False for wall-clock times inside a spring-forward gap."""
    aware = local.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == local


def _duration(seconds: float) -> str:
    whole = int(math.ceil(seconds))
    if whole < 60:
        return f"{whole} second{'s' if whole != 1 else ''}"
    delta = timedelta(seconds=whole)
    days, rest = delta.days, delta.seconds
    hours, minutes = rest // 3600, (rest % 3600) // 60
    parts = []
    if days:
        parts.append(f"{days} d")
    if hours:
        parts.append(f"{hours} h")
    if minutes or not parts:
        parts.append(f"{minutes} min")
    return " ".join(parts)


def _read_text(csv_path: Path) -> str:
    try:
        raw = csv_path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"{csv_path}: cannot read the manifest ({exc.strerror or exc})") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")  # German Excel exports


def _find_column(header: list[str], names: set[str], csv_path: Path, what: str) -> int:
    for index, cell in enumerate(header):
        if re.sub(r"[\s_\-]", "", cell.strip().lower()) in names:
            return index
    expected = ", ".join(sorted(names))
    raise ManifestError(f"{csv_path}, line 1: no {what} column in the header {header} (expected one of: {expected})")

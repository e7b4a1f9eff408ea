"""Intake's front door: one file handed in becomes a `HandIn` (files, team, lateness, flags, the main file).

    hand_in = take_in(Path("Berg_2302001_Kim_2302002.zip"), rules, workdir=out / "Berg_2302001_Kim_2302002")

`take_in` reads the team from the file name, works out when the hand-in arrived and what the late policy makes
of that, unpacks it safely into `workdir/files`, picks the main file (and says why), reads the team the hand-in
declares and reconciles it with the file name's, and turns every problem into a flag. It never runs hand-in
code and never raises for a bad hand-in: what cannot be graded says so in `HandIn.not_gradable`.

A `HandIn` is plain, picklable data (paths, strings, numbers, dates): grading can happen in another process or
on another machine that sees `files_dir` (grader.scoring.grade.grade_hand_in).
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from grader.intake.deadline import Deadline, LatePolicy, assess_lateness, read_manifest, submission_time
from grader.intake.extract import IntakeError, extract_submission
from grader.intake.flags import FlagRecord
from grader.intake.naming import NamingRule, nfc, parse_submission_name
from grader.intake.team import PdfTextReader, StudentRecord, compare_team, declared_team, reconcile_team
from grader.text.safe import clean

# Flags that say when a hand-in arrived: a new manifest or deadline replaces them without a regrade.
TIMING_FLAGS = frozenset({"late", "time_unknown"})

MANIFEST_NAME = "manifest.csv"  # the CMS manifest beside the hand-ins, read when no other is given


class NoHandIns(ValueError):
    """No hand-in where one was given: no such file or folder, a manifest given as a hand-in, an empty folder."""


@dataclass(frozen=True)
class HandInTiming:
    """When a hand-in arrived and what the late policy made of it: the part of a grading that a new manifest or
    deadline changes without running any code (see Gradebook.update_timing)."""

    submitted_at: datetime | None
    time_source: str | None  # manifest, zip mtime, file mtime, unknown
    time_explanation: str
    late: bool
    minutes_late: float
    days_late: int
    late_factor: float
    lateness_message: str
    deadline: str | None  # the deadline lateness was measured against (Deadline as JSON); None: the rubric's
    flags: tuple[FlagRecord, ...] = ()  # late / time_unknown only

    def stored(self) -> tuple:
        """The values as the gradebook keeps them: two timings are the same when these are."""
        return clean((iso_time(self.submitted_at) if self.submitted_at else None, self.time_source,
                      self.time_explanation, int(self.late), self.minutes_late, self.days_late, self.late_factor,
                      self.lateness_message, self.deadline, tuple((f.code, f.message) for f in self.flags)))


# Before a hand-in's time is known (or when intake failed): no time, no lateness, full points.
NO_TIMING = HandInTiming(None, None, "", False, 0.0, 0, 1.0, "", None)


def iso_time(moment: datetime) -> str:
    """A moment as the gradebook stores it: UTC, milliseconds."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class TimingRule:
    """How a hand-in's time and lateness are found: the manifest, the deadline and late policy, and whether a
    file's date on disk stands in for a missing manifest row."""

    manifest: dict[str, datetime] | None
    deadline: Deadline
    policy: LatePolicy
    use_file_dates: bool = False

    def of(self, path: Path) -> HandInTiming:
        arrived = submission_time(path, self.manifest, use_file_dates=self.use_file_dates)
        lateness = assess_lateness(arrived, self.deadline, self.policy)
        flag = lateness.flag()
        return HandInTiming(arrived.time, arrived.source, arrived.explanation, lateness.late, lateness.minutes_late,
                            lateness.days_late, lateness.factor, lateness.message, self.deadline.model_dump_json(),
                            (FlagRecord.of(flag),) if flag is not None else ())


@dataclass(frozen=True)
class IntakeRules:
    """Everything take_in needs besides the file: the course's naming rule, the run's timing rule (manifest,
    deadline, late policy, time sources), the sheet's number (the main-file rule prefers names that mention
    it) and the bounded reader of PDF text (None: PDFs are not read for the declared team)."""

    naming: NamingRule
    timing: TimingRule
    sheet_number: str | None = None
    pdf_text: PdfTextReader | None = None

    @staticmethod
    def sheet_number_of(sheet: str) -> str | None:
        """'02' for sheet02: the main-file rule prefers names that mention it."""
        found = re.search(r"\d+", sheet)
        return found.group(0) if found else None


@dataclass(frozen=True)
class HandIn:
    """What intake learned about one hand-in; plain data, nothing of it has run."""

    source: Path  # the file handed in
    name: str  # its file name, NFC-normalised: the gradebook's key (macOS stores umlauts decomposed)
    content_sha256: str
    folder: str  # the hand-in's output folder (its files are unpacked into <folder>/files)
    files_dir: Path | None  # where its files are; None when it could not be unpacked
    main_file: str | None  # relative to files_dir
    main_file_reason: str
    timing: HandInTiming = NO_TIMING
    students: tuple[StudentRecord, ...] = ()
    ignored_entries: tuple[str, ...] = ()
    written_answers: tuple[str, ...] = ()
    flags: tuple[FlagRecord, ...] = ()  # in the order found: naming, timing, unpacking, team
    notes: tuple[str, ...] = ()
    not_gradable: str | None = None  # why the code cannot be run (a broken zip, no notebook); None: it can

    @property
    def main_path(self) -> Path | None:
        return self.files_dir / self.main_file if self.files_dir is not None and self.main_file else None


def take_in(path: Path, rules: IntakeRules, workdir: Path, *, folder_note: str = "") -> HandIn:
    """One hand-in, taken in: see the module docstring. `workdir` is the hand-in's own output folder (emptied of
    an earlier unpacking); `folder_note` is a naming flag's message when the folder is not the usual one."""
    path, workdir = Path(path), Path(workdir)
    parsed = parse_submission_name(path.name, rules.naming)
    flags = [FlagRecord.of(f) for f in parsed.problems]
    if folder_note:
        flags.append(FlagRecord("naming", folder_note))
    timing = rules.timing.of(path)
    flags.extend(timing.flags)
    hand_in = HandIn(source=path, name=hand_in_name(path), content_sha256=file_sha256(path), folder=workdir.name,
                     files_dir=None, main_file=None, main_file_reason="", timing=timing)

    files_dir = workdir / "files"
    if files_dir.exists():
        shutil.rmtree(files_dir)  # ours, from an earlier grading of this hand-in
    try:
        extracted = extract_submission(path, files_dir, sheet_hint=rules.sheet_number)
    except IntakeError as exc:
        flags.append(FlagRecord.of(exc.flag))
        return replace(hand_in, flags=tuple(flags), not_gradable=exc.message,
                       students=tuple(reconcile_team(parsed.students, [], rules.naming.id_pattern)))

    flags.extend(FlagRecord.of(f) for f in extracted.flags)
    notes: list[str] = []
    doubts: list[str] = []
    declared, team_source = declared_team(files_dir, extracted.main_file, extracted.written_answers, notes,
                                          rules.pdf_text, doubts)
    flags.extend(FlagRecord("team_unclear", doubt) for doubt in doubts)
    if team_source is not None:
        flags.extend(FlagRecord.of(f) for f in compare_team(parsed.students, declared, team_source))
    return replace(
        hand_in, files_dir=files_dir, main_file=extracted.main_file, main_file_reason=extracted.main_file_reason,
        students=tuple(reconcile_team(parsed.students, declared, rules.naming.id_pattern)),
        ignored_entries=tuple(f"{entry.name}: {entry.reason}" for entry in extracted.ignored),
        written_answers=tuple(extracted.written_answers), flags=tuple(flags), notes=tuple(notes),
        not_gradable=None if extracted.main_file is not None else extracted.main_file_reason)


def hand_in_name(path: Path) -> str:
    """The gradebook's key for a hand-in: its file name, NFC-normalised (macOS stores umlauts decomposed)."""
    return nfc(Path(path).name)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def find_hand_ins(path: Path) -> list[Path]:
    """The hand-ins to grade: one file, or every hand-in directly in a folder (all regular files except hidden
    ones and CSV files, i.e. manifests). Raises NoHandIns when there is none."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() == ".csv":
            raise NoHandIns(f"{path}: a CSV file is a manifest, not a hand-in; give the hand-in or its folder "
                             "(and the manifest with --manifest)")
        return [path]
    if not path.is_dir():
        raise NoHandIns(f"{path}: no such hand-in or folder of hand-ins")
    found = [p for p in path.iterdir()
             if p.is_file() and not p.is_symlink() and not p.name.startswith(".") and p.suffix.lower() != ".csv"]
    if not found:
        raise NoHandIns(f"{path}: no hand-ins in this folder (looked for zips, notebooks and scripts directly in "
                         "it; hidden files and CSV manifests do not count)")
    return sorted(found, key=lambda p: p.name)


def hand_in_folder(path: Path) -> Path:
    """The folder of the hand-ins: `path` itself, or the folder of a single hand-in file."""
    path = Path(path)
    return path.parent if path.is_file() else path


def batch_manifest(hand_ins: Path, given: Path | None, time_zone: str) -> dict[str, datetime] | None:
    """The hand-in times of a batch (read_manifest): from the manifest `given`, else from the manifest.csv beside
    the hand-ins when there is one, else None. Raises ManifestError."""
    path = given or hand_in_folder(hand_ins) / MANIFEST_NAME
    if given is None and not path.exists():
        return None
    return read_manifest(path, time_zone)

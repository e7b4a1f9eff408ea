"""The four export formats: which columns, which cells, and whether the file starts with a UTF-8 BOM.

docs/exports.md has each system's documentation and import steps; the column lists here are those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from grader.commands.export.matching import ExportRow


@dataclass(frozen=True)
class ExportSettings:
    assignment: str  # the grade item / assignment / column name in the course system
    title: str  # the sheet's title, for the feedback text
    max_points: float  # without bonus questions
    missing: Literal["empty", "zero"] = "empty"  # the points of a roster student without a hand-in
    pass_points: float | None = None  # ILIAS status passed/failed from these points on


@dataclass
class Table:
    header: list[str]
    preamble: list[list[str]] = field(default_factory=list)  # rows between the header and the students
    rows: list[list[str]] = field(default_factory=list)  # one per student
    sources: list[ExportRow] = field(default_factory=list)  # what each row was made from
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the tutor does with the file in the course system

    def add(self, source: ExportRow, cells: list[str]) -> None:
        self.sources.append(source)
        self.rows.append(cells)


def format_points(value: Decimal | float) -> str:
    """18 -> '18', 3.750 -> '3.75', with '.' (every system's import reads it; a decimal comma is Excel's)."""
    text = format(Decimal(str(value)).normalize(), "f")
    return "0" if text in ("-0", "") else text


def points_cell(row: ExportRow, settings: ExportSettings) -> str:
    if row.student is None:
        return "0" if settings.missing == "zero" else ""
    return format_points(row.student.points)


def feedback_text(row: ExportRow, settings: ExportSettings) -> str:
    """One line for the student: points per question, lateness, what is still open. No check messages at all,
    so nothing of a hidden check (its inputs, expected values, verdict text) can reach the course system."""
    student = row.student
    if student is None:
        return f"No hand-in for {settings.title}."
    parts = [f"{format_points(student.points)} of {format_points(student.max_points)} points for {settings.title}"]
    if student.questions:
        parts.append("Per question: " + ", ".join(
            f"{q.question_id} {format_points(q.points)}/{format_points(q.max_points)}"
            + (" (bonus)" if q.bonus else "") + (" (tutor part open)" if q.question_id in student.pending else "")
            for q in student.questions))
    if student.late_factor != 1:
        parts.append(student.lateness_message or f"Late: points × {format_points(student.late_factor)}")
    if student.pending:
        open_points = format_points(student.pending_points)
        parts.append(f"{open_points} point{'' if open_points == '1' else 's'} still to be scored by a tutor")
    if student.grading_failed:
        parts.append("The automatic grading failed and will be repeated, so these points are not final")
    elif student.not_gradable:
        parts.append("The hand-in could not be graded automatically (see the feedback file)")
    return " ".join(p[:1].upper() + p[1:].rstrip(".") + "." for p in parts)


def _first_last(row: ExportRow) -> tuple[str, str]:
    first, last = row.field("first_name"), row.field("last_name")
    if first or last:
        return first or "", last or ""
    return "", row.field("name") or ""  # one full name: shown in the last-name column, never split by guess


MOODLE_IDENTIFIERS = {"student_id": "ID number", "email": "Email address"}


class MoodleFormat:
    """Moodle's CSV grade import (Grades > Import > CSV file): one identifier column to map from (ID number or
    Email address), the grade column and its feedback column, named as Moodle's own export names them.

    Only one identifier column, and every row has it: Moodle's importer keeps the user of the previous row when
    the mapped cell is empty (the grade would go to the wrong student) and stops at a user it cannot find."""

    name = "moodle"
    bom = True  # Moodle's CSV reader strips a UTF-8 BOM; Excel needs it to show umlauts

    @staticmethod
    def _identifier(row: ExportRow, key: str) -> str | None:
        # With a roster only Moodle's own values identify: a hand-in's id may not be Moodle's ID number.
        return row.entry.get(key) if row.entry is not None else row.field(key)

    def table(self, rows: list[ExportRow], settings: ExportSettings) -> Table:
        have = {key: sum(bool(self._identifier(row, key)) for row in rows) for key in MOODLE_IDENTIFIERS}
        key = "student_id" if have["student_id"] >= have["email"] else "email"
        column = MOODLE_IDENTIFIERS[key]
        header = ["First name", "Last name", column, f"{settings.assignment} (Real)",
                  f"{settings.assignment} (Feedback)"]
        table = Table(header=header, notes=[
            f"in Moodle's import map from '{column}' to '{column}' "
            f"({'useridnumber' if key == 'student_id' else 'useremail'}), '{header[3]}' to the grade item and "
            f"'{header[4]}' to its feedback"])
        for row in rows:
            identifier = self._identifier(row, key)
            if not identifier:
                table.warnings.append(f"{row.field('name') or '?'}: no {column.lower()}, Moodle could not find the "
                                      "student: not exported")
                continue
            first, last = _first_last(row)
            table.add(row, [first, last, identifier, points_cell(row, settings), feedback_text(row, settings)])
        return table


ILIAS_COLUMNS = ["update", "usr_id", "login", "lastname", "firstname", "status", "mark", "notice", "comment",
                 "plagiarism", "plag_comment"]


class IliasFormat:
    """The exercise assignment's status file (status.csv) that StudOn's ILIAS and the ExerciseStatusFile
    plugin read back with a multi-feedback upload: rows with update=1 set status, mark and comment."""

    name = "ilias"
    bom = True  # PhpSpreadsheet's CSV reader (which reads it) skips a UTF-8 BOM; Excel needs it for umlauts

    def table(self, rows: list[ExportRow], settings: ExportSettings) -> Table:
        table = Table(header=list(ILIAS_COLUMNS))
        without_usr_id = 0
        for row in rows:
            mark = points_cell(row, settings)
            kept = row.entry.extra if row.entry is not None else {}
            first, last = _first_last(row)
            usr_id = row.field("system_id") or ""
            without_usr_id += not usr_id
            table.add(row, [
                "1" if mark else "0", usr_id, row.field("login") or "", last, first, self._status(row, mark, settings),
                mark, kept.get("notice") or (f"grader: {row.student.hand_in}" if row.student else "grader: no hand-in"),
                feedback_text(row, settings), kept.get("plagiarism", ""), kept.get("plag_comment", "")])
        if without_usr_id:
            table.warnings.append(f"{without_usr_id} row(s) have no ILIAS usr_id and ILIAS skips them: pass the "
                                  "status file of the assignment's multi-feedback download as --students")
        return table

    @staticmethod
    def _status(row: ExportRow, mark: str, settings: ExportSettings) -> str:
        if settings.pass_points is not None and mark:
            return "passed" if Decimal(mark) >= Decimal(str(settings.pass_points)) else "failed"
        return row.field("status") or "notgraded"


class CanvasFormat:
    """Canvas's gradebook CSV (Grades > Import): the fixed leading columns Student, ID, SIS User ID, SIS Login
    ID, Section, one column per assignment, and the optional "Points Possible" row."""

    name = "canvas"
    bom = True  # Canvas's own gradebook export can carry one for Excel, and its importer accepts it

    def table(self, rows: list[ExportRow], settings: ExportSettings) -> Table:
        header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", settings.assignment]
        table = Table(header=header, preamble=[["Points Possible", "", "", "", "",
                                                format_points(settings.max_points)]])
        for row in rows:
            table.add(row, [row.field("name") or "", row.field("system_id") or "", row.field("student_id") or "",
                               row.field("login") or "", row.field("section") or "", points_cell(row, settings)])
        return table


class CsvFormat:
    """A plain per-student table for any other system or spreadsheet."""

    name = "csv"
    bom = True  # for Excel's sake, like the manual-grading CSV; every CSV reader of note skips it

    def table(self, rows: list[ExportRow], settings: ExportSettings) -> Table:
        header = ["student_id", "name", "email", "hand_in", "points", "max_points", "late_factor", "pending_points",
                  "state", "feedback"]
        table = Table(header=header)
        for row in rows:
            student = row.student
            table.add(row, [
                row.field("student_id") or "", row.field("name") or "", row.field("email") or "",
                student.hand_in if student else "", points_cell(row, settings), format_points(settings.max_points),
                format_points(student.late_factor) if student else "",
                format_points(student.pending_points) if student else "", _state(row), feedback_text(row, settings)])
        return table


def _state(row: ExportRow) -> str:
    student = row.student
    if student is None:
        return "no hand-in"
    if student.grading_failed:
        return "grading failed"
    return "pending" if student.pending else "graded"


FORMATS = {f.name: f for f in (MoodleFormat(), IliasFormat(), CanvasFormat(), CsvFormat())}

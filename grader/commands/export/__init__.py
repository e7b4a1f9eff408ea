"""Grades into the course systems: `grader export` writes Moodle, ILIAS, Canvas or plain CSV imports.

    from grader.commands.export import export_grades, ExportError
    summary = export_grades(Path("out/sheet02"), Path("moodle.csv"), fmt="moodle", roster=Path("roster.csv"))

The pipeline: `points.student_points` (the one reader of the gradebook) -> `matching.match_students` (roster,
conflicts) -> a format's table (`formats`) -> one guarded CSV file (`exporting.write_table`). docs/exports.md.
"""

from grader.commands.export.exporting import ExportError, ExportSummary, export_grades
from grader.commands.export.formats import FORMATS
from grader.commands.export.identity import normalise_student_id
from grader.commands.export.points import StudentPoints, student_points
from grader.commands.export.roster import RosterError, read_roster

__all__ = ["FORMATS", "ExportError", "ExportSummary", "RosterError", "StudentPoints", "export_grades",
           "normalise_student_id", "read_roster", "student_points"]

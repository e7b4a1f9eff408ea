"""feedback.md / feedback.html for one team: points per question, what each check found, the model answers.

Public checks show their message and hints; hidden checks say only whether they passed until the deadline, so a
resubmission cannot be tuned to them, and after it also what was checked and what went wrong. Parts a tutor has
not scored yet say they are waiting for a tutor, never "0 of 1". Model answers appear once the deadline (the
rubric's, or --deadline's) has passed.
"""

from __future__ import annotations

from datetime import datetime

from grader.checks.plan import CheckResult
from grader.store.gradebook import StoredResult
from grader.intake.deadline import Deadline
from grader.intake.main_file import chosen_but_not_graded
from grader.rubric.model_answers import SheetAnswers
from grader.reports.check_text import hidden_lines, public_lines, question_points_text, tutor_line
from grader.reports.document import Document
from grader.execution.ran_notebook import Figure
from grader.checks.kinds.manual import ManualCheck
from grader.rubric.models import Rubric


def feedback_document(result: StoredResult, rubric: Rubric, answers: SheetAnswers | None, *,
                      now: datetime, figures: list[Figure] | None = None) -> Document:
    """figures: what the grader's run drew (grader.execution.ran_notebook), shown under the question their cell
    belongs to; those of no question at the end."""
    record = result.record
    figures = figures or []
    doc = Document(f"{rubric.title}: feedback for {record.file_name}")
    if record.students:
        doc.paragraph("Team: " + "; ".join(_student(s.name, s.student_id) for s in record.students))
    doc.paragraph(_points_sentence(result))
    if record.error:
        doc.paragraph(f"Not graded automatically: {record.error}")
    if record.lateness_message:
        doc.paragraph(f"Hand-in time: {record.lateness_message}. {record.time_explanation}".strip())
    if record.main_file_reason and record.error:
        doc.paragraph(f"Chosen file: {chosen_but_not_graded(record.main_file_reason)}")
    elif record.main_file_reason:
        doc.paragraph(f"Graded file: {record.main_file_reason}")
    if record.flags:
        doc.heading(1, "Flags for the tutors")
        doc.items([f"{flag.code}: {flag.message}" for flag in record.flags])
    if record.failed_cells:
        doc.heading(1, "Cells that failed")
        for cell in record.failed_cells:
            doc.paragraph(f"Cell {cell.label}: {cell.status}")
            if cell.error:
                doc.preformatted(cell.error)
    if record.ignored_entries:
        doc.heading(1, "Files not unpacked")
        doc.items(record.ignored_entries)
    if record.protections_off:
        doc.paragraph(f"Note: this hand-in was run without bubblewrap ({record.sandbox} sandbox); protections "
                      f"off: {', '.join(record.protections_off)}.")
    if record.notes and record.status == "done":
        doc.heading(1, "Notes on the run")
        doc.items(list(record.notes))

    deadline = Deadline.model_validate_json(record.deadline) if record.deadline else rubric.deadline
    after_deadline = now >= deadline.instant()
    show_answers = answers is not None and after_deadline
    if answers is not None and not show_answers:
        doc.paragraph(f"Model answers are shown here after the deadline, {deadline.describe()}.")
    manual_checks = {(q.id, c.id): c for q in rubric.questions for c in q.checks if isinstance(c, ManualCheck)}
    for question in record.questions:
        bonus = " (bonus)" if question.bonus else ""
        title = f" {question.title}" if question.title else ""
        doc.heading(1, f"{question.question_id}{title}: {question_points_text(result, question)}{bonus}", math=True)
        shown_answers: set[str] = set()
        _figures(doc, [f for f in figures if f.question == question.question_id])
        for check in question.checks:
            _check_lines(doc, result, check, after_deadline)
            spec = manual_checks.get((check.question_id, check.check_id))
            key = (spec.answer if spec is not None and spec.answer else check.question_id)
            if show_answers and spec is not None and key not in shown_answers and key in answers.questions:
                shown_answers.add(key)
                doc.paragraph(f"Model answer: {answers.questions[key].model_answer}", math=True)
    known = {q.question_id for q in record.questions}
    loose = [f for f in figures if f.question not in known]
    if loose:
        doc.heading(1, "Other figures your code drew")
        _figures(doc, loose)
    return doc


def _figures(doc: Document, figures: list[Figure]) -> None:
    for figure in figures:
        doc.image(figure.file, f"Figure drawn by cell {figure.cell} when the grader ran your code")


def _check_lines(doc: Document, result: StoredResult, check: CheckResult, after_deadline: bool) -> None:
    if check.status == "pending":
        doc.paragraph(tutor_line(result, check) + ("." if result.manual_score(check) is None else ""))
        return
    if check.visibility != "public":
        first, details = hidden_lines(check, after_deadline=after_deadline)
    else:
        first, details = public_lines(check)
    doc.paragraph(first)
    if details:
        doc.preformatted(details)


def _points_sentence(result: StoredResult) -> str:
    record = result.record
    parts = [f"Points{' so far' if result.manual_pending else ''}: {result.total:g} of {record.max_points:g}"]
    if record.late_factor != 1.0:
        parts.append(f" after the late penalty (×{record.late_factor:g} on "
                     f"{record.auto_points + result.manual_points:g})")
    parts.append(f". Automatically graded: {record.auto_points:g}")
    if result.manual_points:
        parts.append(f"; from your tutor: {result.manual_points:g}")
    if result.manual_pending:
        parts.append(f"; waiting for a tutor: {result.manual_pending:g} more points, not counted yet")
    return "".join(parts) + "."


def _student(name: str | None, student_id: str | None) -> str:
    label = name or "(no name)"
    return f"{label} ({student_id})" if student_id else label

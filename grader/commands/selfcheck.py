"""`grader check`: a student's self-check with the public checks only, printed as a table."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.text import Text

from grader.rubric.released import PublicChecks, load_released, public_checks
from grader.execution.sandbox import find_sandbox
from grader.text.paths import as_in_hand_in
from grader.intake.extract import IntakeError, extract_submission
from grader.intake.main_file import chosen_but_not_graded
from grader.rubric.load import RubricError, find_rubric, load_rubric
from grader.scoring.sheet import SubmissionGrade, execution_settings, grade_file

MAX_SIBLING_BYTES = 20 * 2**20
_HEADS = ("question", "check", "points")
_VERDICTS = {"passed": ("passed", "green"), "failed": ("failed", "red"), "error": ("error", "yellow"),
             "pending": ("tutor", "blue")}
_INDENT = 4  # messages sit under their check's line, indented
_TAG_STYLES = {"cell": "yellow", "error": "red", "tutors": "", "note": "", "sandbox": "yellow"}


class SelfCheckError(Exception):
    """A usage problem: no such file, no rubric for the sheet, an unreadable zip."""


@dataclass
class SelfCheckOutcome:
    grade: SubmissionGrade
    protections_off: list[str]
    not_run: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def all_public_passed(self) -> bool:
        checked = [c for c in self.grade.checks if c.status != "pending"]
        return bool(checked) and all(c.passed for c in checked) and not self.grade.error

    def print(self, console: Console) -> None:
        """One line per check (question, check, points, verdict), its message wrapped beneath it: readable at any
        terminal width, 80 columns included, instead of a table squeezing the message into a narrow column."""
        console.print(Text(f"{self.grade.sheet}: public checks for {Path(self.grade.source).name}", style="bold"))
        rows = [(question.question_id, check.check_id, _points(check), check)
                for question in self.grade.questions for check in question.checks]
        widths = [max([len(head), *(len(row[i]) for row in rows)]) for i, head in enumerate(_HEADS)]
        heading = "  ".join(head.ljust(width) for head, width in zip(_HEADS, widths)) + "  verdict"
        console.print(Text(heading, style="bold"), no_wrap=True, overflow="ellipsis")
        console.print(Text("─" * min(len(heading), console.width)), no_wrap=True)
        for question_id, check_id, points, check in rows:
            word, style = _VERDICTS.get(check.status, (check.status, ""))
            line = Text("  ".join(cell.ljust(width) for cell, width in zip((question_id, check_id, points), widths))
                        + "  ")
            line.append(word, style=style)
            console.print(line, overflow="fold")
            message = check.message + "".join(f"\nhint: {h}" for h in check.hints)
            if message.strip():
                for wrapped in Text(message).wrap(console, max(20, console.width - _INDENT), overflow="fold"):
                    wrapped.rstrip()
                    console.print(Text(" " * _INDENT) + wrapped, no_wrap=True, crop=False)
        console.print(self.points_line(), highlight=False)
        for tag, line in self.after_checks():
            text = Text(line)
            text.stylize(_TAG_STYLES[tag], 0, len(line.split(":")[0]))
            console.print(text, highlight=False)

    def after_checks(self) -> list[tuple[str, str]]:
        """What follows the checks and the points line, as (tag, line): failed cells, why the hand-in was not
        graded, the checks only tutors run, notes, a sandbox without bubblewrap. The one renderer of it for the
        terminal (print), the job summary (markdown) and the pytest plugin's summary."""
        lines: list[tuple[str, str]] = []
        for cell in self.grade.failed_cells:
            last = (cell.error or "").strip().splitlines()[-1:] or [cell.status]
            lines.append(("cell", f"cell {cell.label} {cell.status}: {last[0]}"))
        if self.grade.error:
            lines.append(("error", f"not graded: {self.grade.error}"))
        if self.not_run:
            points = sum(item["points"] for item in self.not_run)
            lines.append(("tutors", f"{len(self.not_run)} further checks ({points:g} points: hidden, probes and "
                                    "written answers) are run by your tutors only."))
        lines.extend(("note", f"note: {note}") for note in self.notes)
        if self.protections_off:
            lines.append(("sandbox", "sandbox: running without bubblewrap; these protections are off: "
                                     + ", ".join(self.protections_off)))
        return lines

    def points_line(self) -> str:
        """`public checks passed: 4/5, points 2/2.5, bonus 1/1`. The maximum is the sheet's: without bonus
        questions, whose points come on top (the JUnit file's max_points is the same number)."""
        grade = self.grade
        auto = [c for c in grade.checks if c.status != "pending"]
        bonus = [c for q in grade.questions if q.bonus for c in q.checks]
        bonus_points = round(sum(c.points for c in bonus), 6)
        line = (f"public checks passed: {sum(c.passed for c in auto)}/{len(auto)}, "
                f"points {grade.auto_points - bonus_points:g}/{grade.max_points:g}")
        tutor = sum(c.max_points for q in grade.questions if not q.bonus for c in q.checks if c.status == "pending")
        if tutor:
            line += f" ({tutor:g} of them scored by your tutor)"
        if bonus:
            line += f", bonus {bonus_points:g}/{sum(c.max_points for c in bonus):g}"
        return line

    def markdown(self) -> str:
        """The same table as Markdown (GitHub renders it in a job summary, `$GITHUB_STEP_SUMMARY`)."""
        def cell(text: str) -> str:
            # A table cell is one line, | would end it early, and <...> in a message (a repr) is not HTML.
            text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\\", "\\\\")
            return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")

        icons = {"passed": "✅ passed", "failed": "❌ failed", "error": "⚠️ error", "pending": "👩‍🏫 tutor"}
        lines = [f"### {cell(self.grade.sheet)}: public checks for {cell(Path(self.grade.source).name)}", "",
                 "| question | check | points | verdict | message |", "| --- | --- | --- | --- | --- |"]
        for question in self.grade.questions:
            for check in question.checks:
                message = check.message + "".join(f"\nhint: {h}" for h in check.hints)
                lines.append(f"| {cell(question.question_id)} | {cell(check.check_id)} | "
                             f"{_points(check)} | {icons.get(check.status, check.status)} | "
                             f"{cell(message)} |")
        lines += ["", f"**{self.points_line()}**"]
        for _, line in self.after_checks():
            lines += ["", cell(line)]
        return "\n".join(lines) + "\n"


def _points(check) -> str:
    """A check's points; a tutor's part is "–/1": waiting, not lost."""
    return f"–/{check.max_points:g}" if check.status == "pending" else f"{check.points:g}/{check.max_points:g}"


def run_self_check(path: Path, *, sheet: str, course: Path = Path("."), released: Path | None = None,
                   checks: PublicChecks | None = None) -> SelfCheckOutcome:
    """Run the public checks on one hand-in. `checks` (from load_public_checks) skips planning them again."""
    path = Path(path)
    if not path.exists():
        raise SelfCheckError(f"{path}: no such file")
    checks = checks or load_public_checks(sheet, course=Path(course), released=released)
    questions, plans, execution, not_run = checks.questions, checks.plans, checks.execution, checks.not_run
    sandbox = find_sandbox(require=False)
    protections_off = [name for name, on in sandbox.protections().items() if not on]
    with tempfile.TemporaryDirectory(prefix="grader-check-") as tmp:
        notes: list[str] = []
        main, files_dir = _prepare(path, Path(tmp), notes)
        grade = grade_file(main, questions, plans, sheet=sheet, sandbox=sandbox,
                           settings=execution_settings(execution), files_dir=files_dir)
        _paths_inside_hand_in(grade, notes, files_dir)
    if grade.error:  # the zip's main-file sentence says "was graded": not so
        notes = [chosen_but_not_graded(note) for note in notes]
    notes.extend(grade.notes)  # e.g. stored outputs dropped
    return SelfCheckOutcome(grade=grade, protections_off=protections_off, not_run=not_run, notes=notes)


def _paths_inside_hand_in(grade: SubmissionGrade, notes: list[str], files_dir: Path) -> None:
    """Messages name the student's files as they are in their folder, not by the temporary copy's path."""
    def local(text: str) -> str:
        return as_in_hand_in(text, [files_dir])

    notes[:] = [local(note) for note in notes]
    grade.notes[:] = [local(note) for note in grade.notes]
    if grade.error:
        grade.error = local(grade.error)
    for check in grade.checks:
        check.message = local(check.message)
    for cell in grade.failed_cells:
        cell.error = local(cell.error) if cell.error else cell.error


def load_public_checks(sheet: str, *, course: Path = Path("."), released: Path | None = None) -> PublicChecks:
    """The public checks of `sheet`: from a released rubric, else from the course's rubric (planned here)."""
    course = Path(course)
    if released is None:
        try:
            rubric_path = find_rubric(sheet, course)
        except FileNotFoundError:
            candidates = [course / f"{sheet}.public.json", Path(f"{sheet}.public.json")]
            released = next((c for c in candidates if c.exists()), None)
            if released is None:
                raise SelfCheckError(f"no rubric for {sheet!r}: neither {course / 'rubrics'} nor a released "
                                     f"{sheet}.public.json here; pass --course or --rubric") from None
        else:
            try:
                loaded = load_rubric(rubric_path, course_root=course)
            except RubricError as exc:
                raise SelfCheckError(str(exc)) from None
            return public_checks(loaded)
    try:
        release = load_released(released)
    except ValueError as exc:
        raise SelfCheckError(str(exc)) from None
    if release.sheet != sheet:
        raise SelfCheckError(f"{released} is the rubric of {release.sheet!r}, not {sheet!r}")
    return release


def _prepare(path: Path, tmp: Path, notes: list[str]) -> tuple[Path, Path]:
    """The file to run and the folder of files it may read, copied so the student's folder stays untouched."""
    files = tmp / "files"
    if path.suffix.lower() == ".zip":
        try:
            extracted = extract_submission(path, files)
        except IntakeError as exc:
            raise SelfCheckError(f"{path.name}: {exc.message}") from None
        if extracted.main_file is None:
            raise SelfCheckError(f"{path.name}: {extracted.main_file_reason}")
        notes.append(extracted.main_file_reason)
        return files / extracted.main_file, files
    files.mkdir()
    siblings = [p for p in path.parent.iterdir() if p.is_file()]
    if sum(p.stat().st_size for p in siblings) <= MAX_SIBLING_BYTES and len(siblings) <= 200:
        for sibling in siblings:
            shutil.copy2(sibling, files / sibling.name)
    else:
        shutil.copy2(path, files / path.name)
        notes.append(f"the folder of {path.name} is large; only the notebook itself was copied for the run")
    return files / path.name, files

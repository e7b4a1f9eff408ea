"""`grader similarity OUT`: the report over a graded sheet, and the tutors' clearances of flagged pairs.

    outcome = similarity_command(Path("out/sheet02"), sheet="sheet02")
    print("\\n".join(outcome.lines))

A clearance (`--clear A B`) is stored in the gradebook with the tutor, the comment and both hand-ins'
contents; it holds in every later report (and every rerun of `grader grade`) until one of the two hand-ins is
uploaded again with other content, and `--restore A B` takes it back. Either way the report and the batch's
outputs are made again, so gradebook.csv and summary.html show the pair's new state at once.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from grader.store.gradebook import Gradebook, GradebookError
from grader.reports.outputs import write_outputs
from grader.rubric.load import LoadedRubric, RubricError, load_sheet
from grader.reports.similarity_section import questions_text
from grader.commands.similarity.report import SimilaritySettings
from grader.commands.similarity.run import SimilarityError, SimilarityOutcome, report_for_sheet


class SimilarityCommandError(Exception):
    """A usage problem (no gradebook, no such sheet or pair); the message says what to do."""


@dataclass
class CommandOutcome:
    outcome: SimilarityOutcome
    lines: list[str] = field(default_factory=list)


def similarity_command(out: Path, *, sheet: str | None = None, course: Path = Path("."), db: Path | None = None,
                       threshold: float = SimilaritySettings.threshold, shared: list[Path] | None = None,
                       clear: tuple[str, str] | None = None, restore: tuple[str, str] | None = None,
                       comment: str = "", tutor: str | None = None, workers: int | None = None,
                       now: datetime | None = None) -> CommandOutcome:
    out = Path(out)
    db_path = Path(db) if db is not None else out / "gradebook.db"
    if not db_path.is_file():
        raise SimilarityCommandError(f"{db_path}: no gradebook here; run `grader grade ... --out {out}` first, or "
                                     "name the gradebook with --db")
    if clear and restore:
        raise SimilarityCommandError("--clear and --restore together: give one of them")
    try:
        book = Gradebook.open(db_path)
    except GradebookError as exc:
        raise SimilarityCommandError(str(exc)) from None
    lines: list[str] = []
    with book:
        sheet = _sheet(book, sheet, db_path)
        loaded = _rubric(sheet, course)
        decision = clear or restore
        if decision is not None:
            names = _hand_in_names(book, sheet, decision)
            try:
                book.clear_similar_pair(sheet, *names, tutor=tutor or _login(), comment=comment,
                                        cleared=clear is not None)
            except KeyError as exc:
                raise SimilarityCommandError(str(exc.args[0])) from None
            lines.append(f"{'cleared' if clear else 'flagged again'}: {names[0]} and {names[1]}")
        settings = replace(SimilaritySettings(), threshold=threshold)
        try:
            outcome = report_for_sheet(book, loaded, out, settings=settings, extra_shared=list(shared or []),
                                       workers=workers, now=now, out_hint=str(out))
        except SimilarityError as exc:
            raise SimilarityCommandError(str(exc)) from None
        written = write_outputs(book.results(sheet), loaded, out, now=now or datetime.now(UTC),
                                similarity=outcome.state)
    report, state = outcome.report, outcome.state
    cleared = sum(p.cleared for p in state.pairs)
    lines.append(f"{sheet}: {len(report.hand_ins)} hand-ins, {report.candidate_pairs} of {report.all_pairs} pairs "
                 f"compared in {report.seconds:.1f} s; {len(state.pairs) - cleared} pairs flagged (score >= "
                 f"{threshold:g})" + (f", {cleared} cleared" if cleared else ""))
    for pair in [p for p in state.pairs if not p.cleared][:5]:
        lines.append(f"  {pair.score:.2f}  {pair.file_a}  ~  {pair.file_b}  (code {pair.code_score:.2f}, written "
                     f"answers {pair.prose_score:.2f}{questions_text(pair.questions, '; ')})")
    unreadable = sum(bool(notes) for notes in report.notes.values())
    if unreadable:
        lines.append(f"{unreadable} hand-in{'s' if unreadable > 1 else ''} could not be compared in full: see "
                     "the report's last section")
    lines.append(f"wrote {outcome.written[0]} and {outcome.written[1]}; rebuilt {len(written)} output files")
    return CommandOutcome(outcome=outcome, lines=lines)


def _sheet(book: Gradebook, sheet: str | None, db_path: Path) -> str:
    sheets = sorted({row["sheet"] for row in book.runs()})
    if sheet is not None:
        if not book.results(sheet):
            raise SimilarityCommandError(f"{db_path}: no graded hand-ins for {sheet}"
                                         + (f" (it has {', '.join(sheets)})" if sheets else ""))
        return sheet
    if len(sheets) == 1:
        return sheets[0]
    if not sheets:
        raise SimilarityCommandError(f"{db_path}: no graded hand-ins yet")
    raise SimilarityCommandError(f"{db_path} holds several sheets ({', '.join(sheets)}): choose one with --sheet")


def _rubric(sheet: str, course: Path) -> LoadedRubric:
    try:
        # Not resolved: the report needs the rubric's questions, names and files, not the course's code.
        return load_sheet(sheet, Path(course), resolve=False)
    except (FileNotFoundError, RubricError) as exc:
        raise SimilarityCommandError(f"{exc} (the course folder is --course, default: the current folder)") from None


def _hand_in_names(book: Gradebook, sheet: str, given: tuple[str, str]) -> tuple[str, str]:
    """The gradebook's file names for two hand-ins given by file name or by output folder."""
    records = [r.record for r in book.results(sheet)]
    names = []
    for name in given:
        match = next((r.file_name for r in records if name in (r.file_name, r.folder)), None)
        if match is None:
            raise SimilarityCommandError(f"no graded hand-in {name!r} for {sheet}; give its file name as in "
                                         "gradebook.csv (the hand_in column)")
        names.append(match)
    if names[0] == names[1]:
        raise SimilarityCommandError("--clear/--restore need two different hand-ins")
    return names[0], names[1]


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "a tutor"

"""The `grader` command: a thin shell over the library functions that the tests call directly."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape

from grader.commands.selfcheck import SelfCheckError, run_self_check

if TYPE_CHECKING:
    from grader.intake.deadline import Deadline

# rich_markup_mode=None: click's own help layout, which wraps the help text and never cuts an option's name
# (typer's rich panels shorten long names to fit narrow terminals: "--unsafe-no-sandb…").
app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Grade deep-learning exercise sheets: self-checks for students, batches for tutors.")
console = Console()


def _version(value: bool) -> None:
    if value:
        from grader import DISTRIBUTION, __version__

        console.print(f"grader {__version__} (the {DISTRIBUTION} package)", highlight=False)
        raise typer.Exit(0)


@app.callback()
def _commands(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                           help="Show the version and exit.")) -> None:
    """Grade deep-learning exercise sheets: self-checks for students, batches for tutors."""


@app.command()
def check(
    path: Path = typer.Argument(..., help="A notebook (.ipynb), a script (.py) or a zip hand-in."),
    sheet: str = typer.Option(..., "--sheet", help="Sheet id, e.g. sheet02."),
    course: Path = typer.Option(Path("."), "--course", help="Course folder with rubrics/ and reference/."),
    rubric: Optional[Path] = typer.Option(None, "--rubric", help="A released rubric file (<sheet>.public.json)."),
    junit: Optional[Path] = typer.Option(None, "--junit", help="Also write the checks as JUnit XML to this file."),
    summary: Optional[Path] = typer.Option(None, "--summary", help="Also append the table as Markdown to this file "
                                           "(e.g. \"$GITHUB_STEP_SUMMARY\")."),
) -> None:
    """Run the public checks on your hand-in and show what passes. Exit 0 when all pass, 1 otherwise."""
    try:
        outcome = run_self_check(path, sheet=sheet, course=course, released=rubric)
    except SelfCheckError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    outcome.print(console)
    if junit is not None:
        from grader.reports.junit import write_junit

        console.print(f"wrote {write_junit(outcome.grade, junit, suite_name=f'{sheet}: {Path(path).name}')}")
    if summary is not None:
        with summary.open("a", encoding="utf-8") as handle:  # append: a job summary collects several steps
            handle.write(outcome.markdown())
    raise typer.Exit(0 if outcome.all_public_passed else 1)


@app.command()
def release(
    out: Path = typer.Argument(..., help="Folder to write the student bundle into."),
    sheet: str = typer.Option(..., "--sheet", help="Sheet id, e.g. sheet02."),
    course: Path = typer.Option(Path("."), "--course", help="Course folder with rubrics/ and reference/."),
    install: Optional[str] = typer.Option(None, "--install", metavar="REQUIREMENT",
                                          help="What the bundle's README tells students to pip-install (default: "
                                          "this grader's package and version, e.g. sheet-grader==0.1.0)."),
) -> None:
    """Build what students get: template notebook, public rubric with expected values, README."""
    from grader.commands.release import build_release
    from grader.rubric.load import RubricError, load_sheet

    try:
        loaded = load_sheet(sheet, course)
    except (FileNotFoundError, RubricError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        written = build_release(loaded, out, install=install)
    except ValueError as exc:
        _usage_error(str(exc))
    for path in written:
        console.print(f"wrote {path}")


@app.command()
def selftest(
    sheet: str = typer.Option(..., "--sheet", help="Sheet id, e.g. sheet02."),
    course: Path = typer.Option(Path("."), "--course", help="Course folder with rubrics/ and reference/."),
) -> None:
    """Prove a rubric: the master scores every automatic point, the template none, every mutant is caught.

    Exit 0 when it holds, 1 with each problem (a mutant that passes is named), 2 on a usage error."""
    from grader.execution.sandbox import find_sandbox
    from grader.commands.mutants import load_mutants
    from grader.rubric.notebooks import MarkupError
    from grader.rubric.load import RubricError, load_sheet
    from grader.commands.selftest import mutants_path, run_selftest

    try:
        loaded = load_sheet(sheet, course)
        mutants = load_mutants(mutants_path(loaded))  # ValueError names the file and the problem
    except (FileNotFoundError, RubricError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    sandbox = find_sandbox(require=False)
    try:
        report = run_selftest(loaded, sandbox, mutants)
    except MarkupError as exc:  # a mutant that does not fit the master: a bug in the mutants file
        console.print(f"[red]problem:[/red] {mutants_path(loaded)}: {exc}")
        raise typer.Exit(1) from None
    off = [name for name, on in sandbox.protections().items() if not on]
    if off:
        console.print(f"[yellow]sandbox:[/yellow] {sandbox.name}; protections off: {', '.join(off)}")
    for line in report.lines:
        console.print(line, markup=False, highlight=False)
    for problem in report.problems:
        console.print(f"[red]problem:[/red] {escape(problem)}", highlight=False)
    console.print(f"selftest {report.sheet}: " + ("ok" if report.ok else f"{len(report.problems)} problem(s)"))
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def grade(
    hand_ins: Path = typer.Argument(..., metavar="HAND_INS", help="A folder of hand-ins (zips, notebooks, scripts; "
                                    "manifest.csv beside them is read), or one hand-in file."),
    sheet: str = typer.Option(..., "--sheet", help="Sheet id, e.g. sheet02."),
    out: Path = typer.Option(..., "--out", help="Output folder: gradebook, CSV, per-hand-in results, summary."),
    course: Path = typer.Option(Path("."), "--course", help="Course folder with rubrics/ and reference/."),
    jobs: Optional[int] = typer.Option(None, "--jobs", min=1, help="Hand-ins graded at once (default: one per core)."),
    force: bool = typer.Option(False, "--force", help="Regrade hand-ins whose file and rubric are unchanged."),
    db: Optional[Path] = typer.Option(None, "--db", help="Gradebook file (default: OUT/gradebook.db)."),
    manifest: Optional[Path] = typer.Option(None, "--manifest", help="CMS manifest CSV with hand-in times "
                                            "(default: manifest.csv beside the hand-ins, if present)."),
    times: str = typer.Option("manifest", "--times", metavar="manifest|mtime",
                              help="Hand-in times without a manifest row: 'manifest' leaves them unknown (flagged, no "
                              "late penalty); 'mtime' takes the file's modification date instead."),
    deadline: Optional[str] = typer.Option(None, "--deadline", metavar="'YYYY-MM-DD HH:MM [ZONE]'",
                                           help="Deadline instead of the rubric's, e.g. '2025-02-05 23:59' (in the "
                                           "rubric's time zone unless a zone name follows)."),
    unsafe_no_sandbox: bool = typer.Option(False, "--unsafe-no-sandbox",
                                           help="Grade even when bubblewrap cannot run (weaker isolation)."),
    junit: Optional[Path] = typer.Option(None, "--junit", help="Also write JUnit XML: one test suite per hand-in "
                                         "of the gradebook, one test case per check."),
    warm: bool = typer.Option(True, "--warm/--no-warm", help="Fork each hand-in's worker from a warm sandboxed "
                              "parent that has imported numpy/torch (default), or start a cold sandbox per hand-in."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", envvar="GRADER_SCHEDULER", metavar="ADDRESS",
                                            help="Grade on the workers of a running Dask cluster, e.g. "
                                            "tls://grading-head:8786 (docs/cluster.md)."),
    scheduler_timeout: float = typer.Option(20.0, "--scheduler-timeout", min=0.1, metavar="SECONDS",
                                            help="How long to try to reach the Dask scheduler and a worker."),
    insecure: bool = typer.Option(False, "--insecure", help="Allow a plain tcp:// scheduler that is not on this "
                                  "machine (anyone who reaches it can run code on the workers)."),
    tls_ca_file: Optional[Path] = typer.Option(None, "--tls-ca-file", envvar="GRADER_TLS_CA_FILE",
                                               help="The cluster's CA certificate (PEM), for tls://."),
    tls_cert: Optional[Path] = typer.Option(None, "--tls-cert", envvar="GRADER_TLS_CERT",
                                            help="This client's certificate (PEM), for tls://."),
    tls_key: Optional[Path] = typer.Option(None, "--tls-key", envvar="GRADER_TLS_KEY",
                                           help="This client's private key (PEM), unless it is in --tls-cert."),
) -> None:
    """Grade a folder of hand-ins (or one) in parallel; resumes where a stopped run ended.

    Exit 0, 2 on a usage error (no hand-ins, no rubric, no sandbox, no cluster), 130 if interrupted, 1 if the
    cluster's scheduler was lost midway."""
    from grader.cluster.address import ClusterOptions, TlsFiles
    from grader.commands.batch import BatchError, BatchOptions, run_batch

    if times not in ("manifest", "mtime"):
        _usage_error(f"--times {times!r}: give 'manifest' (times only from the manifest) or 'mtime' (file dates "
                     "where the manifest has no row)")
    try:
        override = _deadline_option(deadline, sheet, course) if deadline is not None else None
        cluster = None
        if scheduler:
            if (tls_ca_file is None) != (tls_cert is None):
                raise BatchError("--tls-ca-file and --tls-cert go together (and --tls-key unless the key is in the "
                                 "certificate file)")
            tls = TlsFiles(tls_ca_file, tls_cert, tls_key) if tls_ca_file and tls_cert else None
            cluster = ClusterOptions(scheduler, tls=tls, insecure=insecure, connect_timeout=scheduler_timeout)
        options = BatchOptions(hand_ins=hand_ins, sheet=sheet, out=out, course=course, jobs=jobs, force=force, db=db,
                               manifest=manifest, times=times, deadline=override,  # type: ignore[arg-type]
                               unsafe_no_sandbox=unsafe_no_sandbox, warm=warm, cluster=cluster)
        summary = run_batch(options, console=console)
    except BatchError as exc:
        _usage_error(str(exc))
    if summary.protections_off:
        console.print(f"[yellow]sandbox:[/yellow] {summary.sandbox}, without bubblewrap; protections off: "
                      + ", ".join(summary.protections_off))
    retimed = f", new hand-in time or lateness for {len(summary.retimed)}" if summary.retimed else ""
    console.print(f"graded {len(summary.graded)}, skipped {len(summary.skipped)} (unchanged{retimed}), "
                  f"with errors {len(summary.failed)}; gradebook {summary.db_path}; summary {out / 'summary.html'}",
                  highlight=False)
    if summary.unknown_times:
        console.print(f"[yellow]hand-in time unknown:[/yellow] {len(summary.unknown_times)} hand-in(s) have no row in "
                      "a CMS manifest, so no late penalty was applied to them (flag time_unknown). Give the manifest "
                      "with --manifest (grading it later changes only their lateness), or --times mtime to take the "
                      "files' modification dates.", highlight=False)
    if summary.similar_pairs:
        console.print(f"similar hand-ins: {summary.similar_pairs} pairs flagged for a tutor to judge "
                      f"({out / 'similarity.html'})")
    if junit is not None:
        console.print(f"wrote {_write_batch_junit(summary.db_path, sheet, junit)}")
    if summary.lost:
        console.print(f"[red]cluster lost:[/red] {escape(summary.lost)}; what was graded is stored: run the same "
                      "command again to grade the rest", highlight=False)
        raise typer.Exit(1)
    if summary.interrupted:
        console.print("[yellow]interrupted:[/yellow] run the same command again to grade the rest")
        raise typer.Exit(130)


def _usage_error(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(2)


def _deadline_option(text: str, sheet: str, course: Path) -> Deadline:
    """--deadline's text as a Deadline, in the rubric's time zone unless the text names one."""
    from grader.commands.batch import BatchError
    from grader.intake.deadline import parse_deadline
    from grader.rubric.load import RubricError, load_sheet

    try:
        zone = load_sheet(sheet, course, resolve=False).rubric.deadline.time_zone
    except (FileNotFoundError, RubricError):
        zone = "Europe/Berlin"  # the batch reports the missing rubric itself
    try:
        return parse_deadline(text, zone)
    except ValueError as exc:
        raise BatchError(f"--deadline: {exc}") from None


def _write_batch_junit(db_path: Path, sheet: str, path: Path) -> Path:
    """Every hand-in's latest grading in the gradebook (also the unchanged ones this run skipped) as JUnit XML."""
    from grader.store.gradebook import Gradebook
    from grader.scoring.sheet import SubmissionGrade
    from grader.reports.junit import write_junit_many

    with Gradebook.open(db_path) as book:
        results = book.results(sheet)
    grades = [(r.record.file_name, SubmissionGrade(sheet=r.record.sheet, source=r.record.file_name,
                                                   questions=r.record.questions, max_points=r.record.max_points,
                                                   error=r.record.error))
              for r in results]
    return write_junit_many(grades, path, name=f"grader grade {sheet}")


@app.command()
def similarity(
    out: Path = typer.Argument(..., help="The `grader grade --out` folder (gradebook and unpacked hand-ins)."),
    sheet: Optional[str] = typer.Option(None, "--sheet", help="Sheet id (default: the gradebook's only sheet)."),
    course: Path = typer.Option(Path("."), "--course", help="Course folder with rubrics/ and reference/."),
    db: Optional[Path] = typer.Option(None, "--db", help="Gradebook file (default: OUT/gradebook.db)."),
    threshold: float = typer.Option(0.5, "--threshold", min=0.01, max=1.0,
                                    help="Flag pairs scoring at least this (0-1)."),
    shared: list[Path] = typer.Option([], "--shared", help="A file every group was given (starter code, the "
                                      "sheet as text): not evidence. Repeat for several."),
    clear: Optional[tuple[str, str]] = typer.Option(None, "--clear", metavar="A B",
                                                    help="Clear the flagged pair A, B (hand-in file names) after "
                                                    "looking; holds while both hand-ins are unchanged."),
    restore: Optional[tuple[str, str]] = typer.Option(None, "--restore", metavar="A B",
                                                      help="Take a clearance back: the pair is flagged again."),
    comment: str = typer.Option("", "--comment", help="Why the pair was cleared (with --clear)."),
    tutor: Optional[str] = typer.Option(None, "--tutor", help="Your name for a clearance (default: your login)."),
) -> None:
    """Pairs of hand-ins that share code or written answers, for a tutor to judge (never changes a grade).

    Writes OUT/similarity.html and OUT/similarity.csv, flags both hand-ins of a pair `similar_to` in the gradebook
    and rebuilds gradebook.csv and summary.html."""
    from grader.commands.similarity.command import SimilarityCommandError, similarity_command

    try:
        outcome = similarity_command(out, sheet=sheet, course=course, db=db, threshold=threshold, shared=shared,
                                     clear=clear, restore=restore, comment=comment, tutor=tutor)
    except SimilarityCommandError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    for line in outcome.lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command("export")
def export(
    results: Path = typer.Argument(..., help="The `grader grade --out` folder (its gradebook.db is read, never "
                                   "changed)."),
    file: Path = typer.Argument(..., help="The file to write (CSV)."),
    fmt: str = typer.Option(..., "--format", help="moodle, ilias, canvas or csv (docs/exports.md)."),
    assignment: Optional[str] = typer.Option(None, "--assignment", help="The grade item / assignment name in the "
                                             "course system (default: the rubric's title)."),
    students: Optional[Path] = typer.Option(None, "--students", help="The course's participant list (the "
                                            "system's own CSV export): every student gets a row."),
    missing: str = typer.Option("empty", "--missing", help="Points of a listed student without a hand-in: "
                                "empty or zero."),
    allow_pending: bool = typer.Option(False, "--allow-pending", help="Export although tutor checks are open "
                                       "(their points count 0 so far)."),
    exclude: list[str] = typer.Option([], "--exclude", help="Leave this hand-in (file name) out; repeatable."),
    pass_points: Optional[float] = typer.Option(None, "--pass-points", help="ILIAS: status passed from these "
                                                "points on, failed below."),
    sheet: Optional[str] = typer.Option(None, "--sheet", help="Sheet id (default: the one sheet in the gradebook)."),
    course: Path = typer.Option(Path("."), "--course", help="Course folder with rubrics/ and reference/."),
    db: Optional[Path] = typer.Option(None, "--db", help="Gradebook file (default: RESULTS/gradebook.db)."),
) -> None:
    """Per-student grades in the import format of Moodle, ILIAS or Canvas, or as plain CSV. Exit 2 if refused."""
    from grader.commands.export import ExportError, export_grades

    try:
        summary = export_grades(results, file, fmt=fmt.lower(), assignment=assignment, roster=students,
                                missing=missing, allow_pending=allow_pending, sheet=sheet, course=course, db=db,
                                exclude=exclude, pass_points=pass_points)
    except ExportError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    for warning in summary.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False, soft_wrap=True)
    console.print(f"wrote {escape(str(summary.path))} ({summary.format}, {summary.sheet}): {summary.rows} students, "
                  f"{summary.with_points} with a hand-in, {summary.without_hand_in} without"
                  + (f"; roster read as {summary.roster_kind}" if summary.roster_kind else ""), highlight=False)
    for note in summary.notes:
        console.print(escape(note), highlight=False, soft_wrap=True)


manual_app = typer.Typer(no_args_is_help=True, help="Written answers: export them for tutors, import their scores.")
@app.command()
def review(
    out: Path = typer.Argument(..., help="The folder `grader grade --out` wrote (it holds gradebook.db)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: this machine only)."),
    port: int = typer.Option(8800, "--port", help="Port to listen on."),
    sheet: Optional[str] = typer.Option(None, "--sheet", help="Sheet id, when the gradebook holds several."),
    course: Path = typer.Option(Path("."), "--course", help="Course folder with rubrics/ and reference/."),
    db: Optional[Path] = typer.Option(None, "--db", help="The gradebook, when it is not OUT/gradebook.db."),
    tutor: list[str] = typer.Option([], "--tutor", help="A tutor's name (repeat for several; each gets a URL). "
                                    "Default: your login name."),
    head: Optional[str] = typer.Option(None, "--head", help="The head tutor, who assigns the work (default: the "
                                       "first --tutor)."),
    anonymous: bool = typer.Option(False, "--anonymous", help="Hide names and ids from every tutor."),
) -> None:
    """Grade written answers question by question in the browser, over OUT/gradebook.db (docs/review.md)."""
    from grader.commands.manual.questions import ManualError
    from grader.commands.review.command import ReviewOptions, serve

    try:
        serve(ReviewOptions(out=out, host=host, port=port, sheet=sheet, course=course, db=db, tutors=tutor,
                            head=head, anonymous=anonymous),
              say=lambda text: console.print(text, highlight=False, markup=False, soft_wrap=True))
    except ManualError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


app.add_typer(manual_app, name="manual")


@manual_app.command("export")
def manual_export(
    sheet: str = typer.Option(..., "--sheet", help="Sheet id, e.g. sheet02."),
    out: Path = typer.Option(..., "--out", help="The CSV to write (FILE.csv); FILE.html is written beside it."),
    results: Optional[Path] = typer.Option(None, "--results", help="The `grader grade --out` folder "
                                           "(default: the folder of the CSV)."),
    course: Path = typer.Option(Path("."), "--course", help="Course folder with rubrics/ and reference/."),
    db: Optional[Path] = typer.Option(None, "--db", help="Gradebook file (default: RESULTS/gradebook.db)."),
) -> None:
    """Every tutor check of every graded hand-in, question by question: answer, hint, empty points and comment."""
    from grader.commands.manual import ManualError, export_manual

    try:
        summary = export_manual(sheet, out, results_dir=results, course=course, db=db)
    except ManualError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    answers = len(summary.rows) - summary.unassigned
    loose = f", {summary.unassigned} with text assigned to no question" if summary.unassigned else ""
    console.print(f"wrote {summary.csv_path} and {summary.html_path}: {answers} answers of "
                  f"{summary.hand_ins} hand-ins, {summary.needs_human} need a human, {summary.similar_groups} "
                  f"groups of alike answers{loose}", highlight=False)


@manual_app.command("import")
def manual_import(
    file: Path = typer.Argument(..., help="The CSV written by `grader manual export`, with points filled in."),
    results: Optional[Path] = typer.Option(None, "--results", help="The `grader grade --out` folder "
                                           "(default: the folder of FILE)."),
    course: Path = typer.Option(Path("."), "--course", help="Course folder with rubrics/ and reference/."),
    db: Optional[Path] = typer.Option(None, "--db", help="Gradebook file (default: RESULTS/gradebook.db)."),
    tutor: Optional[str] = typer.Option(None, "--tutor", help="Your name for the scores (default: your login)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace scores another tutor entered after your "
                                   "export (without it, those rows are refused and listed)."),
) -> None:
    """Check every row, then store the scores and rebuild the outputs.

    Any problem in the file: nothing changes, exit 2. Rows another tutor scored since the export are refused
    (the rest is stored) and listed, exit 1."""
    from grader.commands.manual import ManualError, ManualImportError, import_manual

    try:
        summary = import_manual(file, results_dir=results, course=course, db=db, tutor=tutor, overwrite=overwrite)
    except ManualImportError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc.path))}: {len(exc.problems)} problem(s), nothing was "
                      "imported", highlight=False)
        for problem in exc.problems:
            console.print(f"  {escape(problem)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except ManualError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(f"{summary.sheet}: scored {len(summary.scored)}, unchanged {summary.unchanged}, "
                  f"not scored yet {summary.open}"
                  + (f", refused {len(summary.refused)} (scored by another tutor since your export)"
                     if summary.refused else "")
                  + (f"; rebuilt {len(summary.outputs)} output files" if summary.outputs else ""), highlight=False)
    if summary.refused:
        for message in summary.refused:
            console.print(f"  [yellow]refused:[/yellow] {escape(message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


@manual_app.command("history")
def manual_history(
    sheet: str = typer.Option(..., "--sheet", help="Sheet id, e.g. sheet02."),
    results: Path = typer.Option(Path("."), "--results", help="The `grader grade --out` folder."),
    db: Optional[Path] = typer.Option(None, "--db", help="Gradebook file (default: RESULTS/gradebook.db)."),
    hand_in: Optional[str] = typer.Option(None, "--hand-in", help="Only this hand-in (its file name)."),
) -> None:
    """Every manual score ever entered, oldest first: who, when, points, comment, and which score it replaced."""
    from grader.store.gradebook import Gradebook, GradebookError
    from grader.commands.manual import ManualError
    from grader.commands.manual.export import gradebook_path

    try:
        with Gradebook.open(gradebook_path(results, db)) as book:
            history = book.manual_history(sheet, hand_in)
    except (ManualError, GradebookError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    latest = {(s.file_name, s.question_id, s.check_id): s.id for s in history}
    for score in history:
        current = " (counts)" if latest[(score.file_name, score.question_id, score.check_id)] == score.id else ""
        seen = ("" if score.based_on is None else f", after seeing #{score.based_on}")
        comment = f' "{score.comment}"' if score.comment else ""
        console.print(f"#{score.id} {score.entered_at:%Y-%m-%d %H:%M} UTC {score.tutor}: {score.file_name} "
                      f"{score.question_id}/{score.check_id} = {score.points:g}{comment}{seen}{current}",
                      markup=False, highlight=False, soft_wrap=True)
    if not history:
        console.print(f"no manual scores for {sheet}" + (f" and {hand_in}" if hand_in else ""), highlight=False)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())

"""The `grader` command: a thin shell over the library functions that the tests call directly."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from grader.selfcheck import SelfCheckError, run_self_check

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Grade deep-learning exercise sheets: self-checks for students, batches for tutors.")
console = Console()


@app.callback()
def _commands() -> None:
    """Keeps `grader` a group of subcommands even while only one exists."""


@app.command()
def check(
    path: Path = typer.Argument(..., help="A notebook (.ipynb), a script (.py) or a zip hand-in."),
    sheet: str = typer.Option(..., "--sheet", help="Sheet id, e.g. sheet02."),
    course: Path = typer.Option(Path("."), "--course", help="Course folder with rubrics/ and reference/."),
    rubric: Optional[Path] = typer.Option(None, "--rubric", help="A released rubric file (<sheet>.public.json)."),
) -> None:
    """Run the public checks on your hand-in and show what passes. Exit 0 when all pass, 1 otherwise."""
    try:
        outcome = run_self_check(path, sheet=sheet, course=course, released=rubric)
    except SelfCheckError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    outcome.print(console)
    raise typer.Exit(0 if outcome.all_public_passed else 1)


@app.command()
def release(
    out: Path = typer.Argument(..., help="Folder to write the student bundle into."),
    sheet: str = typer.Option(..., "--sheet", help="Sheet id, e.g. sheet02."),
    course: Path = typer.Option(Path("."), "--course", help="Course folder with rubrics/ and reference/."),
) -> None:
    """Build what students get: template notebook, public rubric with expected values, README."""
    from grader.release import build_release
    from grader.rubric.load import RubricError, find_rubric, load_rubric

    try:
        loaded = load_rubric(find_rubric(sheet, course), course_root=course)
    except (FileNotFoundError, RubricError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    for path in build_release(loaded, out):
        console.print(f"wrote {path}")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())

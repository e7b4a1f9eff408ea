"""The command line as a new user meets it: --version, help that never cuts an option's name, `grader check`
readable in an 80-column terminal, and the same maximum in the table and in the JUnit file."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from importlib.metadata import version

import pytest
import typer.main
from rich.console import Console
from typer.testing import CliRunner

from grader import DISTRIBUTION, __version__
from grader.checks.plan import CheckResult
from grader.commands.cli import app
from grader.scoring.sheet import QuestionScore, SubmissionGrade
from grader.reports.junit import write_junit
from grader.commands.selfcheck import SelfCheckOutcome


def test_version_names_the_command_and_the_installed_package() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"grader {__version__} (the {DISTRIBUTION} package)"
    assert version(DISTRIBUTION) == __version__  # the installed distribution is this one


def _commands(group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    """Every command and group under `group` (click's objects; typer may bring its own copy of click)."""
    found = [(path, group)]
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found += _commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


@pytest.mark.parametrize("width", [40, 80, 120])
def test_help_never_cuts_an_option_name(width: int) -> None:
    root = typer.main.get_command(app)
    for path, command in _commands(root):
        result = CliRunner().invoke(app, [*path, "--help"], terminal_width=width)
        assert result.exit_code == 0, (path, result.output)
        assert "…" not in result.output, (path, width)
        for parameter in command.params:
            for name in (*parameter.opts, *parameter.secondary_opts):
                if name.startswith("-"):
                    assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", result.output), (path, width, name)


def _outcome() -> SelfCheckOutcome:
    long_message = ("0 of 2 cases passed.\ncase 'the sheet's example P = (0.3, 0.7), Q = (0.5, 0.5)': 1 of 1 values "
                    "differ beyond rtol=1e-05, atol=1e-06, largest difference 0.0364\n  input:    "
                    "array(shape=(2,), dtype=float64): [0.3 0.7], array(shape=(2,), dtype=float64): [0.5 0.5]\n"
                    "  expected: 0.08228287850505175\n  got:      0.11870910076930727")
    hint = ("Your values are the right ones divided by ln 2: KL is defined with the natural logarithm here "
            "(np.log / torch.log), not log2.")
    checks = {
        "1b": [CheckResult("1b", "delta-public", "function", "public", 1, 1, "passed", "all 2 cases passed")],
        "3c": [CheckResult("3c", "kl-public", "function", "public", 0, 0.5, "failed", long_message, hints=[hint])],
        "3e": [CheckResult("3e", "explanation", "manual", "public", 0, 1, "pending", "")],
        "3g": [CheckResult("3g", "closed-form-public", "function", "public", 1, 1, "passed", "all 2 cases passed")],
    }
    questions = [QuestionScore(qid, qid, sum(c.points for c in cs), sum(c.max_points for c in cs), qid == "3g", cs)
                 for qid, cs in checks.items()]
    grade = SubmissionGrade(sheet="sheet02", source="sheet02.ipynb", questions=questions,
                            max_points=sum(q.max_points for q in questions if not q.bonus))
    return SelfCheckOutcome(grade=grade, protections_off=[])


def test_check_output_fits_80_columns_and_wraps_messages_under_their_row() -> None:
    outcome = _outcome()
    console = Console(file=io.StringIO(), width=80, record=True, color_system=None)
    outcome.print(console)
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = [line for line in lines if re.match(r"^(1b|3c|3e|3g) ", line)]
    assert [row.split() for row in rows] == [["1b", "delta-public", "1/1", "passed"],
                                            ["3c", "kl-public", "0/0.5", "failed"],
                                            ["3e", "explanation", "–/1", "tutor"],
                                            ["3g", "closed-form-public", "1/1", "passed"]]
    # the message sits under its row, indented, whole: no word cut, nothing lost
    start, end = lines.index(rows[1]), lines.index(rows[2])
    under = lines[start + 1:end]
    assert under and all(line.startswith("    ") for line in under)
    check = outcome.grade.questions[1].checks[0]
    assert " ".join(" ".join(under).split()) == " ".join((check.message + " hint: " + check.hints[0]).split())
    assert "public checks passed: 2/3, points 1/2.5 (1 of them scored by your tutor), bonus 1/1" \
        in " ".join(text.split())


def test_the_junit_maximum_is_the_tables(tmp_path) -> None:
    """The sheet's maximum leaves bonus questions out (3g here); the table and the JUnit file both say so."""
    outcome = _outcome()
    table_max = re.search(r"points [\d.]+/([\d.]+)", outcome.points_line()).group(1)
    suite = ET.parse(write_junit(outcome.grade, tmp_path / "r.xml", suite_name="s")).getroot().find("testsuite")
    properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert properties["max_points"] == table_max == "2.5"
    assert (properties["points"], properties["bonus_points"], properties["bonus_max_points"]) == ("2", "1", "1")
    assert properties["pending_manual_points"] == "1"

"""The rubric's rounding rule, and `grader export` as a tutor types it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from typer.testing import CliRunner

from grader.commands.cli import app
from grader.commands.export import export_grades
from grader.commands.export.formats import FORMATS
from grader.rubric.load import RubricError, load_rubric
from grader.rubric.models import Rounding
from tests.batch.conftest import make_course
from tests.conftest import REPO
from tests.export.conftest import hand_in, made_up_out, read_back


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("step, mode, points, rounded", [
    (0.01, "half_up", 9.875, "9.88"), (0.01, "half_up", 3.745, "3.75"), (0.01, "half_up", 0.1 + 0.2, "0.3"),
    (0.5, "half_up", 3.75, "4"), (0.5, "down", 3.75, "3.5"), (0.5, "up", 3.5000000001, "3.5"),
    (1, "up", 17.01, "18"), (0.25, "down", 7.99, "7.75"), (0.01, "half_up", 0.0, "0"), (0.01, "half_up", 20, "20"),
])
def test_rounding_to_the_rubrics_step(step, mode, points, rounded):
    assert Rounding(step=step, mode=mode).apply(points) == Decimal(rounded)


def test_the_default_is_a_hundredth_half_up():
    rubric = load_rubric(REPO / "rubrics" / "sheet02.yaml", course_root=REPO, resolve=False).rubric
    assert rubric.rounding == Rounding(step=0.01, mode="half_up")


@pytest.mark.parametrize("rule, problem", [
    ("{step: 0}", "question"), ("{step: 0.00001}", "more than 4 decimal places"), ("{mode: nearest}", "mode"),
    ("{step: 0.5, per: question}", "per"),
])
def test_a_bad_rounding_rule_is_a_rubric_error_naming_the_field(tmp_path, rule, problem):
    course = make_course(tmp_path, extra_comment=f"\nrounding: {rule}\n")
    with pytest.raises(RubricError) as error:
        load_rubric(course / "rubrics" / "sheet02.yaml", course_root=course, resolve=False)
    assert "field rounding" in str(error.value)
    if problem != "question":
        assert problem in str(error.value)


def test_made_up_hidden_check_text_never_reaches_an_export(tmp_path):
    out = made_up_out(tmp_path / "out", [hand_in("A_2302001.zip", [("2302001", "Hanna Berg", "h@example.org")])])
    for fmt in FORMATS:
        text = export_grades(out, tmp_path / f"{fmt}.csv", fmt=fmt, course=REPO).path.read_text("utf-8-sig")
        assert "SECRET" not in text and "0.7310585786" not in text


def test_cli_writes_the_file_and_says_how_to_import_it(scored_out, tmp_path):
    target = tmp_path / "moodle.csv"
    result = CliRunner().invoke(app, ["export", str(scored_out), "--format", "moodle", "--assignment", "Blatt 2",
                                      str(target), "--course", str(REPO)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "14 students, 14 with a hand-in, 0 without" in flat(result.output)
    assert "map from 'ID number' to 'ID number' (useridnumber)" in flat(result.output)
    assert read_back(target)[0][2] == "ID number"


def test_cli_refuses_open_tutor_checks_and_usage_errors_with_exit_2(pending_out, tmp_path):
    runner = CliRunner()
    refused = runner.invoke(app, ["export", str(pending_out), str(tmp_path / "x.csv"), "--format", "csv",
                                  "--course", str(REPO)])
    assert refused.exit_code == 2 and "7 hand-ins not final" in flat(refused.output)
    assert "in 7 hand-ins" in flat(refused.output) and not (tmp_path / "x.csv").exists()
    allowed = runner.invoke(app, ["export", str(pending_out), str(tmp_path / "x.csv"), "--format", "csv",
                                  "--course", str(REPO), "--allow-pending"])
    assert allowed.exit_code == 0 and "warning:" in allowed.output and (tmp_path / "x.csv").exists()
    unknown = runner.invoke(app, ["export", str(pending_out), str(tmp_path / "y.csv"), "--format", "xls",
                                  "--course", str(REPO)])
    assert unknown.exit_code == 2 and "unknown format 'xls': use one of moodle, ilias, canvas, csv" in \
        flat(unknown.output)
    nowhere = runner.invoke(app, ["export", str(tmp_path / "nowhere"), str(tmp_path / "y.csv"), "--format", "csv"])
    assert nowhere.exit_code == 2 and "no gradebook here" in flat(nowhere.output)

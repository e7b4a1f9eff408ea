"""JUnit XML from graded hand-ins: one test case per check, readable by a JUnit parser and by ElementTree."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

import junitparser
import pytest

from grader.checks.plan import CheckResult
from grader.scoring.sheet import QuestionScore, SubmissionGrade, execution_settings, grade_file
from grader.rubric.plans import plan_checks
from grader.reports.junit import write_junit, write_junit_many, xml_text
from grader.rubric.load import load_rubric
from tests.ci.conftest import TOY_CELLS, run_grader
from tests.conftest import write_notebook


def cases_by_id(path) -> dict[tuple[str, str], junitparser.TestCase]:
    xml = junitparser.JUnitXml.fromfile(str(path))
    return {(case.classname, case.name): case for suite in xml for case in suite}


def test_a_real_grade_becomes_one_case_per_check(toy_course, sandbox, tmp_path):
    loaded = load_rubric(toy_course / "rubrics" / "toy.yaml")
    plans = plan_checks(loaded, frozenset({"public"}))
    notebook = write_notebook(tmp_path / "hand-in.ipynb", TOY_CELLS)
    grade = grade_file(notebook, loaded.rubric.questions, plans, sheet="toy", sandbox=sandbox,
                       settings=execution_settings(loaded.rubric.execution))
    path = write_junit(grade, tmp_path / "out" / "results.xml", suite_name="toy: hand-in.ipynb")

    cases = cases_by_id(path)
    assert sorted(cases) == sorted((c.question_id, c.check_id) for c in grade.checks)
    assert sorted(cases) == [("1", "public"), ("2", "choice"), ("2", "value"), ("3", "prose")]
    failing = cases[("1", "public")]
    assert not failing.is_passed and not failing.is_skipped
    [failure] = failing.result
    assert isinstance(failure, junitparser.Failure)
    assert "hint: You returned x unchanged: multiply by factor." in failure.text
    assert failure.message == grade.checks[0].message.splitlines()[0]
    assert cases[("2", "value")].is_passed and cases[("2", "choice")].is_passed
    manual = cases[("3", "prose")]
    assert manual.is_skipped and "scored by a tutor (1 points)" in manual.result[0].message

    suite = ET.parse(path).getroot().find("testsuite")
    assert suite.get("name") == "toy: hand-in.ipynb"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == \
        ("4", "1", "0", "1")
    suite_props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert suite_props["points"] == f"{grade.auto_points:g}" == "1"
    assert suite_props["pending_manual_points"] == "1"
    case_props = {(c.get("classname"), c.get("name")): {p.get("name"): p.get("value") for p in c.find("properties")}
                  for c in suite.iter("testcase")}
    assert case_props[("2", "value")] == {"points": "0.5", "max_points": "0.5", "kind": "value",
                                         "visibility": "public"}
    assert case_props[("1", "public")]["points"] == "0"


def hostile_grade() -> SubmissionGrade:
    """Messages as student output can make them: terminal colours, NUL, markup, a lone surrogate."""
    nasty = "got \x1b[31mred\x1b[0m\x00 <tag attr=\"x\"> & ]]> \ud800 \x0c end"
    checks = [
        CheckResult("q<1>", "a&b", "function", "public", 0, 1, "failed", nasty, hints=["hint with \x07 bell"]),
        CheckResult("q<1>", "judge", "property", "public", 0, 1, "error", "the check could not judge: \x1b"),
        CheckResult("q2", "ok", "value", "public", 1, 1, "passed", "right \x08"),
    ]
    questions = [QuestionScore("q<1>", "one", 0, 2, False, checks[:2]), QuestionScore("q2", "two", 1, 1, False,
                                                                                      checks[2:])]
    return SubmissionGrade(sheet="s\x01", source="/tmp/x/hand\x1bin.ipynb", questions=questions, max_points=3,
                           error=None)


def test_control_characters_and_markup_from_student_output_keep_the_xml_valid(tmp_path):
    path = write_junit(hostile_grade(), tmp_path / "r.xml", suite_name="suite \x1b")
    raw = path.read_bytes()
    assert b"\x1b" not in raw and b"\x00" not in raw and b"\x07" not in raw
    root = ET.parse(path).getroot()  # would raise on an invalid character
    case = next(c for c in root.iter("testcase") if c.get("name") == "a&b")
    assert case.get("classname") == "q<1>"
    failure = case.find("failure")
    assert failure.text == ("got \\x1b[31mred\\x1b[0m\\x00 <tag attr=\"x\"> & ]]> \\ud800 \\x0c end"
                            "\nhint: hint with \\x07 bell")
    assert failure.get("message") == "got \\x1b[31mred\\x1b[0m\\x00 <tag attr=\"x\"> & ]]> \\ud800 \\x0c end"
    error = next(c for c in root.iter("testcase") if c.get("name") == "judge").find("error")
    assert error is not None and error.get("type") == "error" and error.text.endswith("\\x1b")

    cases = cases_by_id(path)
    assert isinstance(cases[("q<1>", "judge")].result[0], junitparser.Error)
    assert cases[("q2", "ok")].is_passed


@pytest.mark.parametrize("text, expected", [("a\tb\nc\r", "a\tb\nc\r"), ("\x00", "\\x00"), ("\ufffe", "\\ufffe"),
                                            ("é ∑ 😀", "é ∑ 😀")])
def test_xml_text_keeps_what_xml_holds(text, expected):
    assert xml_text(text) == expected


def test_several_hand_ins_are_one_suite_each(tmp_path):
    grade = hostile_grade()
    blank = SubmissionGrade(sheet="s", source="b.ipynb", questions=[], max_points=0, error="no notebook found")
    path = write_junit_many([("team-a.zip", grade), ("team-b.zip", blank)], tmp_path / "batch.xml", name="batch")
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = {suite.name: suite for suite in xml}
    assert list(suites) == ["team-a.zip", "team-b.zip"]
    assert (suites["team-a.zip"].tests, suites["team-a.zip"].failures, suites["team-a.zip"].errors) == (3, 1, 1)
    assert suites["team-b.zip"].tests == 0
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "3" and root.get("failures") == "1"
    blank_props = {p.get("name"): p.get("value") for p in root.findall("testsuite")[1].find("properties")}
    assert blank_props["error"] == "no notebook found"


def test_grader_check_writes_junit_and_appends_a_markdown_table(toy_course, toy_notebook):
    repo = toy_notebook.parent
    summary = repo / "summary.md"
    summary.write_text("# earlier step\n", encoding="utf-8")
    for _ in range(2):
        result = run_grader("check", toy_notebook.name, "--sheet", "toy", "--course", str(toy_course),
                            "--junit", "out/results.xml", "--summary", str(summary), cwd=repo)
        assert result.returncode == 1, result.stdout + result.stderr  # question 1 fails
    cases = cases_by_id(repo / "out" / "results.xml")
    assert not cases[("1", "public")].is_passed and cases[("2", "value")].is_passed
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# earlier step\n") and text.count("| question | check | points | verdict |") == 2
    row = next(line for line in text.splitlines() if line.startswith("| 1 | public |"))
    assert "0/1" in row and "failed" in row and "hint: You returned x unchanged" in row and "\n" not in row
    # the public written-answer check's point is part of the maximum, as in the JUnit file's max_points
    assert "public checks passed: 2/3, points 1/3 (1 of them scored by your tutor)" in text
    suite = ET.parse(repo / "out" / "results.xml").getroot().find("testsuite")
    assert {p.get("name"): p.get("value") for p in suite.find("properties")}["max_points"] == "3"


def test_grader_grade_writes_one_suite_per_hand_in(toy_course, tmp_path):
    hand_ins = tmp_path / "hand-ins"
    write_notebook(hand_ins / "toy_Ann-Example_Bo-Sample.ipynb", TOY_CELLS)
    write_notebook(hand_ins / "toy_Cy-Example_Di-Sample.ipynb", ["import numpy as np\ndef scale(x, factor):\n"
                                                                "    return x * factor", "answer = 41"])
    shutil.copy(hand_ins / "toy_Ann-Example_Bo-Sample.ipynb", hand_ins / "toy_Ed-Example_Flo-Sample.ipynb")
    result = run_grader("grade", str(hand_ins), "--sheet", "toy", "--course", str(toy_course), "--out", "out",
                        "--junit", "grade.xml", "--jobs", "2", "--unsafe-no-sandbox", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    xml = junitparser.JUnitXml.fromfile(str(tmp_path / "grade.xml"))
    suites = {suite.name: suite for suite in xml}
    assert sorted(suites) == ["toy_Ann-Example_Bo-Sample.ipynb", "toy_Cy-Example_Di-Sample.ipynb",
                              "toy_Ed-Example_Flo-Sample.ipynb"]
    # the tutors' view: hidden checks too, one case per check of the rubric
    second = {(c.classname, c.name): c for c in suites["toy_Cy-Example_Di-Sample.ipynb"]}
    assert sorted(second) == [("1", "hidden"), ("1", "public"), ("2", "choice"), ("2", "value"), ("3", "prose")]
    assert second[("1", "hidden")].is_passed and not second[("2", "value")].is_passed
    assert second[("3", "prose")].is_skipped

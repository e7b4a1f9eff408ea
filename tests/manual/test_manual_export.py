"""What `grader manual export` shows tutors: question by question, alike answers together, scans flagged."""

from __future__ import annotations

import csv
import html
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.commands.cli import app
from grader.commands.manual import COLUMNS, ExportSummary, export_manual
from grader.rubric.model_answers import load_model_answers
from grader.rubric.load import load_rubric
from tests.conftest import REPO
from tests.manual.conftest import (
    ANSWER_3D,
    BROKEN,
    FULL,
    NEAR_COPY,
    PDF_ONLY,
    SAME_AS_FULL,
    SCANNED,
    db_state,
    read_rows,
)

HAND_INS = {FULL, SAME_AS_FULL, PDF_ONLY, BROKEN, NEAR_COPY, SCANNED}


@pytest.fixture(scope="module")
def export(graded_out: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ExportSummary, list[dict[str, str]]]:
    """One export of the session's batch (written outside OUT, which stays untouched)."""
    target = tmp_path_factory.mktemp("export") / "manual-sheet02.csv"
    before = db_state(graded_out / "gradebook.db")
    summary = export_manual("sheet02", target, results_dir=graded_out, course=REPO)
    assert db_state(graded_out / "gradebook.db") == before  # exporting reads the gradebook only
    return summary, read_rows(target)


def _rows(rows: list[dict[str, str]], question: str) -> list[dict[str, str]]:
    return [r for r in rows if r["question"] == question]


def test_rows_go_question_by_question_across_all_hand_ins(export) -> None:
    summary, rows = export
    assert list(rows[0]) == COLUMNS
    rubric = load_rubric(REPO / "rubrics" / "sheet02.yaml", course_root=REPO).rubric
    manual = [(q.id, c.id, c.points) for q in rubric.questions for c in q.checks if c.kind == "manual"]
    order = list(dict.fromkeys((r["question"], r["check"]) for r in rows))
    assert order == [(q, c) for q, c, _ in manual]  # each question's rows together, in rubric order
    for question, check, points in manual:
        mine = [r for r in rows if (r["question"], r["check"]) == (question, check)]
        assert sorted(r["hand_in"] for r in mine) == sorted(HAND_INS)
        assert {r["max_points"] for r in mine} == {f"{points:g}"}
    assert all(r["sheet"] == "sheet02" and r["points"] == "" and r["comment"] == "" for r in rows)
    assert summary.hand_ins == len(HAND_INS) and len(summary.rows) == len(rows)
    # 1c's choice is checked automatically: the tutor sees its result beside the explanation.
    assert _rows(rows, "1c")[0]["automatic"].startswith("yes-no: ")


def test_near_identical_answers_are_grouped_and_adjacent(export) -> None:
    _, rows = export
    one_a = _rows(rows, "1a")
    by_name = {r["hand_in"]: r for r in one_a}
    group = by_name[FULL]["similar_group"]
    assert group and by_name[SAME_AS_FULL]["similar_group"] == group and by_name[NEAR_COPY]["similar_group"] == group
    assert by_name[NEAR_COPY]["answer"] != by_name[FULL]["answer"]  # a few words differ: still together
    assert by_name[PDF_ONLY]["similar_group"] == "" and by_name[SCANNED]["similar_group"] == ""
    members = [i for i, r in enumerate(one_a) if r["similar_group"] == group]
    assert members == list(range(members[0], members[0] + 3))
    first = one_a[members[0]]["hand_in"]
    assert one_a[members[0]]["same_answer_as"] == ""
    assert all(one_a[i]["same_answer_as"] == first for i in members[1:])


def test_hints_are_the_model_answers_key_points(export) -> None:
    _, rows = export
    answers = load_model_answers(REPO / "reference" / "answers" / "sheet02.yaml")
    total = len(answers.questions["1a"].key_points)
    by_name = {r["hand_in"]: r for r in _rows(rows, "1a")}
    assert f"covers {total} of {total} key points" in by_name[FULL]["hint"]  # the model answer itself
    assert "missing:" in by_name[PDF_ONLY]["hint"] and "words (limit 120)" in by_name[PDF_ONLY]["hint"]
    assert by_name[SCANNED]["hint"] == ""  # no text, no hint


def test_a_scanned_pdf_hand_in_needs_a_human_everywhere(export) -> None:
    _, rows = export
    scanned = [r for r in rows if r["hand_in"] == SCANNED]
    assert scanned and all(r["needs_human"] == "yes" and "scanned page" in r["reasons"] for r in scanned)
    assert all(r["answer"] == "" for r in scanned)
    broken = [r for r in rows if r["hand_in"] == BROKEN]
    assert all(r["needs_human"] == "yes" and "'sheet02.ipynb' could not be read" in r["reasons"] for r in broken)
    # The example PDF answers 1a and 3b only; its other questions are missing, not a case for a human.
    pdf = {r["question"]: r for r in rows if r["hand_in"] == PDF_ONLY}
    assert pdf["1a"]["answer"] and pdf["1a"]["source"] == "answers.pdf, page 1"
    assert pdf["2a"]["needs_human"] == "no" and "question not found" in pdf["2a"]["reasons"]


def test_answers_from_an_extra_markdown_file_and_hostile_text(export) -> None:
    summary, rows = export
    row = next(r for r in rows if r["hand_in"] == NEAR_COPY and r["question"] == "3d")
    assert row["answer"] == "'" + ANSWER_3D  # a spreadsheet shows "=1+1 ..." as text, not a formula
    assert row["source"].startswith("answers.md, line")
    full = next(r for r in rows if r["hand_in"] == FULL and r["question"] == "3d")
    assert full["answer"].startswith("A VAE's encoder outputs μ")  # the master's own 3d answer cell
    page = summary.html_path.read_text(encoding="utf-8")
    assert "<script>" not in page and html.escape(ANSWER_3D) in page


def test_every_formula_start_is_defused(export) -> None:
    summary, _ = export
    with summary.csv_path.open(encoding="utf-8-sig", newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]


def test_the_page_has_every_question_and_names_the_groups(export) -> None:
    summary, rows = export
    page = summary.html_path.read_text(encoding="utf-8")
    for question in dict.fromkeys(r["question"] for r in rows):
        assert f'id="q-{question}-' in page
    assert "Same answer in 3 hand-ins (group 1a-1)" in page
    assert page.count("Needs a human:") == sum(r["needs_human"] == "yes" for r in rows)
    assert "Model answer and key points" in page and "score is the tutor" in page


def test_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["manual", "export", "--sheet", "sheet02", "--out", str(tmp_path / "m.csv"),
                                 "--course", str(REPO)])
    assert result.exit_code == 2 and "no gradebook here" in " ".join(result.output.split())
    result = runner.invoke(app, ["manual", "export", "--sheet", "sheet99", "--out", str(tmp_path / "m.csv"),
                                 "--course", str(REPO)])
    assert result.exit_code == 2 and "sheet99" in result.output
    assert not (tmp_path / "gradebook.db").exists()

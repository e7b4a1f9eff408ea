"""One batch over a folder that mixes every case a tutor meets, graded in the real sandbox, then every output.

The folder: the sheet02 examples (full marks, partial, broken notebook, naming violation, late, PDF only)
plus a hand-in whose code kills its process, one whose cell never ends, one that allocates memory without end,
and a student named in two teams.
"""

from __future__ import annotations

import base64
import csv
import json
import math
from datetime import datetime, timedelta

import pytest

from grader.commands.batch import BatchOptions, run_batch
from grader.store.layout import folder_name
from grader.store.gradebook import Gradebook
from grader.rubric.model_answers import load_model_answers
from grader.commands.mutants import load_mutants
from grader.reports.document import to_markdown
from grader.reports.feedback import feedback_document
from grader.reports.results_json import results_json
from grader.rubric.load import load_rubric
from submissions.make_examples import ERIKA, PARTIAL_MUTANTS, Member, sheet02_examples
from tests.batch.conftest import append_manifest, examples, full_hand_in, grading_count, make_course
from tests.conftest import REPO

CELL_TIMEOUT = 4
CRASHERS = [Member("Greta Lindqvist", "2301101", "greta.lindqvist@example.org"),
            Member("Erika Mustermann", ERIKA.student_id, ERIKA.email)]  # Erika is in two teams
HOGS = [Member("Nora Lindgren", "2301105", "nora.lindgren@example.org"),
        Member("Kofi Mensah", "2301106", "kofi.mensah@example.org")]
SLEEPERS = [Member("Tomás Ferreira", "2301103", "tomas.ferreira@example.org"),
            Member("Ines Haddad", "2301104", "ines.haddad@example.org")]


@pytest.fixture(scope="module")
def graded(tmp_path_factory, sandbox):
    base = tmp_path_factory.mktemp("mixed")
    course = make_course(base / "course", cell_timeout=CELL_TIMEOUT)
    hand_ins = base / "hand-ins"
    cases = examples(hand_ins)
    cases["crash"] = full_hand_in(hand_ins, CRASHERS, "import os\nos._exit(3)")
    cases["timeout"] = full_hand_in(hand_ins, SLEEPERS, "import time\ntime.sleep(600)")
    cases["memory"] = full_hand_in(hand_ins, HOGS, "import numpy as np\nhog = [np.empty(2**27) for _ in range(200)]")
    append_manifest(hand_ins, [(cases[case].name, "2025-01-29T20:00:00+01:00") for case in ("crash", "timeout", "memory")])
    out = base / "out"
    summary = run_batch(BatchOptions(hand_ins=hand_ins, sheet="sheet02", out=out, course=course, jobs=2,
                                     unsafe_no_sandbox=sandbox.name != "bubblewrap"))
    with Gradebook.open(summary.db_path) as book:
        results = {r.record.file_name: r for r in book.results("sheet02")}
        similarity = book.similarity("sheet02")
    loaded = load_rubric(course / "rubrics" / "sheet02.yaml", course_root=course)
    return {"summary": summary, "cases": cases, "out": out, "results": results, "rubric": loaded.rubric,
            "course": course, "similarity": similarity}


def result_of(graded, case):
    return graded["results"][graded["cases"][case].name]


def flag_codes(result):
    return {flag.code for flag in result.record.flags}


def auto_checks(rubric):
    return [(q.id, c) for q in rubric.questions for c in q.checks if c.kind != "manual"]


def manual_total(rubric):
    return sum(c.points for q in rubric.questions for c in q.checks if c.kind == "manual")


def test_every_hand_in_is_graded_once_and_none_stops_the_batch(graded):
    summary = graded["summary"]
    assert sorted(summary.graded) == sorted(p.name for p in graded["cases"].values())
    assert not summary.skipped and not summary.interrupted
    with Gradebook.open(summary.db_path) as book:
        assert grading_count(book, "sheet02") == len(graded["cases"])
        assert [run["status"] for run in book.runs()] == ["finished"]


def test_full_marks_pass_every_automatic_check(graded):
    rubric, result = graded["rubric"], result_of(graded, "full")
    checks = [c for q in result.record.questions for c in q.checks]
    assert all(c.status in ("passed", "pending") for c in checks), [c for c in checks if not c.passed]
    assert result.record.auto_points == pytest.approx(sum(c.points for _, c in auto_checks(rubric)))
    assert result.manual_pending == pytest.approx(manual_total(rubric))
    assert not result.record.flags and result.record.error is None
    assert [s.email for s in result.record.students] == ["erika.mustermann@example.org",
                                                         "juergen.mueller@example.org"]


def test_partial_loses_exactly_the_checks_its_mistakes_break(graded):
    rubric, result = graded["rubric"], result_of(graded, "partial")
    mutants = {m.id: m for m in load_mutants(REPO / "rubrics" / "sheet02.mutants.yaml").mutants}
    lost = {item for mutant_id in PARTIAL_MUTANTS["sheet02"] for item in mutants[mutant_id].loses}
    for question in result.record.questions:
        for check in question.checks:
            if check.status == "pending":
                continue
            key = f"{check.question_id}/{check.check_id}"
            assert (check.points == 0) == (key in lost), (key, check.status, check.message)
    expected = sum(c.points for q_id, c in auto_checks(rubric) if f"{q_id}/{c.id}" not in lost)
    assert result.record.auto_points == pytest.approx(expected)
    public_lost = [c for q in result.record.questions for c in q.checks
                   if f"{c.question_id}/{c.check_id}" in lost and c.visibility == "public"]
    assert any(c.hints for c in public_lost), "a registered mistake should show its hint"


def test_broken_notebook_is_an_error_with_all_points_open(graded):
    rubric, result = graded["rubric"], result_of(graded, "broken")
    assert "broken_notebook" in flag_codes(result)
    assert "not a notebook" in result.record.error
    assert result.record.auto_points == 0
    assert result.manual_pending == pytest.approx(manual_total(rubric))
    assert [s.student_id for s in result.record.students] == ["2301006", "2301007"]


def test_naming_violation_is_flagged_and_still_graded(graded):
    full, result = result_of(graded, "full"), result_of(graded, "naming")
    assert "team_size" in flag_codes(result)
    assert result.record.auto_points == full.record.auto_points
    assert len(result.record.students) == 1


def test_late_hand_in_gets_the_policy_factor(graded):
    rubric, result = graded["rubric"], result_of(graded, "late")
    example = next(e for e in sheet02_examples(REPO) if e.case == "late")
    overdue = datetime.fromisoformat(example.handed_in) - rubric.deadline.instant()
    days = math.ceil(overdue / timedelta(days=1))
    factor = 1 - rubric.late_policy.penalty_per_day * days
    assert "late" in flag_codes(result) and result.record.late
    assert result.record.late_factor == pytest.approx(factor)
    assert result.total == pytest.approx(result.record.auto_points * factor)
    assert result.record.time_source == "manifest"


def test_pdf_only_has_no_notebook_but_its_team_is_read_from_the_pdf(graded):
    result = result_of(graded, "pdf_only")
    assert "no_notebook" in flag_codes(result)
    assert result.record.main_file is None and result.record.written_answers == ["answers.pdf"]
    assert result.record.auto_points == 0
    assert all(s.email and s.source == "file name and hand-in" for s in result.record.students)


def test_a_crashing_hand_in_is_flagged_and_keeps_its_points(graded):
    full, result = result_of(graded, "full"), result_of(graded, "crash")
    assert "crash" in flag_codes(result)
    assert result.record.auto_points == full.record.auto_points


def test_a_memory_blow_up_is_flagged_and_the_rest_of_the_notebook_counts(graded):
    full, result = result_of(graded, "full"), result_of(graded, "memory")
    assert "memory" in flag_codes(result)
    assert result.record.auto_points == full.record.auto_points


def test_a_hanging_cell_is_a_timeout(graded):
    result = result_of(graded, "timeout")
    assert "timeout" in flag_codes(result)
    assert any(c.status == "timeout" for c in result.record.failed_cells)


def test_student_in_two_teams_is_flagged_on_both(graded):
    out = graded["out"]
    for case in ("full", "crash"):
        data = json.loads((out / folder_name(graded["cases"][case].name) / "results.json").read_text("utf-8"))
        duplicates = [f["message"] for f in data["flags"] if f["code"] == "duplicate_student"]
        assert duplicates and ERIKA.student_id in duplicates[0]
    untouched = json.loads((out / folder_name(graded["cases"]["partial"].name) / "results.json").read_text("utf-8"))
    assert not [f for f in untouched["flags"] if f["code"] == "duplicate_student"]


def test_gradebook_csv_has_one_row_per_student_with_the_team_points(graded):
    rubric, results = graded["rubric"], graded["results"]
    with (graded["out"] / "gradebook.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == sum(len(r.record.students) for r in results.values())
    assert [q.id for q in rubric.questions] == list(rows[0])[5:5 + len(rubric.questions)]
    for row in rows:
        result = results[row["hand_in"]]
        assert float(row["total"]) == pytest.approx(result.total)
        assert float(row["manual_pending"]) == pytest.approx(result.manual_pending)
        for question in result.record.questions:
            if result.question_pending(question) and not result.question_counted_max(question):
                assert row[question.question_id] == ""  # waiting for a tutor: empty, not 0
                assert f"{question.question_id}:{result.question_pending(question):g}" in row["waiting_for_tutor"]
            else:
                assert float(row[question.question_id]) == pytest.approx(result.question_points(question))
        in_two_teams = row["hand_in"] in (graded["cases"]["full"].name, graded["cases"]["crash"].name)
        # Most of these hand-ins are the master under other names: the similarity report flags them for tutors.
        similar = bool(graded["similarity"].flagged(row["hand_in"]))
        assert set(row["flags"].split()) == {f.code for f in result.record.flags} | (
            {"duplicate_student"} if in_two_teams else set()) | ({"similar_to"} if similar else set())
    names = {row["name"] for row in rows}
    assert {"Jürgen Müller-Lüdenscheidt", "Ayşe Çelik", "Thi Nguyen"} <= names
    late_rows = [r for r in rows if r["hand_in"] == graded["cases"]["late"].name]
    assert late_rows and all(r["late"] == "yes" for r in late_rows)


def test_results_json_follows_the_gradescope_schema(graded):
    rubric = graded["rubric"]
    question_ids = [q.id for q in rubric.questions]
    for case, path in graded["cases"].items():
        data = json.loads((graded["out"] / folder_name(path.name) / "results.json").read_text("utf-8"))
        assert isinstance(data["score"], (int, float)) and isinstance(data["execution_time"], int)
        result = result_of(graded, case)
        graded_parts = [q.question_id for q in result.record.questions if result.question_counted_max(q)]
        # Questions waiting only for a tutor are no test: Gradescope would count their max_score as lost.
        assert [t["name"] for t in data["tests"]] == graded_parts
        assert set(graded_parts) < set(question_ids)
        waiting = {p["question"] for p in data["extra_data"]["pending"]}
        assert waiting == {q.question_id for q in result.record.questions if result.question_pending(q)}
        for test in data["tests"]:
            assert set(test) == {"name", "score", "max_score", "output", "visibility"}
            assert 0 <= test["score"] <= test["max_score"]
            if test["name"] in waiting:
                assert "waiting for a tutor" in test["output"]
            assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
        assert all(set(flag) == {"code", "message"} for flag in data["flags"])
        assert (data["error"] is None) == (case not in ("broken", "pdf_only")), case
        assert data["score"] == pytest.approx(result_of(graded, case).total)


def test_hidden_checks_reveal_nothing_but_their_verdict_before_the_deadline(graded):
    rubric, result = graded["rubric"], result_of(graded, "partial")
    before = rubric.deadline.instant() - timedelta(hours=1)
    feedback = to_markdown(feedback_document(result, rubric, None, now=before))
    tests = {t["name"]: t for t in results_json(result, rubric, now=before)["tests"]}
    hidden = [c for q in result.record.questions for c in q.checks
              if c.visibility == "hidden" and c.status not in ("pending", "passed")]
    assert hidden
    for check in hidden:
        assert check.message and check.message not in feedback and check.message not in tests[check.question_id]["output"]
        assert f"{check.check_id}: hidden check failed" in feedback
        assert tests[check.question_id]["visibility"] == "after_due_date"
        assert check.description not in tests[check.question_id]["output"]


def test_after_the_deadline_a_failed_hidden_check_says_what_was_checked_and_what_went_wrong(graded):
    result = result_of(graded, "partial")  # graded now, after the rubric's deadline
    folder = graded["out"] / folder_name(graded["cases"]["partial"].name)
    feedback = (folder / "feedback.md").read_text("utf-8")
    tests = {t["name"]: t for t in json.loads((folder / "results.json").read_text("utf-8"))["tests"]}
    [kl_hidden] = [c for q in result.record.questions for c in q.checks if c.check_id == "kl-hidden"]
    assert kl_hidden.status == "failed" and kl_hidden.hints
    for text in (feedback, tests["3c"]["output"]):
        assert "kl-hidden: hidden check failed" in text
        assert f"What was checked: {kl_hidden.description}" in text
        assert "hidden case 'random distributions #1'" in text and "largest difference" in text
        assert "natural logarithm" in text  # the hint of the log2 mistake
    public_failed = [c for q in result.record.questions for c in q.checks
                     if c.visibility == "public" and c.status == "failed"]
    assert all(c.message.splitlines()[0] in feedback for c in public_failed)


def test_feedback_shows_model_answers_only_after_the_deadline(graded):
    rubric, result = graded["rubric"], result_of(graded, "full")
    answers = load_model_answers(graded["course"] / rubric.model_answers)
    some = answers.questions["2a"].model_answer
    folder = graded["out"] / folder_name(graded["cases"]["full"].name)
    assert some in (folder / "feedback.md").read_text("utf-8")
    html = (folder / "feedback.html").read_text("utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Model answer" in html
    before = rubric.deadline.instant() - timedelta(hours=1)
    early = to_markdown(feedback_document(result, rubric, answers, now=before))
    assert some not in early and "after the deadline" in early
    late_result = result_of(graded, "late")
    text = (graded["out"] / folder_name(graded["cases"]["late"].name) / "feedback.md").read_text("utf-8")
    assert late_result.record.lateness_message in text and "CMS manifest" in text


def test_summary_puts_flagged_hand_ins_first_and_embeds_the_charts(graded):
    html = (graded["out"] / "summary.html").read_text("utf-8")
    everything = html[html.index("All hand-ins"):]
    # What needs a human is what the tutors' gradebook.csv flags: intake and run flags, and `similar_to` (most
    # of these hand-ins are the master under other names, so even the partial one is flagged now).
    with (graded["out"] / "gradebook.csv").open(encoding="utf-8", newline="") as handle:
        flagged_in_csv = {row["hand_in"] for row in csv.DictReader(handle) if row["flags"] or row["error"]}
    # A row starts with the hand-in's link; its name also appears in other rows' `similar_to` messages.
    names = sorted((path.name for path in graded["cases"].values()), key=lambda name: everything.index(f">{name}</a>"))
    assert names == sorted(names, key=lambda name: (name not in flagged_in_csv, name))
    for case in ("broken", "naming", "late", "pdf_only", "crash", "timeout", "memory"):
        assert graded["cases"][case].name in flagged_in_csv, case
    images = [part.split('"', 1)[0] for part in html.split('src="data:image/png;base64,')[1:]]
    assert len(images) == 2 and all(base64.b64decode(image).startswith(b"\x89PNG") for image in images)


def test_every_hand_in_has_its_files(graded):
    for path in graded["cases"].values():
        folder = graded["out"] / folder_name(path.name)
        assert {"results.json", "feedback.md", "feedback.html"} <= {p.name for p in folder.iterdir()}
    assert (graded["out"] / "gradebook.csv").exists() and (graded["out"] / "gradebook.db").exists()

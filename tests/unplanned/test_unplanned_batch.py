"""Issue 19: the hand-ins nobody planned for, graded in one batch (tests/unplanned/handins.py), and what the
gradebook, feedback, summary and tutors' export say about them."""

from __future__ import annotations

import csv
import json

import pytest

from grader.store.gradebook import Gradebook
from grader.text.files import SAVE_AS_UTF8
from tests.unplanned.handins import BELOW_CODE, LOOSE_3B, STRAY


@pytest.fixture(scope="module")
def stored(unplanned_batch):
    with Gradebook.open(unplanned_batch.out / "gradebook.db") as book:
        return {r.record.file_name: r for r in book.results("sheet02")}


def result(unplanned_batch, stored, key):
    return stored[unplanned_batch.cases[key].file_name]


def flags(unplanned_batch, stored, key, code=None):
    return [f for f in result(unplanned_batch, stored, key).record.flags if code is None or f.code == code]


# --- item 1: team parsing -------------------------------------------------------------------------------------


def test_otters_raw_question_cells_add_no_student_and_no_flag(unplanned_batch, stored):
    record = result(unplanned_batch, stored, "otter").record
    assert [(s.student_id, s.name, s.source) for s in record.students] == [
        ("2319001", "Ada Otter", "file name and hand-in"), ("2319101", "Ben Otterova", "file name and hand-in")]
    assert not [f for f in record.flags if f.code.startswith("team")]
    assert record.auto_points == result(unplanned_batch, stored, "bom").record.auto_points  # graded in full
    with (unplanned_batch.out / "gradebook.csv").open(encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["hand_in"] == unplanned_batch.cases["otter"].file_name]
    assert len(rows) == 2  # one per student, nobody invented


# --- item 5: encodings ------------------------------------------------------------------------------------------


def test_a_byte_order_mark_is_graded_like_any_notebook(unplanned_batch, stored):
    record = result(unplanned_batch, stored, "bom").record
    assert record.error is None and not flags(unplanned_batch, stored, "bom", "broken_notebook")
    assert record.auto_points == record.max_points - 0 or record.auto_points > 0.9 * sum(
        c.max_points for q in record.questions for c in q.checks if c.status != "pending" and not q.bonus)


@pytest.mark.parametrize("key, detail", [("cp1252", "Windows-1252"), ("utf16", "UTF-16")])
def test_other_encodings_get_one_clear_error_in_grading_and_in_the_tutors_export(unplanned_batch, stored, key,
                                                                                  detail):
    record = result(unplanned_batch, stored, key).record
    assert record.error and detail in record.error and SAVE_AS_UTF8 in record.error
    [broken] = flags(unplanned_batch, stored, key, "broken_notebook")
    assert SAVE_AS_UTF8 in broken.message
    rows = [row for row in unplanned_batch.export.rows if row.hand_in == unplanned_batch.cases[key].file_name
            and not row.unassigned]
    assert rows and all(row.answer.needs_human for row in rows)
    problem = record.error.split(": ", 1)[1]
    assert all(problem in "; ".join(row.answer.reasons) for row in rows)  # the same sentence in both places
    feedback = (unplanned_batch.folder(key) / "feedback.md").read_text(encoding="utf-8")
    assert SAVE_AS_UTF8 in feedback and "Chosen file:" in feedback and "was graded" not in feedback


# --- item 2: written answers -------------------------------------------------------------------------------------


def test_a_loose_label_is_found_a_run_on_answer_needs_a_human_and_no_text_is_lost(unplanned_batch):
    name = unplanned_batch.cases["loose"].file_name
    rows = {(row.item.question_id, row.unassigned): row for row in unplanned_batch.export.rows if row.hand_in == name}
    assert rows[("3b", False)].answer.text == LOOSE_3B
    run_on = rows[("3a", False)].answer  # the remark in the next cell: kept, and the answer's end is uncertain
    assert STRAY in run_on.text and run_on.needs_human
    assert any("runs on over 2 cells" in reason and "stray-remark" in reason for reason in run_on.reasons)
    loose = rows[("(unassigned)", True)]
    assert loose.answer.text == f"[sheet02.ipynb, cell below-code]\n{BELOW_CODE}"
    assert loose.answer.source == "sheet02.ipynb, cell below-code"
    page = unplanned_batch.export.html_path.read_text(encoding="utf-8")
    assert 'id="unassigned"' in page and BELOW_CODE in page
    with unplanned_batch.export.csv_path.open(encoding="utf-8-sig", newline="") as handle:
        csv_rows = [r for r in csv.DictReader(handle) if r["question"] == "(unassigned)"]
    assert [r["hand_in"] for r in csv_rows] == [name] or name in [r["hand_in"] for r in csv_rows]
    # The template's own lines (title, instructions), shared by every hand-in, are not "unassigned text".
    assert all("Write your answers into the marked cells" not in r["answer"] for r in csv_rows)


def test_points_on_an_unassigned_row_are_refused_and_the_rest_imports(unplanned_batch, tmp_path):
    from grader.commands.manual.importing import ManualImportError, read_score_lines

    source = unplanned_batch.export.csv_path
    with source.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    target = tmp_path / "filled.csv"

    def write(rows):
        with target.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    write(rows)
    assert all(line.question_id != "(unassigned)" for line in read_score_lines(target))
    next(r for r in rows if r["question"] == "(unassigned)")["points"] = "1"
    write(rows)
    with pytest.raises(ManualImportError, match="takes no points"):
        read_score_lines(target)


# --- items 7 and 8: the summary ------------------------------------------------------------------------------------


def test_the_summary_lists_the_early_error_and_the_template_with_the_reason(unplanned_batch):
    page = (unplanned_batch.out / "summary.html").read_text(encoding="utf-8")
    needs_human = page.split("<h2>Needs a human</h2>", 1)[1].split("<h2", 1)[0]
    early = unplanned_batch.cases["early_error"].file_name
    template = unplanned_batch.cases["template"].file_name
    assert early in needs_human and template in needs_human
    assert "<b>early_error</b>: lost nearly all automatic points" in needs_human
    assert "NameError: name &#x27;helpers_from_last_week&#x27; is not defined" in needs_human
    assert "<b>template</b>: looks like the unmodified template" in needs_human
    good = unplanned_batch.cases["bom"].file_name  # listed for similarity (all are the master), not for this
    row = next(row for row in needs_human.split("<tr") if f">{good}</a>" in row)
    assert "early_error" not in row and "template" not in row


def test_the_per_question_table_counts_full_partial_zero_and_waiting(unplanned_batch, stored):
    from grader.reports.question_stats import question_table
    from grader.rubric.load import load_rubric
    from tests.conftest import REPO

    rubric = load_rubric(REPO / "rubrics" / "sheet02.yaml", course_root=REPO).rubric
    rows = {row.question_id: row for row in question_table(list(stored.values()), rubric)}
    # 1a is written only: every hand-in waits for a tutor, none is counted as zero.
    assert rows["1a"].pending == len(stored) and rows["1a"].zero == 0 and rows["1a"].mean is None
    # 3c is automatic and manual: its automatic part is full in the good hand-ins, zero in the broken ones.
    assert rows["1b"].full + rows["1b"].partial + rows["1b"].zero + rows["1b"].pending == len(stored)
    assert rows["1b"].zero >= 5  # cp1252, utf16, early error, template, R kernel
    page = (unplanned_batch.out / "summary.html").read_text(encoding="utf-8")
    assert '<table class="sortable" id="question-table">' in page and 'data-sort="number">mean</th>' in page


def test_what_students_got_wrong_is_in_the_summary_and_in_mistakes_csv(unplanned_batch):
    with (unplanned_batch.out / "mistakes.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and set(rows[0]) == {"sheet", "question", "check", "kind", "what", "detail", "hand_ins", "graded",
                                     "share"}
    mistakes = [r for r in rows if r["kind"] == "mistake"]
    registered = {"reference.mistakes:kl_discrete__log2", "reference.mistakes:forget_gate_delta__no_derivative"}
    assert registered <= {r["what"] for r in mistakes}
    # Broken hand-ins (encoding, R) did not run: they made no mistake and are not counted as graded.
    graded = {int(r["graded"]) for r in rows}
    assert max(graded) <= len(unplanned_batch.cases) - 3
    failing = [r for r in rows if r["kind"] == "failing case"]
    assert failing and all(0 < int(r["hand_ins"]) <= int(r["graded"]) for r in failing)
    page = (unplanned_batch.out / "summary.html").read_text(encoding="utf-8")
    assert 'id="mistakes"' in page and 'href="mistakes.csv"' in page


def test_histogram_totals_half_a_point_apart_are_separate_bars():
    import numpy as np

    from grader.reports.summary import _histogram

    figure = _histogram([17.5, 18.0, 18.0, 3.0], 20)
    bars = figure.axes[0].patches
    assert sorted((round(b.get_x() + b.get_width() / 2, 3), int(b.get_height())) for b in bars) == [
        (3.0, 1), (17.5, 1), (18.0, 2)]
    assert all(b.get_width() < 0.5 for b in bars)  # narrower than the step: a gap between neighbours
    assert np.isclose(bars[0].get_width(), 0.35)


def test_results_json_is_valid_for_every_unplanned_hand_in(unplanned_batch):
    for case in unplanned_batch.cases.values():
        data = json.loads((unplanned_batch.out / case.folder / "results.json").read_text(encoding="utf-8"))
        assert "score" in data and "tests" in data


# --- item 3: other kernels -----------------------------------------------------------------------------------------


def test_an_r_notebook_is_not_run_is_flagged_with_its_kernel_and_its_answers_are_read(unplanned_batch, stored):
    record = result(unplanned_batch, stored, "r_kernel").record
    [flag] = flags(unplanned_batch, stored, "r_kernel", "other_kernel")
    assert "written for the R kernel, not Python" in flag.message and "not run" in flag.message
    assert not flags(unplanned_batch, stored, "r_kernel", "broken_notebook")
    assert record.failed_cells == [] and record.auto_points == 0  # nothing ran: no dozen Python errors
    rows = [row for row in unplanned_batch.export.rows if row.hand_in == unplanned_batch.cases["r_kernel"].file_name
            and not row.unassigned]
    assert sum(row.answer.found for row in rows) >= 10  # the written answers are still there for the tutor
    feedback = (unplanned_batch.folder("r_kernel") / "feedback.md").read_text(encoding="utf-8")
    assert "written for the R kernel" in feedback


# --- item 4: skipped lines -----------------------------------------------------------------------------------------


def test_skipped_magics_and_shell_lines_are_listed_per_cell_in_the_feedback(unplanned_batch, stored):
    record = result(unplanned_batch, stored, "magics").record
    notes = [n for n in record.notes if "not run by the grader" in n]
    assert len(notes) == 2, record.notes
    assert "`!pip install pyro-ppl`" in notes[0] and "`%matplotlib inline`" in notes[0]
    assert "nothing is installed while grading" in notes[0]
    assert "`%%bash (the whole cell, 3 lines)`" in notes[1]
    assert notes[0].split(":")[0] != notes[1].split(":")[0]  # each note names its cell
    feedback = (unplanned_batch.folder("magics") / "feedback.md").read_text(encoding="utf-8")
    assert "!pip install pyro-ppl" in feedback and "%%bash" in feedback
    # The functions after the skipped lines were defined: the hand-in keeps its points.
    assert record.auto_points == result(unplanned_batch, stored, "bom").record.auto_points


# --- item 9: figures of the grader's own run, and ran.ipynb --------------------------------------------------------


def test_figures_are_captured_in_the_sandbox_and_recorded_per_question(unplanned_batch):
    folder = unplanned_batch.folder("figure")
    data = json.loads((folder / "figures.json").read_text(encoding="utf-8"))["figures"]
    assert [(f["question"], f["file"].startswith("figures/cell-")) for f in data] == [(None, True), ("3d", True)]
    for figure in data:
        png = (folder / figure["file"]).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) == figure["bytes"] and len(png) < 512_000
    # The stored fake output was dropped: only what the grader's run drew is there.
    assert b"storedFAKE" not in (folder / "ran.ipynb").read_bytes()


def test_ran_ipynb_holds_the_grader_runs_outputs_and_is_valid(unplanned_batch):
    import nbformat

    for case in unplanned_batch.cases.values():
        notebook = nbformat.read(str(unplanned_batch.out / case.folder / "ran.ipynb"), as_version=4)
        nbformat.validate(notebook)
        assert notebook.metadata["grader"]["outputs"].startswith("from the grader's own run")
    ran = nbformat.read(str(unplanned_batch.folder("figure") / "ran.ipynb"), as_version=4)
    outputs = [o for c in ran.cells if c.cell_type == "code" for o in c.outputs]
    assert any(o.output_type == "stream" and "plotted 500" in o.text for o in outputs)
    images = [o for o in outputs if o.output_type == "display_data"]
    assert len(images) == 2 and all(o.data["image/png"].startswith("iVBORw0KGgo") for o in images)
    errors = nbformat.read(str(unplanned_batch.folder("early_error") / "ran.ipynb"), as_version=4)
    first_error = next(o for c in errors.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error")
    assert first_error.ename == "NameError" and "helpers_from_last_week" in first_error.evalue
    r_notebook = nbformat.read(str(unplanned_batch.folder("r_kernel") / "ran.ipynb"), as_version=4)
    assert r_notebook.cells[0].source.startswith("**Not run by the grader.**") and "R kernel" in r_notebook.cells[0].source
    assert not [o for c in r_notebook.cells if c.cell_type == "code" for o in c.outputs]


def test_figures_are_shown_beside_their_question_in_feedback_and_tutors_page(unplanned_batch):
    feedback = (unplanned_batch.folder("figure") / "feedback.md").read_text(encoding="utf-8")
    section_3d = feedback.split("## 3d", 1)[1].split("\n## ", 1)[0]
    assert "![Figure drawn by cell" in section_3d and "(figures/cell-" in section_3d
    assert "## Other figures your code drew" in feedback
    html_page = (unplanned_batch.folder("figure") / "feedback.html").read_text(encoding="utf-8")
    assert '<img class="figure" src="figures/cell-' in html_page
    tutors = unplanned_batch.export.html_path.read_text(encoding="utf-8")
    section = tutors.split('id="q-3d-', 1)[1].split("<h2", 1)[0]
    folder = unplanned_batch.cases["figure"].folder
    assert f'src="{folder}/figures/cell-' in section and "Figures its code drew for this question" in section

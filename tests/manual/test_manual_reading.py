"""Reading a hand-in's written answers for tutors: ids to sheet labels, bounded extraction, merging files."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.commands.manual.questions import load_answers, manual_items, prose_questions, task_and_part
from grader.commands.manual.reading import ReadLimits, answer_files, hand_in_answers, merge_answers, read_file_answers
from grader.prose.extract import AnswerText, HandInReadError, ProseQuestion
from grader.rubric.load import load_rubric
from tests.conftest import REPO, write_notebook
from tests.prose._pdfmaker import image_only_page_pdf, markdown_to_pdf
from tests.prose._sheets import Sheet02HandIn, sheet02_hand_ins


@pytest.mark.parametrize(("qid", "task", "part"), [
    ("1a", "1", "a"), ("4b", "4", "b"), ("11.1.1", "11.1", "1"), ("11.2.3b", "11.2", "3 b"), ("11.3c", "11.3", "c"),
])
def test_task_and_part_from_the_rubric_id(qid: str, task: str, part: str) -> None:
    assert task_and_part(qid) == (task, part)


@pytest.fixture(scope="module")
def sheet02_questions() -> list[ProseQuestion]:
    loaded = load_rubric(REPO / "rubrics" / "sheet02.yaml", course_root=REPO)
    return prose_questions(manual_items(loaded, load_answers(loaded)))


def test_prose_questions_are_the_manual_ones_with_their_text(sheet02_questions: list[ProseQuestion]) -> None:
    ids = [q.id for q in sheet02_questions]
    assert ids == ["1a", "1c", "2a", "2b", "2c", "2d", "3a", "3b", "3d", "3e", "3f", "4a", "4b"]
    by_id = {q.id: q for q in sheet02_questions}
    assert by_id["1c"].text.startswith("Can bidirectional RNNs be effectively used for online classification")
    assert by_id["3d"].text.startswith("Briefly describe the re-parametrization trick")


@pytest.fixture(scope="module", params=sheet02_hand_ins())
def answer_sheet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> tuple[Sheet02HandIn, Path]:
    """A sheet-02 answer sheet and its PDF: the invented one, and the course's real one when present."""
    case: Sheet02HandIn = request.param
    pdf = case.pdf or markdown_to_pdf(case.markdown.read_text(encoding="utf-8"),
                                      tmp_path_factory.mktemp(case.label) / "answers.pdf")
    return case, pdf


@pytest.mark.parametrize("kind", ["md", "pdf"])
def test_an_answer_sheet_with_questions_from_the_rubric(kind: str, answer_sheet: tuple[Sheet02HandIn, Path],
                                                        sheet02_questions: list[ProseQuestion]) -> None:
    case, pdf = answer_sheet
    path = case.markdown if kind == "md" else pdf
    answers = hand_in_answers(path.parent, [path.name], sheet02_questions)
    assert set(answers) == {q.id for q in sheet02_questions}
    assert answers["1a"].found
    assert " ".join(answers["1a"].text.split()).endswith(case.answer_1a)
    assert answers["1a"].source.startswith(path.name)
    assert answers["1c"].found and answers["1c"].text.startswith(case.answer_1c[0])
    for qid in ("2a", "3b"):  # only handwritten margin notes: for a human, never an empty answer
        assert not answers[qid].found and answers[qid].needs_human and answers[qid].margin_notes


def test_a_scanned_pdf_needs_a_human(tmp_path: Path, sheet02_questions: list[ProseQuestion]) -> None:
    image_only_page_pdf(tmp_path / "scan.pdf", before="Name: Ada Quill\nStudent ID: 2399001")
    answers = hand_in_answers(tmp_path, ["scan.pdf"], sheet02_questions)
    for answer in answers.values():
        assert not answer.found and answer.needs_human
        assert any("scanned page" in reason for reason in answer.reasons)


def test_answer_after_a_code_cell_belongs_to_the_question(tmp_path: Path) -> None:
    """Question cell, code cell, then "**Answer:**": the explanation of a question with a code part."""
    notebook = write_notebook(tmp_path / "hand-in.ipynb", [
        ("md", "**Answer:** stray text before any question"),
        "print('setup')",
        ("md", "### Task 1 (c)\nCan bidirectional RNNs be used online? Explain briefly."),
        "online = False",
        ("md", "**Answer:**\nNo: the backward pass needs inputs from the future."),
        ("md", "### Task 2 (a)\nName three regularisation techniques."),
        ("md", "**Answer:** Dropout, weight decay, early stopping."),
    ])
    questions = [ProseQuestion("1c", "1", "c", "Can bidirectional RNNs be used online? Explain briefly."),
                 ProseQuestion("2a", "2", "a", "Name three regularisation techniques.")]
    answers = read_file_answers(notebook, questions)
    assert answers["1c"].found and answers["1c"].text == "No: the backward pass needs inputs from the future."
    assert answers["2a"].text == "Dropout, weight decay, early stopping."
    assert all("stray" not in a.text for a in answers.values())


def test_a_part_heading_above_the_code_is_the_question_not_the_answer(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "practical.ipynb", [
        ("md", "# Exercise 11.3 - Practical"),
        ("md", ("## (c) Gradient flow through time\n\nWrite `grad_norms(model, x, y)` and plot the norms.\n\n"
                "Interpret the plot in two sentences.")),
        "norms = [1.0, 0.1]",
        ("md", "**Answer (c):**\nThe vanilla RNN's gradient vanishes; the LSTM's stays large."),
    ])
    answers = read_file_answers(notebook, [ProseQuestion("11.3c", "11.3", "c")])
    assert answers["11.3c"].text == "The vanilla RNN's gradient vanishes; the LSTM's stays large."


def test_reading_is_bounded(tmp_path: Path, sheet02_questions: list[ProseQuestion]) -> None:
    text = tmp_path / "answers.md"
    text.write_text("### Task 1 (a)\n**Answer:** Counting with the cell state.\n", encoding="utf-8")
    with pytest.raises(HandInReadError, match="MB"):
        read_file_answers(text, sheet02_questions, ReadLimits(max_file_bytes=10))
    with pytest.raises(HandInReadError, match="longer than"):
        read_file_answers(text, sheet02_questions, ReadLimits(wall_seconds=0.0001))
    # Out of memory is a MemoryError, or an import that fails inside CPython: either way the read is refused.
    with pytest.raises(HandInReadError, match="more memory than allowed|reading it failed"):
        read_file_answers(text, sheet02_questions, ReadLimits(memory_bytes=32 * 1024 * 1024))
    # The same file within the limits is read; a failure becomes a reason for a human on every question.
    assert read_file_answers(text, sheet02_questions)["1a"].text == "Counting with the cell state."
    answers = hand_in_answers(tmp_path, ["answers.md"], sheet02_questions, ReadLimits(max_file_bytes=10))
    assert all(a.needs_human and "'answers.md' could not be read" in a.reasons[0] for a in answers.values())


def test_answer_files_are_the_readable_ones_main_file_first() -> None:
    assert answer_files("sheet02.ipynb", ["b.pdf", "notes.txt", "sheet02.ipynb"]) == [
        "sheet02.ipynb", "b.pdf", "notes.txt"]
    assert answer_files("solution.py", ["a.md", "figure.png"]) == ["a.md"]
    assert answer_files(None, []) == []


def _answer(qid: str, text: str = "", **fields: object) -> AnswerText:
    return AnswerText(question_id=qid, text=text, found=bool(text), **fields)


def test_merge_prefers_found_answers_and_keeps_every_reason() -> None:
    notebook = {"1a": _answer("1a", reasons=["no answer text after the question"], source="cell q1a"),
                "1c": _answer("1c", "No, it needs the future.", source="cell a1c"),
                "2a": _answer("2a", reasons=["question not found in the hand-in"])}
    pdf = {"1a": _answer("1a", "The gates count.", source="page 2"),
           "1c": _answer("1c", "Nein.", source="page 1"),
           "2a": _answer("2a", margin_notes=["Dropout?"], needs_human=True,
                         reasons=["no written answer, but margin notes"])}
    merged = merge_answers([("sheet02.ipynb", notebook), ("answers.pdf", pdf), ("extra.md", "extra.md: broken")],
                           ["1a", "1c", "2a"])
    assert merged["1a"].text == "The gates count." and merged["1a"].source == "answers.pdf, page 2"
    # Answered in two files: the first counts, and a human decides.
    assert merged["1c"].text == "No, it needs the future." and merged["1c"].needs_human
    assert any("'answers.pdf' also answers it (page 1)" in r for r in merged["1c"].reasons)
    assert not merged["2a"].found and merged["2a"].needs_human and merged["2a"].margin_notes == ["Dropout?"]
    assert "'answers.pdf': no written answer, but margin notes" in merged["2a"].reasons
    assert all("'extra.md' could not be read: broken" in a.reasons for a in merged.values())


def test_merge_of_a_hand_in_without_answer_files() -> None:
    merged = merge_answers([], ["1a"])
    assert not merged["1a"].found and not merged["1a"].needs_human
    assert "no file with written answers" in merged["1a"].reasons[0]

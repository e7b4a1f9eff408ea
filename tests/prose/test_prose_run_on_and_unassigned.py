"""Issue 19 item 2: loose labels ("3 b.", "Task 3 b.") are recognised, an answer whose end is uncertain is marked
for a human, and no text disappears: what belongs to no question comes back as unassigned text with its place."""

from __future__ import annotations

from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
import nbformat

from grader.prose.extract import UNASSIGNED, extract_answers, extract_written_text
from grader.prose.questions import ProseQuestion

KL = "The KL divergence measures how much information is lost when Q approximates P."
REG = "Dropout, weight decay and early stopping all reduce overfitting of the network."


def test_loose_labels_find_their_question_and_lose_no_text(tmp_path: Path,
                                                           sheet02_questions: list[ProseQuestion]) -> None:
    path = tmp_path / "answers.md"
    path.write_text(f"2 a.\n{REG}\n\n3 b.\n{KL}\n\nTask 3 c.\nKL(Q||P) differs from KL(P||Q) for P=(0.3,0.7).\n",
                    encoding="utf-8")
    answers, loose = extract_written_text(path, sheet02_questions)
    assert answers["2a"].text == REG  # 3b's text is no longer appended to 2a
    assert answers["3b"].found and answers["3b"].text == KL
    assert answers["3c"].found and "P=(0.3,0.7)" in answers["3c"].text
    assert loose is None  # everything has a question


def test_text_after_a_filled_answer_cell_is_unassigned_with_its_place(tmp_path: Path,
                                                                       sheet02_questions: list[ProseQuestion]) -> None:
    answer = new_markdown_cell(KL)
    answer.metadata["grader"] = {"question": "3b", "role": "answer"}
    stray = new_markdown_cell("Our plot of the loss curve shows the collapse after epoch 12, see below.")
    stray.id = "strayprose"
    notebook = new_notebook(cells=[answer, stray, new_code_cell("x = 1"),
                                   new_markdown_cell("Some remarks the group wrote below the code.")])
    path = tmp_path / "sheet02.ipynb"
    nbformat.write(notebook, str(path))
    answers, loose = extract_written_text(path, sheet02_questions)
    assert answers["3b"].text == KL and not answers["3b"].needs_human  # the tagged cell ends the answer
    assert loose is not None and loose.needs_human and loose.question_id == UNASSIGNED
    assert "[cell strayprose]\nOur plot of the loss curve" in loose.text
    assert "Some remarks the group wrote below the code." in loose.text
    assert "strayprose" in loose.source
    assert UNASSIGNED not in extract_answers(path, sheet02_questions)  # the plain API keeps to the questions


def test_an_answer_running_on_into_the_next_markdown_cell_needs_a_human(tmp_path: Path,
                                                                        sheet02_questions: list[ProseQuestion]) -> None:
    cells = [new_markdown_cell(f"**3 b)** {KL}"), new_markdown_cell("Next week we will look at GAN training.")]
    path = tmp_path / "runs.ipynb"
    nbformat.write(new_notebook(cells=cells), str(path))
    answer = extract_answers(path, sheet02_questions)["3b"]
    assert answer.found and answer.needs_human
    assert any("runs on over 2 cells" in reason and "check where it ends" in reason for reason in answer.reasons)


def test_an_answer_running_past_a_heading_needs_a_human(tmp_path: Path,
                                                        sheet02_questions: list[ProseQuestion]) -> None:
    path = tmp_path / "answers.md"
    path.write_text(f"3 b)\n{KL}\n\n## Appendix: our notes on training\nWe trained for 12 epochs.\n", encoding="utf-8")
    answer = extract_answers(path, sheet02_questions)["3b"]
    assert answer.needs_human and any("runs past the heading '## Appendix" in r for r in answer.reasons)


def test_a_clean_answer_is_not_marked(tmp_path: Path, sheet02_questions: list[ProseQuestion]) -> None:
    path = tmp_path / "answers.md"
    path.write_text(f"3 b)\n{KL}\n\n3 c)\nKL is not symmetric.\n", encoding="utf-8")
    answers = extract_answers(path, sheet02_questions)
    assert answers["3b"].text == KL and not answers["3b"].needs_human and answers["3b"].reasons == []

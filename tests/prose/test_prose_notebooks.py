"""Answers in notebooks: the template's tagged answer cells, and untagged notebooks with headings."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.prose.extract import ProseQuestion, extract_answers


def md(source: str, question: str | None = None, role: str | None = None) -> nbformat.NotebookNode:
    cell = new_markdown_cell(source)
    if role is not None:
        meta = {"id": f"{question or 'sheet'}-{role}", "role": role}
        if question is not None:
            meta["question"] = question
        cell.metadata["grader"] = meta
    return cell


def write(path: Path, cells: list) -> Path:
    nbformat.write(new_notebook(cells=cells), str(path))
    return path


def test_tagged_answer_cells(tmp_path: Path, sheet11_questions: list[ProseQuestion]) -> None:
    path = write(
        tmp_path / "tagged.ipynb",
        [
            md("# Exercise Sheet 11\nName: Ada Example, id 0001", role="team"),
            md("**11.1.1** What is the key difference between CNN and RNN in terms of the modelling of the problem?", "11.1.1", "given"),
            md("<!-- BEGIN SOLUTION -->\nCNNs share weights over space; RNNs share them over time and keep a state.\n<!-- END SOLUTION -->", "11.1.1", "answer"),
            md("**11.1.2** What is the mathematical difficulty in training the RNN?", "11.1.2", "given"),
            md("YOUR ANSWER HERE", "11.1.2", "answer"),
            md("**11.2.1** Give an example application for each of the architectures above.", "11.2.1", "given"),
            md("", "11.2.1", "answer"),
            # The group wrote below the (empty) answer cell instead of into it.
            md("Sentiment analysis: a sentence in, one label out."),
            new_code_cell("x = 1  # practical part"),
            md("Some notes on the practical part that answer nothing."),
            md("**11.2.3 b)** What issues can occur because of equation (1)?", "11.2.3b", "given"),
            # The group's own enumeration inside the answer cell must not be read as parts.
            md("Two problems:\n(a) exploding gradients if ||W|| > 1\n(b) vanishing gradients if the Jacobians are small", "11.2.3b", "answer"),
        ],
    )
    answers = extract_answers(path, sheet11_questions)

    assert answers["11.1.1"].found
    assert answers["11.1.1"].text == "CNNs share weights over space; RNNs share them over time and keep a state."
    assert answers["11.1.1"].source == "cell 11.1.1-answer" or answers["11.1.1"].source.startswith("cell ")
    assert not answers["11.1.2"].found and not answers["11.1.2"].needs_human  # placeholder only
    assert answers["11.2.1"].found and answers["11.2.1"].text == "Sentiment analysis: a sentence in, one label out."
    assert "practical part" not in answers["11.2.1"].text
    assert answers["11.2.3b"].found
    assert "(b) vanishing gradients" in answers["11.2.3b"].text
    assert not answers["11.2.3a"].found
    assert answers["11.2.3a"].reasons == ["question not found in the hand-in"]


def test_untagged_notebook_with_headings_and_answer_markers(tmp_path: Path, sheet11_questions: list[ProseQuestion]) -> None:
    path = write(
        tmp_path / "untagged.ipynb",
        [
            md("# Exercise Sheet 11\nGroup: Ada Example, Bo Sample"),
            md("## Exercise 11.1 - Sequence Modeling"),
            md("### Exercise 11.1 - 1)\nCNNs exploit spatial locality; RNNs model sequences with a recurrent state."),
            md(
                "Exercise 11.1 - 2) What is the mathematical difficulty in training the RNN, and how does LSTM mitigates the same?\n\n"
                "**Answer:** Vanishing gradients; the cell state carries gradients additively.\n1. forget gate\n2. input gate"
            ),
            new_code_cell("import torch"),
            md("### 11.2.3 a)\n$$J_{k+1} = \\mathrm{diag}(\\sigma'(z_{k+1})) W$$"),
            md("### 11.2.3 b)\nExploding or vanishing gradients, caused by ||W|| and the Jacobian norms."),
            md("### 11.2.2\nA tree-structured network applies the same weights at every node."),
        ],
    )
    answers = extract_answers(path, sheet11_questions)

    assert answers["11.1.1"].text == "CNNs exploit spatial locality; RNNs model sequences with a recurrent state."
    text = answers["11.1.2"].text
    assert text.startswith("Vanishing gradients") and text.endswith("2. input gate")
    assert "mathematical difficulty" not in text
    assert answers["11.2.3a"].found and "J_{k+1}" in answers["11.2.3a"].text  # a formula-only answer
    assert answers["11.2.3b"].text.startswith("Exploding or vanishing")
    assert answers["11.2.2"].text == "A tree-structured network applies the same weights at every node."
    assert not answers["11.2.1"].found


def test_question_text_alone_anchors_and_is_cut(tmp_path: Path, sheet11_questions: list[ProseQuestion]) -> None:
    """A group pasted the question text without any number, then answered under it."""
    path = write(
        tmp_path / "pasted.ipynb",
        [
            md("What is the key difference between CNN and RNN in terms of the modelling of the problem?\n\nRNNs carry a state through time."),
            md("What issues can occur because of equation (1)? Mention the two factors that cause the said issue.\nGradients explode or vanish."),
        ],
    )
    answers = extract_answers(path, sheet11_questions)
    assert answers["11.1.1"].text == "RNNs carry a state through time."
    assert answers["11.2.3b"].text == "Gradients explode or vanish."


def test_notebook_without_any_marker_needs_a_human(tmp_path: Path, sheet11_questions: list[ProseQuestion]) -> None:
    path = write(tmp_path / "plain.ipynb", [md("We think RNNs are good at sequences and CNNs at images, and LSTMs fix gradients.")])
    answers = extract_answers(path, sheet11_questions)
    assert all(not a.found and a.needs_human for a in answers.values())

"""Answers in .txt/.md files with the markers students really write, and PDFs without text."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.prose.extract import HandInReadError, ProseQuestion, extract_answers

from ._pdfmaker import image_only_page_pdf, new_pdf
from ._sheets import SHEET02, questions

SHEET02_Q = questions(SHEET02)


def test_task_and_part_markers_in_a_text_file(tmp_path: Path) -> None:
    path = tmp_path / "answers.txt"
    path.write_text(
        "Group 7: Ada Example, Bo Sample\n"
        "\n"
        "Task 01 (a)\n"
        "Gated units can learn to count because every step is a discrete event.\n"
        "\n"
        "Task 01 (c)\n"
        "No. A bidirectional RNN needs the future of the sequence.\n"
        "\n"
        "Task 02\n"
        "a) Three techniques:\n"
        "1) dropout, 2) weight decay, 3) early stopping.\n"
        "(a) dropout removes units at random\n"
        "(b) weight decay shrinks the weights\n"
        "b) Explain the internal covariate shift and how it has been addressed in the literature.\n"
        "The input distribution of a layer changes during training; batch norm fixes it.\n"
        "\n"
        "**Answer 2d:** Residual blocks let the gradient pass unchanged through the skip path.\n",
        encoding="utf-8",
    )
    answers = extract_answers(path, SHEET02_Q)
    assert answers["1a"].text == "Gated units can learn to count because every step is a discrete event."
    assert answers["1a"].source == "line 4"
    assert not answers["1b"].found
    assert answers["1c"].text == "No. A bidirectional RNN needs the future of the sequence."
    # The group's own "(a) ... (b) ..." list stays inside 2a; the real (b) follows its question text.
    assert answers["2a"].text.splitlines() == [
        "Three techniques:",
        "1) dropout, 2) weight decay, 3) early stopping.",
        "(a) dropout removes units at random",
        "(b) weight decay shrinks the weights",
    ]
    assert answers["2b"].text == "The input distribution of a layer changes during training; batch norm fixes it."
    assert answers["2d"].text == "Residual blocks let the gradient pass unchanged through the skip path."
    assert not answers["2c"].found and not answers["2c"].needs_human


def test_numbered_labels_and_nested_parts(tmp_path: Path, sheet11_questions: list[ProseQuestion]) -> None:
    path = tmp_path / "answers.md"
    path.write_text(
        "Exercise 11.1 - Sequence Modeling\n"
        "- 1) CNNs look at local patches, RNNs at a sequence with memory.\n"
        "- 2) Vanishing gradients; the LSTM's gates keep the error flowing.\n"
        "Exercise 11.2\n"
        "3) Consider sequences each of length T and a vanilla RNN model.\n"
        "a) $J_{k+1} = \\mathrm{diag}(\\sigma'(z)) W$\n"
        "b) Exploding and vanishing gradients, from ||W|| and the Jacobians.\n",
        encoding="utf-8",
    )
    answers = extract_answers(path, sheet11_questions)
    assert answers["11.1.1"].text.startswith("CNNs look at local patches")
    assert answers["11.1.2"].text.startswith("Vanishing gradients")
    assert "J_{k+1}" in answers["11.2.3a"].text
    assert answers["11.2.3b"].text.startswith("Exploding and vanishing")
    assert "Consider sequences" not in answers["11.2.3a"].text + answers["11.2.3b"].text


def test_german_answer_is_not_mistaken_for_margin_notes(tmp_path: Path) -> None:
    path = tmp_path / "antworten.md"
    path.write_text(
        "Task 01\n"
        "(a) How can LSTMs and other gated memory units learn to count and solve other discrete tasks?\n"
        "**Answer:** Die Zeitschritte der Berechnung sind eine natürliche Quelle der Diskretheit.\n"
        "Beim Training lernen die Gates, den Zähler im Zellzustand zu halten.\n",
        encoding="utf-8",
    )
    answer = extract_answers(path, SHEET02_Q)["1a"]
    assert answer.found and not answer.margin_notes
    assert answer.text.startswith("Die Zeitschritte") and answer.text.endswith("zu halten.")


def test_pdf_with_an_image_only_page_needs_a_human(tmp_path: Path) -> None:
    path = image_only_page_pdf(
        tmp_path / "scan.pdf",
        before="Task 01\n(a) How can LSTMs and other gated memory units learn to count and solve other discrete tasks?\nAnswer: Every time step is a discrete event the gates can count.\n(b) Consider a single LSTM unit with D memory cells.\nAnswer: The forget gate gradient is",
        after="Task 02\n(a) Name three forms of commonly applied regularization techniques.\nAnswer: Dropout, weight decay and data augmentation.",
    )
    answers = extract_answers(path, SHEET02_Q)
    assert answers["1a"].found and not answers["1a"].needs_human
    # 1b runs onto the scanned page 2: whatever is there is for a human to read.
    assert answers["1b"].needs_human
    assert any(r.startswith("scanned page, no text") for r in answers["1b"].reasons)
    assert answers["2a"].found and not answers["2a"].needs_human
    # 1c and the rest are not in the text pages: they may be on the scan, never "empty".
    for qid in ("1c", "2b", "4b"):
        assert not answers[qid].found and answers[qid].needs_human
        assert answers[qid].reasons[0].startswith("scanned page, no text (page 2)")


def test_fully_scanned_pdf(tmp_path: Path) -> None:
    path = image_only_page_pdf(tmp_path / "scan.pdf", before="")
    answers = extract_answers(path, SHEET02_Q)
    assert all(a.needs_human and not a.found for a in answers.values())
    assert all("scanned page, no text" in a.reasons[0] for a in answers.values())


def test_blank_pdf_is_not_a_scan(tmp_path: Path) -> None:
    pdf = new_pdf()
    pdf.add_page()
    path = tmp_path / "blank.pdf"
    pdf.output(str(path))
    answers = extract_answers(path, SHEET02_Q)
    assert all(not a.found and not a.needs_human for a in answers.values())
    assert answers["1a"].reasons == ["the hand-in has no text"]


def test_unreadable_files_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 this is not really a pdf")
    with pytest.raises(HandInReadError, match="broken.pdf"):
        extract_answers(broken, SHEET02_Q)
    odd = tmp_path / "answers.docx"
    odd.write_bytes(b"PK")
    with pytest.raises(HandInReadError, match=r"answers\.docx: unsupported hand-in type \.docx"):
        extract_answers(odd, SHEET02_Q)
    notebook = tmp_path / "bad.ipynb"
    notebook.write_text("{not json", encoding="utf-8")
    with pytest.raises(HandInReadError, match="bad.ipynb: not a readable notebook"):
        extract_answers(notebook, SHEET02_Q)


def test_parts_without_any_task_heading(tmp_path: Path) -> None:
    """Only part markers, no task headings and no question texts: parts resolve forward in
    sheet order; a restart ("(a)" after "(c)") is read as the group's own list, since
    nothing says a new task began."""
    path = tmp_path / "answers.md"
    path.write_text(
        "(b) The forget gate gradient is the sum over cells.\n"
        "(c) No, the future context is missing online:\n"
        "(a) the backward pass needs the last input\n"
        "(b) which has not arrived yet\n"
        "Task 02\n"
        "(a) Dropout, weight decay, early stopping.\n",
        encoding="utf-8",
    )
    answers = extract_answers(path, questions(SHEET02, with_text=False))
    assert answers["1b"].text == "The forget gate gradient is the sum over cells."
    assert answers["1c"].text.splitlines() == [
        "No, the future context is missing online:",
        "(a) the backward pass needs the last input",
        "(b) which has not arrived yet",
    ]
    assert answers["2a"].text == "Dropout, weight decay, early stopping."
    assert not answers["1a"].found and not answers["2b"].found


def test_unlisted_parts_end_the_previous_answer(tmp_path: Path) -> None:
    """11.2.3a (a derivation) is not a prose question; its marker still ends 11.2.2's answer."""
    from ._sheets import SHEET11

    listed = questions([row for row in SHEET11 if row[0] != "11.2.3a"], with_text=False)
    path = tmp_path / "answers.md"
    path.write_text(
        "## Exercise 11.2\n"
        "2) A recursive network combines children into a parent node.\n"
        "### 11.2.3 a)\n"
        "$J_{k+1} = W^T diag(\\sigma')$ and some derivation words\n"
        "### 11.2.3 b)\n"
        "Exploding and vanishing gradients.\n",
        encoding="utf-8",
    )
    answers = extract_answers(path, listed)
    assert answers["11.2.2"].text == "A recursive network combines children into a parent node."
    assert answers["11.2.3b"].text == "Exploding and vanishing gradients."

"""The marker grammar and the margin-note heuristic on their own."""

from __future__ import annotations

import pytest

from grader.prose.markers import label_path, parse_marker
from grader.prose.notes import classify_notes


@pytest.mark.parametrize(
    ("line", "task", "full", "part", "rest"),
    [
        ("### 11.2.3 b)", None, ("11", "2", "3", "b"), None, ""),
        ("11.2.3b) The gradients explode", None, ("11", "2", "3", "b"), None, "The gradients explode"),
        ("Exercise 11.1 - 2) What is", ("11", "1"), None, ("2",), "What is"),
        ("**Task 02 (c)**", ("2",), None, ("c",), ""),
        ("Aufgabe 2a) Dropout", ("2",), None, ("a",), "Dropout"),
        ("- (b) Consider a single LSTM", None, None, ("b",), "Consider a single LSTM"),
        ("**(g) Bonus:** Show that", None, None, ("g",), "Bonus: Show that"),
        ("b) Explain", None, None, ("b",), "Explain"),
        ("1) What is", None, None, ("1",), "What is"),
        ("3) a) What is J", None, None, ("3", "a"), "What is J"),
        ("(iv) roman", None, None, ("iv",), "roman"),
        ("1a) gated units", None, ("1", "a"), None, "gated units"),
        ("11.1.2 What is", None, ("11", "1", "2"), None, "What is"),
    ],
)
def test_question_markers(line, task, full, part, rest) -> None:
    marker = parse_marker(line)
    assert marker is not None
    assert (marker.task, marker.full, marker.part, marker.rest) == (task, full, part, rest)


@pytest.mark.parametrize(
    ("line", "task"),
    [("Task\t01\t2. Team Partner: Someone", ("1",)), ("**Task** 02", ("2",)), ("Exercise 11.1 - Sequence Modeling", ("11", "1"))],
)
def test_task_headings(line, task) -> None:
    marker = parse_marker(line)
    assert marker is not None and marker.is_task_heading and marker.task == task


@pytest.mark.parametrize(
    ("line", "rest"),
    [("#### **Answer:**", ""), ("**Answer:** No, that is", "No, that is"), ("Antwort: Ja", "Ja"), ("Lösung:", "")],
)
def test_answer_markers(line, rest) -> None:
    marker = parse_marker(line)
    assert marker is not None and marker.answer and not marker.names_question and marker.rest == rest


def test_labelled_answer_marker() -> None:
    marker = parse_marker("**Answer 2d:** Residual blocks")
    assert marker is not None and marker.answer and marker.full == ("2", "d") and marker.rest == "Residual blocks"


@pytest.mark.parametrize(
    "line",
    ["Exercise Sheet 02", "V. 2, F. 49", "0.3 is the probability", "3 layers are enough", "e.g. dropout", "A. Example wrote", "plain text"],
)
def test_not_question_markers(line) -> None:
    marker = parse_marker(line)
    assert marker is None or not marker.names_question


def test_equation_number_is_flagged() -> None:
    marker = parse_marker("(3)")
    assert marker is not None and marker.equation_like


def test_label_paths() -> None:
    assert label_path("01") == ("1",)
    assert label_path("11.2") == ("11", "2")
    assert label_path("3) a)") == ("3", "a")
    assert label_path("(B)") == ("b",)


def test_runs_of_fragments_are_notes_answers_are_not() -> None:
    lines = [
        "Dropout randomly removes units during training, which regularises the network.",
        "",
        "Output je",
        "Layer här",
        "von Statie",
        "Trainings",
        "chritt auf",
        "",
        "Joint opt tion von verschied Netzwerk beider Ne müssen anspruch aber nich möglich s Discrimin tor domin",
    ]
    flags = classify_notes(lines, "en")
    assert flags == [False, False, True, True, True, True, True, False, True]


def test_short_english_list_and_german_sentences_are_answers() -> None:
    lines = [
        "- Dropout",
        "- Weight decay",
        "- Early stopping",
        "Die Gradienten verschwinden, weil die Ableitung der Sigmoidfunktion kleiner als eins ist.",
        "Ein LSTM hält den Fehlerfluss über den Zellzustand konstant.",
    ]
    assert classify_notes(lines, "en") == [False] * 5


def test_formula_between_notes_joins_them_but_alone_is_not_a_note() -> None:
    assert classify_notes(["$q_2 = 0.5$"], "en") == [False]
    assert classify_notes(["wende als Zielvertei", "$q_2 = 0.5$", "Divergend differenzi"], "en") == [True, True, True]

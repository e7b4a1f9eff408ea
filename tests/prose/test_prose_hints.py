"""Hints for tutors: key points (en/de, inflections, OCR noise), word limits, citations; grouping."""

from __future__ import annotations

import pytest

from grader.prose.hints import KeyPointSpec, find_citations, hint_for_answer, phrase_in
from grader.prose.similarity import group_similar_answers
from grader.prose.textnorm import folded_words

KEY_POINTS = [
    KeyPointSpec(
        "vanishing",
        "gradients vanish over many steps",
        {"en": ["vanishing gradient", "gradients vanish"], "de": ["verschwindende Gradienten", "Gradient verschwindet"]},
    ),
    KeyPointSpec("gates", "gates control the error flow", {"en": ["forget gate", "gating"], "de": ["Vergessens-Gate", "Tor steuert"]}),
    KeyPointSpec("residual", "cell state acts like a residual connection", {"en": ["residual connection", "skip connection"], "de": ["Residualverbindung", "Skip-Verbindung"]}),
]


def _covers(text: str, phrase: str) -> bool:
    return phrase_in(phrase, folded_words(text))


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("Der Gradient verschwindet über viele Zeitschritte.", "verschwindende Gradienten"),  # inflection, order
        ("Die verschwindenden Gradienten sind das Problem.", "Gradient verschwindet"),
        ("The vanishinq gradient problem appears.", "vanishing gradient"),  # OCR noise
        ("Gradients are vanishing quickly.", "gradients vanish"),
        ("GRADIENTS VANISH", "gradients vanish"),
        ("Das Gradientenverschwinden tritt auf.", "verschwindende Gradienten"),  # compound
        ("It uses back-propagation through time.", "backpropagation"),  # hyphenation
        ("It uses back propagation through time.", "backpropagation"),
        ("Eine Residual-Verbindung wie bei ResNet.", "Residualverbindung"),
        ("Die Lösung ist einfach.", "Loesung"),  # umlaut spelling
        ("The forget-gate keeps the state.", "forget gate"),
    ],
)
def test_phrasings_match_tolerantly(text: str, phrase: str) -> None:
    assert _covers(text, phrase)


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("The gradient explodes.", "vanishing gradient"),
        ("A general model.", "generator"),
        ("The gradient is large. Much later, after many unrelated words here, something may vanish.", "vanishing gradient"),
        ("", "vanishing gradient"),
    ],
)
def test_phrasings_do_not_match_other_things(text: str, phrase: str) -> None:
    assert not _covers(text, phrase)


def test_hint_lists_covered_and_missing_key_points() -> None:
    hint = hint_for_answer("Beim RNN verschwindet der Gradient; das Forget-Gate hilft.", KEY_POINTS, word_limit=100, cite_required=False)
    assert hint.covered == ["vanishing", "gates"]
    assert hint.missing == ["residual"]
    assert hint.evidence["vanishing"] in KEY_POINTS[0].phrasings["de"]
    assert hint.cites_source is None and not hint.over_limit
    assert hint.word_count == 8
    assert "covers 2 of 3 key points" in hint.summary and "residual connection" in hint.summary


def test_word_limit_counts_words_but_not_the_reference_list() -> None:
    text = " ".join(["word"] * 101) + "\nSources:\n[1] Hochreiter, S. and Schmidhuber, J. (1997). Long short-term memory."
    hint = hint_for_answer(text, KEY_POINTS, word_limit=100, cite_required=True)
    assert hint.word_count == 101 and hint.over_limit
    assert hint.cites_source is True
    short = hint_for_answer(" ".join(["word"] * 100), KEY_POINTS, word_limit=100, cite_required=True)
    assert short.word_count == 100 and not short.over_limit and short.cites_source is False
    assert "no source cited" in short.summary


def test_sentence_limit() -> None:
    hint = hint_for_answer("One. Two. Three.", [], sentence_limit=2)
    assert hint.sentence_count == 3 and hint.over_sentence_limit


@pytest.mark.parametrize(
    "text",
    [
        "see https://arxiv.org/abs/1512.03385",
        "as shown by He et al. in their paper",
        "LSTMs keep the error constant (Hochreiter, 1997).",
        "Hochreiter and Schmidhuber (1997) showed it.",
        "This is known [1].",
        "Quelle: Vorlesung 5",
        "Source: lecture slides",
        "arXiv:1502.03167",
        "doi: 10.1162/neco.1997.9.8.1735",
        "10.1162/neco.1997.9.8.1735",
        "www.deeplearningbook.org",
    ],
)
def test_citations_are_recognised(text: str) -> None:
    assert find_citations(text), text


@pytest.mark.parametrize("text", ["The values lie in [0, 1].", "A sigmoid in 1997 style", "No source here at all."])
def test_non_citations(text: str) -> None:
    assert find_citations(text) == []


def test_model_answer_key_points_are_accepted() -> None:
    from grader.rubric.model_answers import KeyPoint

    point = KeyPoint.model_validate(
        {"id": "vanishing", "summary": "gradients vanish", "phrasings": {"en": ["vanishing gradient", "gradients vanish"], "de": ["verschwindende Gradienten", "Gradient verschwindet"]}}
    )
    assert hint_for_answer("Der Gradient verschwindet.", [point]).covered == ["vanishing"]


def test_similar_answers_are_grouped() -> None:
    answers = {
        "g01": "The gradient vanishes because W is multiplied many times over the sequence.",
        "g02": "the gradient vanishes, because W is multiplied many times over the sequence",  # copy, other case/punctuation
        "g03": "Exploding gradients come from large recurrent weights and are clipped by norm.",
        "g04": "",
        "g05": "   ",
        "g06": "The gradient vanishes because W is multiplied very many times over the whole sequence.",  # near copy
        "g07": "Large recurrent weights make gradients explode; clipping by norm helps against it.",
        "g08": "",
    }
    assert group_similar_answers(answers) == [["g01", "g02", "g06"]]
    # Reordered sentences still count as near-identical.
    swapped = {
        "a": "Dropout removes units at random. Weight decay shrinks all weights. Early stopping ends training in time.",
        "b": "Weight decay shrinks all weights. Early stopping ends training in time. Dropout removes units at random.",
    }
    assert group_similar_answers(swapped) == [["a", "b"]]
    # At threshold 1 only answers with the same words (in whatever sentence order) go together.
    assert group_similar_answers(answers, threshold=1.0) == [["g01", "g02"]]
    assert group_similar_answers(swapped, threshold=1.0) == [["a", "b"]]


def test_similarity_threshold_is_checked() -> None:
    with pytest.raises(ValueError, match="threshold"):
        group_similar_answers({"a": "x"}, threshold=0)


def test_negations_in_phrasings_count() -> None:
    assert not _covers("The labels are given.", "ohne Labels")
    assert _covers("Es lernt ganz ohne Labels.", "ohne Labels")
    assert _covers("An encoder maps x to z.", "the encoder")  # articles may differ


def test_course_model_answers_cover_their_own_key_points() -> None:
    """On the bundled course's data: each model answer shows every key point it lists."""
    from pathlib import Path

    from grader.rubric.model_answers import load_model_answers

    folder = Path(__file__).resolve().parents[2] / "reference" / "answers"
    files = sorted(folder.glob("*.yaml"))
    if not files:
        pytest.skip(f"{folder}: no model answers in this checkout")
    for path in files:
        for qid, model in load_model_answers(path).questions.items():
            hint = hint_for_answer(model.model_answer, model.key_points, model.word_limit, model.cite_required)
            assert hint.missing == [], f"{path.name} {qid}: model answer misses {hint.missing}"
            assert not hint.over_limit
            if model.cite_required:
                assert hint.cites_source, f"{path.name} {qid}: model answer cites nothing"

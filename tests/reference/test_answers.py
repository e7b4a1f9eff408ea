"""The bundled model answers: complete, within their limits, in agreement with their own key points.

Also the loader's behaviour on broken files, which must name the file, the question and the field.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from grader.rubric.model_answers import (
    ModelAnswer,
    ModelAnswersError,
    SheetAnswers,
    count_sentences,
    count_words,
    load_model_answers,
)

ANSWERS = Path(__file__).resolve().parents[2] / "reference" / "answers"
RUBRICS = ANSWERS.parents[1] / "rubrics"


def _tutor_graded(sheet: str) -> set[str]:
    """Every answer key a tutor-graded (manual) check of the sheet's rubric names: each needs a model answer."""
    rubric = yaml.safe_load((RUBRICS / f"{sheet}.yaml").read_text(encoding="utf-8"))
    return {check.get("answer") or question["id"] for question in rubric["questions"]
            for check in question["checks"] if check["kind"] == "manual"}


PROSE_QUESTIONS = {sheet: _tutor_graded(sheet) for sheet in ("sheet11", "sheet02")}


def _load(sheet: str) -> SheetAnswers:
    return load_model_answers(ANSWERS / f"{sheet}.yaml")


def _all_answers() -> list[tuple[str, str, ModelAnswer]]:
    return [(sheet, qid, answer) for sheet in PROSE_QUESTIONS for qid, answer in _load(sheet).questions.items()]


def _answer_params() -> list:
    return [pytest.param(*entry, id=f"{entry[0]}-{entry[1]}") for entry in _all_answers()]


# --- a deliberately simple matcher: is a key point recognisably present in a text? ---------------------------

_TOKEN = re.compile(r"[^\W_]+")


def _stem(word: str) -> str:
    return word[: max(4, len(word) - 3)]


def _word_matches(phrasing_word: str, text_word: str) -> bool:
    # Short words must match exactly ("no" is not "not"); longer ones by a common stem ("vanishing" ~ "vanishes").
    if len(phrasing_word) <= 4:
        return text_word == phrasing_word
    return text_word.startswith(_stem(phrasing_word))


def covers(text: str, phrasing: str) -> bool:
    """Phrasing found as a lowercased whole-word substring, or every one of its words found by stem."""
    text, phrasing = text.casefold(), phrasing.casefold().strip()
    if re.search(rf"(?<!\w){re.escape(phrasing)}(?!\w)", text):
        return True
    wanted, present = _TOKEN.findall(phrasing), _TOKEN.findall(text)
    return bool(wanted) and all(any(_word_matches(w, p) for p in present) for w in wanted)


# --- the bundled files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sheet", sorted(PROSE_QUESTIONS))
def test_every_prose_question_has_a_model_answer_and_no_other(sheet: str) -> None:
    answers = _load(sheet)
    assert answers.sheet == sheet
    assert set(answers.questions) == PROSE_QUESTIONS[sheet]
    assert {"3d", "11.3c"} & set(answers.questions)  # the explanations that once had no model answer


@pytest.mark.parametrize(("sheet", "qid", "answer"), _answer_params())
def test_model_answer_is_within_its_limit(sheet: str, qid: str, answer: ModelAnswer) -> None:
    assert answer.word_limit is not None or answer.sentence_limit is not None, "every answer records a limit"
    if answer.word_limit is not None:
        assert count_words(answer.model_answer) <= answer.word_limit
    if answer.sentence_limit is not None:
        assert count_sentences(answer.model_answer) <= answer.sentence_limit


@pytest.mark.parametrize(("sheet", "qid", "answer"), _answer_params())
def test_model_answer_covers_every_key_point(sheet: str, qid: str, answer: ModelAnswer) -> None:
    missing = [point.id for point in answer.key_points
               if not any(covers(answer.model_answer, phrasing) for phrasing in point.phrasings.en)]
    assert not missing, f"{sheet} {qid}: the model answer does not express key points {missing}"


def test_limits_follow_the_sheets() -> None:
    sheet11, sheet02 = _load("sheet11").questions, _load("sheet02").questions
    for qid in ("11.1.1", "11.1.2"):
        assert (sheet11[qid].word_limit, sheet11[qid].cite_required, sheet11[qid].limit_from_sheet) == (100, True, True)
    assert sheet11["11.2.1"].sentence_limit == 2 * 5  # two sentences for each of five architectures
    assert sheet11["11.2.2"].sentence_limit == 5
    assert not sheet11["11.2.3b"].limit_from_sheet
    # Sheet 02 states no limits: ours are recorded as such.
    assert {(a.word_limit, a.limit_from_sheet) for a in sheet02.values()} == {(120, False)}


def test_checkable_prose_facts_are_stated() -> None:
    sheet02 = _load("sheet02").questions
    assert re.match(r"No\b", sheet02["1c"].model_answer)
    assert "future" in sheet02["1c"].model_answer
    assert re.match(r"Not in general\b", sheet02["2c"].model_answer)


def test_answers_that_must_cite_name_a_source() -> None:
    for _, qid, answer in _all_answers():
        if answer.cite_required:
            assert any(s.first_author_surname in answer.model_answer for s in answer.sources), qid


def test_lost_figures_are_stated_for_tutors() -> None:
    note = _load("sheet11").questions["11.2.1"].note or ""
    assert "lost" in note and "one-to-many" in note


def test_matcher_is_not_vacuous() -> None:
    sheet02 = _load("sheet02").questions
    gan_points = sheet02["4b"].key_points
    unrelated = sheet02["3a"].model_answer  # autoencoders say nothing about GAN training dynamics
    assert not any(covers(unrelated, p) for point in gan_points for p in point.phrasings.en)
    assert covers("Die Gradienten verschwinden.", "gradienten verschwinden")
    assert not covers("It is not possible.", "no")
    assert covers("the gradients vanish quickly", "gradient vanishes")


# --- counting ----------------------------------------------------------------------------------------------------


def test_count_words_splits_on_whitespace_only() -> None:
    assert count_words("  x + F(x)\nis  the\tblock. ") == 6
    assert count_words("") == 0


@pytest.mark.parametrize(("text", "expected"), [
    ("One. Two! Three?", 3),
    ("He et al., 2016 show this. Next sentence.", 2),
    ("Weights shrink, e.g. under L2. The sigmoid's slope is at most 0.25 here.", 2),
    ("A trailing fragment without a stop", 1),
    ("", 0),
])
def test_count_sentences(text: str, expected: int) -> None:
    assert count_sentences(text) == expected


# --- broken files ------------------------------------------------------------------------------------------------


def _valid_question() -> dict:
    return {
        "question": "Why do gradients vanish?",
        "word_limit": 30,
        "limit_from_sheet": True,
        "cite_required": True,
        "model_answer": "Repeated multiplication by small factors shrinks them (Pascanu et al., 2013).",
        "key_points": [
            {"id": f"point-{i}", "summary": f"point {i}",
             "phrasings": {"en": [f"alpha {i}", f"beta {i}"], "de": [f"Alpha {i}", f"Beta {i}"]}}
            for i in range(3)
        ],
        "sources": [{"title": "On the difficulty of training recurrent neural networks",
                     "authors": ["Pascanu, R.", "Mikolov, T.", "Bengio, Y."], "year": 2013}],
    }


def _write(tmp_path: Path, question: dict, qid: str = "7.3b") -> Path:
    path = tmp_path / "toysheet.yaml"
    path.write_text(yaml.safe_dump({"sheet": "toysheet", "questions": {qid: question}}, allow_unicode=True),
                    encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(ModelAnswersError) as caught:
        load_model_answers(path)
    assert caught.value.path == path
    return str(caught.value)


def test_valid_toy_file_loads(tmp_path: Path) -> None:
    loaded = load_model_answers(_write(tmp_path, _valid_question()))
    assert list(loaded.questions) == ["7.3b"]
    assert loaded.questions["7.3b"].sources[0].first_author_surname == "Pascanu"


def test_unknown_key_is_named(tmp_path: Path) -> None:
    question = _valid_question() | {"wordlimit": 30}
    message = _error(_write(tmp_path, question))
    assert "toysheet.yaml" in message and "question 7.3b" in message and "field wordlimit" in message


def test_unknown_key_inside_a_key_point_names_the_key_point(tmp_path: Path) -> None:
    question = _valid_question()
    question["key_points"][1]["weight"] = 2
    message = _error(_write(tmp_path, question))
    assert "question 7.3b, key point point-1, field weight" in message


def test_missing_field_is_named(tmp_path: Path) -> None:
    question = _valid_question()
    del question["cite_required"]
    message = _error(_write(tmp_path, question))
    assert "toysheet.yaml" in message and "question 7.3b, field cite_required" in message
    assert "required" in message.lower()


def test_too_long_answer_is_named(tmp_path: Path) -> None:
    question = _valid_question()
    question["model_answer"] = " ".join(["word"] * 31) + " (Pascanu et al., 2013)."
    message = _error(_write(tmp_path, question))
    assert "question 7.3b, field model_answer" in message and "35 words" in message and "30" in message


def test_too_many_sentences_is_named(tmp_path: Path) -> None:
    question = _valid_question() | {"word_limit": None, "sentence_limit": 1,
                                    "model_answer": "Pascanu says so. Twice."}
    message = _error(_write(tmp_path, question))
    assert "question 7.3b, field model_answer" in message and "2 sentences" in message


@pytest.mark.parametrize("count", [2, 7])
def test_key_point_count_outside_three_to_six_is_rejected(tmp_path: Path, count: int) -> None:
    question = _valid_question()
    template = question["key_points"][0]
    question["key_points"] = [copy.deepcopy(template) | {"id": f"p{i}"} for i in range(count)]
    message = _error(_write(tmp_path, question))
    assert "question 7.3b, field key_points" in message


def test_too_few_german_phrasings_are_named(tmp_path: Path) -> None:
    question = _valid_question()
    question["key_points"][2]["phrasings"]["de"] = ["nur eine"]
    message = _error(_write(tmp_path, question))
    assert "question 7.3b, key point point-2, field phrasings.de" in message


def test_duplicate_key_point_ids_are_named(tmp_path: Path) -> None:
    question = _valid_question()
    question["key_points"][2]["id"] = "point-0"
    message = _error(_write(tmp_path, question))
    assert "question 7.3b, field key_points" in message and "point-0" in message


def test_no_source_is_rejected(tmp_path: Path) -> None:
    question = _valid_question() | {"sources": []}
    assert "question 7.3b, field sources" in _error(_write(tmp_path, question))


def test_a_required_citation_must_appear_in_the_answer(tmp_path: Path) -> None:
    question = _valid_question() | {"model_answer": "Repeated multiplication by small factors shrinks them."}
    message = _error(_write(tmp_path, question))
    assert "question 7.3b" in message and "cite_required" in message


def test_year_given_as_text_is_rejected(tmp_path: Path) -> None:
    question = _valid_question()
    question["sources"][0]["year"] = "2013"
    assert "question 7.3b, source #1, field year" in _error(_write(tmp_path, question))


def test_invalid_yaml_and_missing_file_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("sheet: [unclosed\n", encoding="utf-8")
    assert "broken.yaml" in _error(broken) and "not valid YAML" in _error(broken)
    missing = tmp_path / "missing.yaml"
    assert "missing.yaml" in _error(missing) and "cannot read" in _error(missing)


def test_author_not_written_surname_first_is_named(tmp_path: Path) -> None:
    question = _valid_question()
    question["sources"][0]["authors"] = ["Razvan Pascanu"]
    message = _error(_write(tmp_path, question))
    assert "question 7.3b, source #1, field authors" in message and "Razvan Pascanu" in message


def test_top_level_problems_are_named(tmp_path: Path) -> None:
    path = tmp_path / "toplevel.yaml"
    path.write_text("sheet: toysheet\nquestions: [not, a, mapping]\ntitle: extra\n", encoding="utf-8")
    message = _error(path)
    assert "toplevel.yaml" in message and "field questions" in message and "field title" in message

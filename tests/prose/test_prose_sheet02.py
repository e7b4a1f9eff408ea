"""Extraction from half-filled sheet-02 hand-ins (markdown and a PDF of it): the invented one in
tests/fixtures/sheet02-handin/, and the course's real one when ../shared/course holds it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from grader.prose.extract import AnswerText, extract_answers
from grader.prose.qtext import head_match, tokens_of

from ._pdfmaker import markdown_to_pdf
from ._sheets import COURSE, COURSE_MISSING, INVENTED, SHEET02, Sheet02HandIn, questions

NOTES = "no written answer, but margin notes"


@pytest.fixture(params=["md", "pdf"])
def handin(request: pytest.FixtureRequest, sheet02_md: Path, sheet02_pdf: Path) -> Path:
    return sheet02_md if request.param == "md" else sheet02_pdf


@pytest.fixture(params=[True, False], ids=["question-texts", "no-question-texts"])
def answers(request: pytest.FixtureRequest, handin: Path) -> dict[str, AnswerText]:
    return extract_answers(handin, questions(SHEET02, with_text=request.param))


def _words(text: str) -> str:
    return " ".join(tokens_of(text))


def test_every_question_is_located(answers: dict[str, AnswerText]) -> None:
    assert set(answers) == {row[0] for row in SHEET02}
    for qid, answer in answers.items():
        assert answer.source, f"{qid} was not located: {answer.reasons}"
        assert "question not found in the hand-in" not in answer.reasons


def test_the_written_answers_are_found_and_only_those(answers: dict[str, AnswerText],
                                                      sheet02_handin: Sheet02HandIn) -> None:
    assert {qid for qid, answer in answers.items() if answer.found} == sheet02_handin.answered
    for qid in sheet02_handin.answered:
        assert not answers[qid].needs_human, (qid, answers[qid].reasons)


def test_1a_is_found(answers: dict[str, AnswerText], sheet02_handin: Sheet02HandIn) -> None:
    answer = answers["1a"]
    assert answer.found and not answer.needs_human
    assert _words(answer.text) == _words(sheet02_handin.answer_1a)


def test_1c_is_found(answers: dict[str, AnswerText], sheet02_handin: Sheet02HandIn) -> None:
    answer = answers["1c"]
    start, end = sheet02_handin.answer_1c
    assert answer.found and not answer.needs_human
    assert answer.text.startswith(start)
    assert answer.text.rstrip().endswith(end)


@pytest.mark.parametrize("qid", ["2a", "3b"])
def test_no_answer_but_margin_notes_needs_a_human(answers: dict[str, AnswerText], qid: str) -> None:
    answer = answers[qid]
    assert not answer.found
    assert answer.text == ""
    assert answer.needs_human
    assert NOTES in answer.reasons
    assert answer.margin_notes


def test_margin_notes_are_the_handwritten_fragments(answers: dict[str, AnswerText],
                                                    sheet02_handin: Sheet02HandIn) -> None:
    notes_2a = "\n".join(answers["2a"].margin_notes)
    for fragment in sheet02_handin.notes_2a:
        assert fragment in notes_2a
    notes_3b = "\n".join(answers["3b"].margin_notes)
    for fragment in sheet02_handin.notes_3b:
        assert fragment in notes_3b
    # Notes of another page are not attached.
    assert not any(fragment in notes_2a for fragment in sheet02_handin.notes_3b)
    assert not any(fragment in notes_3b for fragment in sheet02_handin.notes_2a)


def test_the_last_answer_slot_holds_only_notes(answers: dict[str, AnswerText], sheet02_handin: Sheet02HandIn) -> None:
    """4b's "Answer:" is followed by German fragments only: notes, not an answer."""
    answer = answers["4b"]
    assert not answer.found and answer.needs_human
    assert any(sheet02_handin.note_4b in note for note in answer.margin_notes)


def test_no_answer_is_or_contains_its_question(answers: dict[str, AnswerText]) -> None:
    for qid, _task, _part, question in SHEET02:
        text = answers[qid].text
        if not text:
            continue
        qwords, awords = tokens_of(question), tokens_of(text)
        assert head_match(qwords, awords) < 0.5, f"{qid}: answer starts with the question"
        assert _words(question)[:60] not in _words(text), f"{qid}: answer contains the question"


def test_answers_hold_no_margin_notes(answers: dict[str, AnswerText]) -> None:
    for answer in answers.values():
        for note in answer.margin_notes:
            for line in note.splitlines():
                if len(line) > 3:
                    assert line not in answer.text


def test_the_second_task_03_heading_starts_task_4(handin: Path, sheet02_handin: Sheet02HandIn) -> None:
    answers = extract_answers(handin, questions(SHEET02))
    # 4a's question sits under the second "Task 03" heading, after 3g.
    if handin.suffix == ".md":
        assert answers["4a"].source == sheet02_handin.sources["4a"]
        assert answers["3a"].source == sheet02_handin.sources["3a"]
    else:
        assert answers["4a"].source.startswith("page") and answers["4b"].source.startswith("page")


def test_pdf_and_markdown_agree(sheet02_md: Path, sheet02_pdf: Path) -> None:
    qs = questions(SHEET02)
    from_md, from_pdf = extract_answers(sheet02_md, qs), extract_answers(sheet02_pdf, qs)
    for qid in from_md:
        assert from_md[qid].found == from_pdf[qid].found, qid
        assert from_md[qid].needs_human == from_pdf[qid].needs_human, qid
        assert _words(from_md[qid].text).replace(" ", "") == _words(from_pdf[qid].text).replace(" ", ""), qid


@pytest.mark.parametrize("task_label", ["03", ("04", "03")])
def test_task_4_printed_as_task_03(sheet02_md: Path, sheet02_handin: Sheet02HandIn,
                                   task_label: str | tuple[str, ...]) -> None:
    """The rubric may give task 4 the label the sheet prints ("03") or both labels."""
    from grader.prose.extract import ProseQuestion

    rows = [ProseQuestion(i, task_label if i.startswith("4") else t, p, q) for i, t, p, q in SHEET02]
    answers = extract_answers(sheet02_md, rows)
    for qid in ("3a", "4a", "4b"):
        assert answers[qid].source == sheet02_handin.sources[qid], qid


def test_only_the_prose_questions_listed(handin: Path, sheet02_handin: Sheet02HandIn) -> None:
    """The rubric lists only prose questions: 1b, 3c, 3d and 3g are checked as code or maths.
    Their markers must still end the previous answer and belong to no question."""
    prose = [row for row in SHEET02 if row[0] not in {"1b", "3c", "3d", "3g"}]
    answers = extract_answers(handin, questions(prose))
    assert set(answers) == {row[0] for row in prose}
    assert _words(answers["1a"].text) == _words(sheet02_handin.answer_1a)
    assert answers["1c"].text.startswith(sheet02_handin.answer_1c[0])
    for qid in ("2a", "3b", "3f", "4a", "4b"):
        assert not answers[qid].found and answers[qid].needs_human, qid
    assert "question not found in the hand-in" not in answers["4a"].reasons


def test_the_committed_pdf_is_made_from_the_markdown(tmp_path: Path) -> None:
    """tests/fixtures/sheet02-handin/answers.pdf is `python -m tests.prose._pdfmaker answers.md`: edit the
    markdown, then run that to renew the PDF."""
    made = markdown_to_pdf(INVENTED.markdown.read_text(encoding="utf-8"), tmp_path / "answers.pdf")
    assert INVENTED.pdf is not None and made.read_bytes() == INVENTED.pdf.read_bytes()


def test_the_invented_hand_in_names_no_one_from_the_course_material() -> None:
    """The fixture is invented: the course sheet's team partners must not appear in it."""
    if not COURSE.markdown.is_file():
        pytest.skip(COURSE_MISSING)
    partners = re.findall(r"Team Partner:\t([^\t\n]+)", COURSE.markdown.read_text(encoding="utf-8"))
    invented = INVENTED.markdown.read_text(encoding="utf-8") + "\n".join(
        page.extract_text() for page in PdfReader(str(INVENTED.pdf)).pages)
    assert len(partners) == 2
    for name in partners:
        for part in name.split():
            assert part not in invented, part

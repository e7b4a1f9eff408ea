"""Issue 19 item 5: a UTF-8 byte-order mark is accepted everywhere a hand-in's text is read (as Jupyter does);
Windows-1252 and UTF-16 get one and the same clear error in grading and in written-answer extraction."""

from __future__ import annotations

import codecs

import nbformat
import pytest

from grader.execution.program import ProgramError, load_program
from grader.intake.team import read_team
from grader.prose.extract import ProseQuestion, extract_answers
from grader.prose.sources import HandInReadError
from grader.text.files import SAVE_AS_UTF8, TextEncodingError, decode_hand_in_text


def notebook_text() -> str:
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_markdown_cell("## Team\nName: Jürgen Müller\nStudent ID: 2301002\n"),
                  nbformat.v4.new_code_cell("größe = 3\nprint('Größe', größe)"),
                  nbformat.v4.new_markdown_cell("**1a)** Why does the LSTM count?\n\nAnswer: Die Zelle zählt additiv.")]
    return nbformat.writes(book)


QUESTIONS = [ProseQuestion(id="1a", task="1", part="a", text="Why does the LSTM count?")]
ENCODINGS = {"cp1252": ("cp1252", "byte 0xfc at offset"), "utf-16": ("utf-16", "saved as UTF-16"),
             "utf-16-le": ("utf-16-le", "saved as UTF-16")}


def test_a_byte_order_mark_is_accepted_by_grading_prose_and_team_reading(tmp_path):
    path = tmp_path / "bom.ipynb"
    path.write_bytes(codecs.BOM_UTF8 + notebook_text().encode("utf-8"))
    program = load_program(path)
    assert [c.source.strip() for c in program.cells] == ["größe = 3\nprint('Größe', größe)"]
    answers = extract_answers(path, QUESTIONS)
    assert answers["1a"].found and "zählt" in answers["1a"].text
    assert [m.name for m in read_team(path).members] == ["Jürgen Müller"]
    script = tmp_path / "bom.py"
    script.write_bytes(codecs.BOM_UTF8 + "x = 'ä'\n".encode("utf-8"))
    assert load_program(script).cells[0].source.strip() == "x = 'ä'"


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_other_encodings_get_the_same_clear_error_in_grading_and_prose(tmp_path, encoding):
    codec, detail = ENCODINGS[encoding]
    path = tmp_path / "sheet.ipynb"
    path.write_bytes(notebook_text().encode(codec))
    with pytest.raises(ProgramError) as grading:
        load_program(path)
    with pytest.raises(HandInReadError) as prose:
        extract_answers(path, QUESTIONS)
    for message in (str(grading.value), str(prose.value)):
        assert "not UTF-8 text" in message and detail in message and SAVE_AS_UTF8 in message
    # The same sentence after the file's name: one error, not two wordings.
    assert str(grading.value).split(": ", 1)[1] == str(prose.value).split(": ", 1)[1]
    text = tmp_path / "answers.md"
    text.write_bytes("1a) Die Zelle zählt.".encode(codec))
    with pytest.raises(HandInReadError, match="not UTF-8 text"):
        extract_answers(text, QUESTIONS)


def test_windows_1252_is_named_as_a_guess_and_utf8_passes_untouched():
    with pytest.raises(TextEncodingError, match="Windows-1252 or Latin-1"):
        decode_hand_in_text("Größe".encode("cp1252"), "x.md")
    assert decode_hand_in_text("Größe 😀".encode("utf-8"), "x.md") == "Größe 😀"

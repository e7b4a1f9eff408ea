"""Issue 13: text that students control is parsed in linear time. Each rewritten pattern is checked against the
pattern it replaced on many small random texts (the same matches), and run on the inputs that made the old ones
stall the grader (minutes each before; a fraction of a second now)."""

from __future__ import annotations

import random
import re

from grader.intake import team
from grader.prose.textnorm import _LINE_BREAK_HYPHEN, _MARKUP, _MATH_DELIMITERS, remove_spans

OLD_ASSIGNMENT = re.compile(r"""^\s*([A-Za-z_][A-Za-z_ ]*?)\s*\d*\s*=\s*(['"])(.*)\2\s*(?:#.*)?$""")
OLD_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
OLD_MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|\\\[.*?\\\]|\\\(.*?\\\)", re.S)
OLD_COMMENT = re.compile(r"<!--.*?-->")
OLD_HYPHEN = re.compile(r"(\w)-\s*\n\s*(\w)")
OLD_MARKUP = re.compile(r"(\*\*|__|<\/?[a-zA-Z][^>]*>|`)")


def texts(pieces: list[str], count: int = 4000, longest: int = 12, seed: int = 13):
    draw = random.Random(seed)
    for _ in range(count):
        yield "".join(draw.choice(pieces) for _ in range(draw.randint(0, longest)))


def test_the_assignment_parser_reads_what_the_old_pattern_read():
    for line in texts(["NAME", "name", "_", " ", "2", "=", "'", '"', "#", "x", "\t", "é"]):
        old = OLD_ASSIGNMENT.match(line)
        assert team._string_assignment(line) == ((old.group(1), old.group(3)) if old else None), repr(line)


def test_the_email_pattern_finds_what_the_old_one_found():
    # Compared on texts with one '@': where two addresses are glued together ("a@b.c-d@e.f") the new pattern,
    # which starts only where a run of address characters starts, may split them differently.
    for text in texts(["a", ".", "@", "-", "+", "b", " ", "x.y", "é", ";"], longest=16):
        if text.count("@") <= 1:
            assert team._EMAIL_RE.findall(text) == OLD_EMAIL.findall(text), repr(text)


def test_span_removal_matches_the_old_lazy_patterns():
    for text in texts(["$", "$$", "\\[", "\\]", "\\(", "\\)", "a", " ", "\n", "\\"]):
        assert remove_spans(text, _MATH_DELIMITERS, " ") == OLD_MATH.sub(" ", text), repr(text)
    for text in texts(["<!--", "-->", "-", "<", "!", "a", "\n"]):
        new = "\n".join(remove_spans(line, (("<!--", "-->"),)) for line in text.split("\n"))
        assert new == OLD_COMMENT.sub("", text), repr(text)


def test_hyphen_and_markup_patterns_match_the_old_ones():
    for text in texts(["a", "-", " ", "\n", "\t", "b"], longest=14):
        assert _LINE_BREAK_HYPHEN.sub(r"\1\2", text) == OLD_HYPHEN.sub(r"\1\2", text), repr(text)
    # A tag now ends before the next '<' ("<b<>" is no longer one tag): compared where tags do not nest.
    for text in texts(["<", ">", "/", "a", "b", "*", "_", "`", " "], longest=14):
        if not re.search(r"<[^>]*<", text):
            assert _MARKUP.sub("", text) == OLD_MARKUP.sub("", text), repr(text)


def test_the_inputs_that_stalled_the_grader_are_read_at_once():
    # Each took the old patterns from 9 s to minutes (with the grader's GIL held throughout).
    assert team.parse_team_text("Name: " + "a" * 150_000) == []
    assert team._code_text("team_size" + " " * 3000 + "= 2\n") == ""
    assert team.parse_team_text("matr" + " " * 50_000 + "\n" + "name(" * 20_000) == []
    assert team._code_text(("a." * 450 + "!\n") * 2000) == ""  # tokenized only up to its bound (100,000)
    assert remove_spans("\\[" * 200_000, _MATH_DELIMITERS, " ") == "\\[" * 200_000
    assert _LINE_BREAK_HYPHEN.sub(r"\1\2", "a-" + "\n" * 100_000 + "!").startswith("a-")
    members = team.parse_team_text("Name: Ada Step\nStudent ID: 2310000\nEmail: ada@uni.example\n" + "x" * 5000)
    assert members == [team.TeamMember("Ada Step", "2310000", "ada@uni.example")]

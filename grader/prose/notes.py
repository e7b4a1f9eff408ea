"""Tell margin notes from written answers in text converted from a PDF.

Handwritten or narrow-column margin notes come out of a PDF conversion in two shapes:
runs of very short lines (one narrow column line each), or a paragraph stitched from
those lines, full of words cut at the column edge ("Discrimin", "tor", "Ne"). Either way
the fragments cluster. A written answer, in contrast, is made of whole words and usually
of sentences or list items.

So each line gets a score from its own shape (line length, share of fragment words, a
language other than the sheet's, lower-case start, sentence or list-item form) and the
decision then spreads along the sequence: a doubtful line next to a note is a note, and
a line between two notes is a note unless it is a well-formed sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from grader.prose.textnorm import FUNCTION_WORDS, guess_language, strip_markup, strip_math, words

_BULLET = re.compile(r"^\s*(?:[-*+•·▪◦]|\d{1,2}[.)]|\(?[a-z]\))\s+")
_SENTENCE_END = re.compile(r"[.!?:;]\s*$")

_SHORT_CHARS = 25
_NOTE = 1.5  # score at which a line is a note on its own
_DOUBTFUL = 0.75  # score at which a line is a note when next to one
_FRAGMENT_WEIGHT = 2.5


@dataclass(frozen=True)
class _Shape:
    score: float
    sentence: bool  # a well-formed sentence: never pulled into a note cluster
    neutral: bool  # no words at all (a formula): takes the class of its neighbours


def classify_notes(lines: list[str], sheet_language: str | None) -> list[bool]:
    """For each line, whether it is a margin note. Blank lines are never notes.

    sheet_language is the language of the sheet's questions ('en'/'de'/None); a line in
    another language is more likely a note, but never a note for that reason alone.
    """
    shapes = [_shape(text, sheet_language) if text.strip() else None for text in lines]
    content = [i for i, shape in enumerate(shapes) if shape is not None]
    is_note = {i: shapes[i].score >= _NOTE and not shapes[i].neutral for i in content}

    changed = True
    while changed:
        changed = False
        for pos, i in enumerate(content):
            if is_note[i]:
                continue
            shape = shapes[i]
            before = is_note[content[pos - 1]] if pos > 0 else False
            after = is_note[content[pos + 1]] if pos + 1 < len(content) else False
            doubtful = shape.score >= _DOUBTFUL or shape.neutral
            if (doubtful and (before or after)) or (before and after and not shape.sentence):
                is_note[i] = True
                changed = True
    return [is_note.get(i, False) for i in range(len(lines))]


def _shape(text: str, sheet_language: str | None) -> _Shape:
    plain = strip_markup(text).strip().lstrip(">").strip()
    bullet = bool(_BULLET.match(plain))
    prose, had_math = strip_math(plain)
    tokens = [w for w in words(prose) if any(ch.isalpha() for ch in w)]
    if had_math:
        tokens = [w for w in tokens if len(w) > 1]  # single letters there are variables
    if not tokens:
        return _Shape(score=0.0, sentence=False, neutral=True)

    fragments = sum(_is_fragment(w) for w in tokens)
    fragment_share = fragments / len(tokens)
    language = guess_language(prose)
    ends_sentence = bool(_SENTENCE_END.search(prose))
    short = len(plain) <= _SHORT_CHARS and not ends_sentence
    first = tokens[0]
    lower_start = plain[:1].islower()
    sentence = (
        len(tokens) >= 4
        and ends_sentence
        and (first[:1].isupper() or bullet)
        and fragment_share < 0.15
    )

    score = _FRAGMENT_WEIGHT * min(fragment_share, 0.6)
    if short and not bullet:
        score += 1.0
    if sheet_language and language and language != sheet_language:
        score += 1.0
    if lower_start and not bullet:
        score += 0.5
    if sentence:
        score -= 1.5
    if bullet:
        score -= 1.0
    return _Shape(score=score, sentence=sentence, neutral=False)


def _is_fragment(word: str) -> bool:
    """A short piece of a word: not a known short word, an acronym or a variable name."""
    if len(word) > 3 or not word.isalpha():
        return False
    if word.casefold() in FUNCTION_WORDS:
        return False
    if len(word) >= 2 and word.isupper():
        return False  # an acronym in capitals
    if len(word) == 1 and word.isupper():
        return False  # variable: P, Q, D
    return True

"""Find a question's own printed text at the start of a stretch of hand-in text.

Converters reflow text, drop or mangle formulas and students trim questions, so the
comparison is on folded word sequences with difflib, never on exact strings.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from grader.prose.textnorm import fold, strip_markup

_TOKEN = re.compile(r"[^\W_]+")
# How many words of the question's start are compared when recognising it.
_HEAD_WORDS = 12
# A later matching block must be this long to extend the question text past a gap;
# single common words ("the") in an answer must not drag the cut into it.
_MIN_BLOCK_AFTER_GAP = 2
_MAX_GAP = 6
_MAX_LEAD = 3


@dataclass(frozen=True)
class Token:
    word: str  # folded
    line: int  # index of the line in the stretch
    end: int  # character offset just after the word in that line's text


def tokens_of(text: str) -> list[str]:
    return _TOKEN.findall(fold(strip_markup(text)))


def located_tokens(texts: list[str]) -> list[Token]:
    """Folded words of several lines with their positions (offsets into the given texts)."""
    found: list[Token] = []
    for index, text in enumerate(texts):
        # Fold character by character so every folded position maps back (ß -> ss).
        pieces = [fold(ch) for ch in text]
        folded = "".join(pieces)
        offsets = [pos for pos, piece in enumerate(pieces) for _ in piece]
        offsets.append(len(text))
        for m in _TOKEN.finditer(folded):
            end = offsets[m.end()]
            found.append(Token(word=m.group(), line=index, end=end))
    return found


def head_match(question: list[str], text: list[str]) -> float:
    """Share of the question's first words found, in order, at the start of `text` (0..1)."""
    if not question or not text:
        return 0.0
    head = question[:_HEAD_WORDS]
    window = text[: len(head) + 4]
    blocks = difflib.SequenceMatcher(None, head, window, autojunk=False).get_matching_blocks()
    blocks = [b for b in blocks if b.size]
    if not blocks or blocks[0].b > _MAX_LEAD:
        return 0.0
    return sum(b.size for b in blocks) / len(head)


def question_end(question: list[str], text: list[str]) -> int | None:
    """Number of leading words of `text` that are the question's own text, or None.

    None when less than half of the question is found at the start; otherwise the index
    just past the last word that still belongs to the question.
    """
    if not question or not text:
        return None
    window = text[: 2 * len(question) + 10]
    blocks = [b for b in difflib.SequenceMatcher(None, question, window, autojunk=False).get_matching_blocks() if b.size]
    if not blocks or blocks[0].b > _MAX_LEAD:
        return None
    matched = 0
    end = 0
    for block in blocks:
        gap = block.b - end
        if matched and gap > 0 and (block.size < _MIN_BLOCK_AFTER_GAP or gap > _MAX_GAP):
            break
        matched += block.size
        end = block.b + block.size
    if matched < 0.5 * len(question):
        return None
    return end

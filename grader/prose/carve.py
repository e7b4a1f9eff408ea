"""Carve the answer out of one question's segment.

A segment starts with the question's marker; what follows is, in order: the question's own
text (possibly reflowed), perhaps an "Answer:" marker, and the answer, with margin notes
anywhere in between. Here the question text is cut off (fuzzily), the text after the first
answer marker is taken when there is one, placeholders of the template are dropped, and
margin notes are separated from written text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from grader.prose.markers import parse_marker
from grader.prose.notes import classify_notes
from grader.prose.qtext import located_tokens, question_end, tokens_of
from grader.prose.segment import Segment
from grader.prose.sources import Line
from grader.prose.textnorm import remove_spans, strip_math, words

_PLACEHOLDER = re.compile(
    r"^\s*(?:your answer here|type your answer here|answer here|write your answer here|"
    r"ihre antwort(?: hier)?|deine antwort(?: hier)?|todo|\.\.\.|…)\s*[.:!]?\s*$",
    re.I,
)
_LEADING_PUNCTUATION = re.compile(r"^[\s?.:;,!)\]]+")
# An answer whose words are (almost) all words of the question is the question itself.
_QUESTION_ONLY_SHARE = 0.9


@dataclass
class NoteCluster:
    text: str
    lines: list[Line]


@dataclass
class Carved:
    answer: list[tuple[Line, str]] = field(default_factory=list)
    notes: list[NoteCluster] = field(default_factory=list)
    question_only: bool = False  # what was left was only the question's own text
    unmarked: bool = False  # the hand-in marks its answers, this one has no marker
    guessed_question: bool = False  # text set aside as the question without knowing its text


def has_answer_marker(segment: Segment) -> bool:
    """Whether the segment holds an "Answer:" marker (or was opened by "Answer 2a:")."""
    if segment.answer_follows_marker:
        return True
    for text in segment.texts:
        marker = parse_marker(text)
        if marker is not None and marker.answer and not marker.names_question:
            return True
    return False


def carve(
    segment: Segment,
    question_words: list[str],
    *,
    find_notes: bool,
    sheet_language: str | None,
    answers_are_marked: bool = False,
) -> Carved:
    """Split an owned or unowned segment into answer lines and margin-note clusters.

    answers_are_marked: the hand-in puts "Answer:" before its answers. Then formulas
    printed right after a question without such a marker are the question's own.
    """
    items = [
        (line, _clean(text))
        for line, text, given in zip(segment.lines, segment.texts, segment.given_question)
        if not given
    ]
    if segment.owner is not None and not (segment.answer_follows_marker or segment.tagged_answer):
        items = _cut_question_text(items, question_words)

    before: list[tuple[Line, str]] = []
    after: list[tuple[Line, str]] = items
    marked = segment.answer_follows_marker or segment.tagged_answer
    if segment.owner is not None and not marked:
        for index, (line, text) in enumerate(items):
            marker = parse_marker(text)
            if marker is not None and marker.answer and not marker.names_question:
                before, after = items[:index], [(line, marker.rest)] + items[index + 1:]
                marked = True
                break
    unmarked = segment.owner is not None and answers_are_marked and not marked
    set_aside = False
    if unmarked:
        if not question_words:
            # The question's text is unknown: its first paragraph is taken to be the question.
            while after and after[0][1].strip():
                before.append(after.pop(0))
                set_aside = True
        while after and (not after[0][1].strip() or _formula_only(after[0][1])):
            before.append(after.pop(0))
    # Further answer markers inside the answer (a second "Answer:" after a page break).
    after = [_without_answer_marker(line, text) for line, text in after]

    sequence = before + after
    flags = classify_notes([text for _, text in sequence], sheet_language) if find_notes else [False] * len(sequence)
    carved = Carved(notes=_clusters(sequence, flags), guessed_question=set_aside)
    if segment.owner is None:
        return carved
    answer = [(line, text) for (line, text), note in zip(after, flags[len(before):]) if not note]
    answer = _trim_blank(answer)
    answer_words = tokens_of(" ".join(text for _, text in answer))
    if answer_words and question_words:
        known = set(question_words)
        if sum(w in known for w in answer_words) >= _QUESTION_ONLY_SHARE * len(answer_words):
            carved.question_only = True
            answer = []
    carved.answer = answer
    carved.unmarked = unmarked and bool(answer)
    return carved


def _formula_only(text: str) -> bool:
    """Display maths and equation numbers, no words: "$$D(p, q)$$", "(3)"."""
    rest, had_math = strip_math(text)
    rest = re.sub(r"\(\s*\d{1,2}\s*\)", " ", rest)
    letters = [w for w in words(rest) if any(ch.isalpha() for ch in w)]
    if had_math:
        letters = [w for w in letters if len(w) > 1]  # single letters there are variables
    return not letters


def _clean(text: str) -> str:
    text = "\n".join(remove_spans(line, (("<!--", "-->"),)) for line in text.split("\n"))
    return "" if _PLACEHOLDER.match(text) else text


def _cut_question_text(items: list[tuple[Line, str]], question_words: list[str]) -> list[tuple[Line, str]]:
    tokens = located_tokens([text for _, text in items])
    end = question_end(question_words, [t.word for t in tokens])
    if not end:
        return items
    last = tokens[end - 1]
    line, text = items[last.line]
    remainder = _LEADING_PUNCTUATION.sub("", text[last.end:])
    return [(line, remainder)] + items[last.line + 1:]


def _without_answer_marker(line: Line, text: str) -> tuple[Line, str]:
    marker = parse_marker(text)
    if marker is not None and marker.answer and not marker.names_question:
        return line, marker.rest
    return line, text


def _trim_blank(items: list[tuple[Line, str]]) -> list[tuple[Line, str]]:
    start, end = 0, len(items)
    while start < end and not items[start][1].strip():
        start += 1
    while end > start and not items[end - 1][1].strip():
        end -= 1
    return items[start:end]


def _clusters(sequence: list[tuple[Line, str]], flags: list[bool]) -> list[NoteCluster]:
    """Consecutive note lines (blank lines between them allowed) form one cluster."""
    clusters: list[NoteCluster] = []
    current: NoteCluster | None = None
    for (line, text), note in zip(sequence, flags):
        if note:
            if current is None:
                current = NoteCluster(text="", lines=[])
                clusters.append(current)
            current.lines.append(line)
            current.text = f"{current.text}\n{text.strip()}" if current.text else text.strip()
        elif text.strip():
            current = None
    return clusters

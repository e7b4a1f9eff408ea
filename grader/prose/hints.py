"""Hints for a tutor scoring a prose answer: never a verdict, only what to look at.

For one answer: which of the model answer's key points it seems to cover (matched by the
key points' phrasings in any language, tolerant of inflection, case, umlaut spelling,
hyphenation and OCR noise), its length against the sheet's limit, and whether it cites a
source where the sheet asks for one. The score stays the tutor's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from grader.rubric.model_answers import count_sentences, count_words
from grader.prose.textnorm import STOPWORDS, folded_words, same_word, stem

# Phrase words may be spread over this many answer words beyond the phrase's own length.
_SPREAD = 3
# A German compound ("Gradientenverschwinden") holds a phrase when it contains every stem.
_COMPOUND_MIN_STEM = 4

_CITATION_PATTERNS: dict[str, re.Pattern[str]] = {
    "url": re.compile(r"https?://\S+|\bwww\.\S+\.\w{2,}\S*", re.I),
    "et al.": re.compile(r"\bet\s+al\b\.?", re.I),
    "author-year": re.compile(
        r"\(\s*[A-ZÄÖÜ][\w\-]+(?:\s+(?:et\s+al\.?|and|&|und)\s*(?:[A-ZÄÖÜ][\w\-]+)?)?,?\s+(?:19|20)\d{2}[a-z]?\s*\)"
        r"|\b[A-ZÄÖÜ][\w\-]+(?:\s+(?:et\s+al\.?|and|&|und)\s*(?:[A-ZÄÖÜ][\w\-]+)?)?\s+\(\s*(?:19|20)\d{2}[a-z]?\s*\)"
    ),
    "numbered reference": re.compile(r"\[\s*\d{1,3}(?:\s*[,–-]\s*\d{1,3})*\s*\]"),
    "source label": re.compile(r"\b(?:sources?|quellen?|references?|literatur|bibliography|referenzen)\s*:", re.I),
    "arXiv": re.compile(r"\barxiv\s*[:.]?\s*\d{4}\.\d{4,5}(?:v\d+)?|arxiv\.org/(?:abs|pdf)/", re.I),
    "DOI": re.compile(r"\b10\.\d{4,9}/\S+|\bdoi\s*:", re.I),
}
# Lines from here on are a reference list: not counted against the word limit.
_REFERENCES_START = re.compile(
    r"^\s*(?:\*\*|#+\s*)?(?:sources?|quellen?|references?|literatur|bibliography|referenzen)\b\s*:?(?:\*\*)?", re.I
)


class KeyPointLike(Protocol):
    """What hints need of a key point; `grader.rubric.model_answers.KeyPoint` is one."""

    id: str
    summary: str
    phrasings: Any  # {lang: [phrasing, ...]} or an object with one list attribute per language


@dataclass(frozen=True)
class KeyPointSpec:
    """A key point given directly: id, one-line summary, phrasings per language."""

    id: str
    summary: str
    phrasings: dict[str, list[str]] = field(default_factory=dict)


class ProseHint(BaseModel):
    """The suggestion shown to a tutor next to one answer."""

    model_config = ConfigDict(frozen=True)

    covered: list[str] = Field(default_factory=list)  # key point ids, in the model answer's order
    missing: list[str] = Field(default_factory=list)
    evidence: dict[str, str] = Field(default_factory=dict)  # key point id -> the phrasing recognised
    word_count: int = 0
    word_limit: int | None = None
    over_limit: bool = False
    sentence_count: int | None = None  # only when a sentence limit is given
    over_sentence_limit: bool = False
    cites_source: bool | None = None  # None: the sheet asks for no citation
    citations: list[str] = Field(default_factory=list)  # what was taken for a citation
    summary: str = ""


def hint_for_answer(
    text: str,
    key_points: Iterable[KeyPointLike],
    word_limit: int | None = None,
    cite_required: bool = False,
    *,
    sentence_limit: int | None = None,
) -> ProseHint:
    """Key points covered, length against the limit and citation, for one answer text."""
    points = list(key_points)
    answer = folded_words(text)
    covered, missing, evidence = [], [], {}
    for point in points:
        found = next((p for p in _phrasings(point) if phrase_in(p, answer)), None)
        if found is None:
            missing.append(point.id)
        else:
            covered.append(point.id)
            evidence[point.id] = found

    body = _without_reference_list(text)
    words = count_words(body)
    over = word_limit is not None and words > word_limit
    sentences = count_sentences(body) if sentence_limit is not None else None
    over_sentences = sentences is not None and sentence_limit is not None and sentences > sentence_limit
    citations = find_citations(text)
    cites = bool(citations) if cite_required else None

    hint = ProseHint(
        covered=covered,
        missing=missing,
        evidence=evidence,
        word_count=words,
        word_limit=word_limit,
        over_limit=over,
        sentence_count=sentences,
        over_sentence_limit=over_sentences,
        cites_source=cites,
        citations=citations,
    )
    return hint.model_copy(update={"summary": _summary(hint, points, sentence_limit)})


def phrase_in(phrase: str, answer: list[str]) -> bool:
    """Whether a phrasing occurs in the answer's folded words, words in any order, close together."""
    words = folded_words(phrase)
    content = [w for w in words if w not in STOPWORDS] or words
    if not content or not answer:
        return False
    variants = [content] + [content[:i] + [content[i] + content[i + 1]] + content[i + 2:] for i in range(len(content) - 1)]
    return any(_close_together(variant, answer) for variant in variants) or _in_compound(content, answer)


def find_citations(text: str) -> list[str]:
    """Every piece of `text` that looks like a citation, in order of appearance."""
    found: list[tuple[int, str]] = []
    for kind, pattern in _CITATION_PATTERNS.items():
        for m in pattern.finditer(text):
            if kind == "numbered reference" and _is_interval(m.group()):
                continue
            found.append((m.start(), m.group().strip()))
    return [piece for _, piece in sorted(found)]


def _phrasings(point: KeyPointLike) -> list[str]:
    raw = point.phrasings
    if isinstance(raw, Mapping):
        per_language = raw.values()
    elif hasattr(raw, "model_dump"):
        per_language = raw.model_dump().values()
    else:
        per_language = vars(raw).values()
    return [p for phrasings in per_language for p in (phrasings or [])]


def _close_together(phrase: list[str], answer: list[str]) -> bool:
    """Every phrase word matches an answer word (or two joined) within a short window."""
    # Answer words and adjacent pairs joined ("back propagation" ~ "backpropagation").
    candidates = [(i, w) for i, w in enumerate(answer)] + [(i, answer[i] + answer[i + 1]) for i in range(len(answer) - 1)]
    hits: list[tuple[int, int]] = []  # (answer position, phrase word index)
    for j, word in enumerate(phrase):
        positions = [i for i, w in candidates if same_word(word, w)]
        if not positions:
            return False
        hits.extend((i, j) for i in positions)
    hits.sort()
    span = len(phrase) + _SPREAD
    need = len(phrase)
    counts: dict[int, int] = {}
    left = 0
    for position, j in hits:
        counts[j] = counts.get(j, 0) + 1
        while position - hits[left][0] > span:
            k = hits[left][1]
            counts[k] -= 1
            if not counts[k]:
                del counts[k]
            left += 1
        if len(counts) == need:
            return True
    return False


def _in_compound(phrase: list[str], answer: list[str]) -> bool:
    if len(phrase) < 2:
        return False
    stems = [stem(w) for w in phrase]
    if any(len(s) < _COMPOUND_MIN_STEM for s in stems):
        return False
    return any(len(w) >= sum(map(len, stems)) and all(s in w for s in stems) for w in answer)


def _is_interval(piece: str) -> bool:
    """"[0, 1]" is an interval; references are numbered from 1."""
    return "0" in re.findall(r"\d+", piece) or bool(re.fullmatch(r"\[\s*0\s*\]", piece))


def _without_reference_list(text: str) -> str:
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if index > 0 and _REFERENCES_START.match(line):
            return "\n".join(lines[:index])
    return text


def _summary(hint: ProseHint, points: list[KeyPointLike], sentence_limit: int | None) -> str:
    names = {p.id: p.summary for p in points}
    parts = []
    if points:
        parts.append(f"covers {len(hint.covered)} of {len(points)} key points")
        if hint.missing:
            parts.append("missing: " + "; ".join(names[i] for i in hint.missing))
    if hint.word_limit is not None:
        parts.append(f"{hint.word_count} words (limit {hint.word_limit}{', over' if hint.over_limit else ''})")
    else:
        parts.append(f"{hint.word_count} words")
    if sentence_limit is not None:
        parts.append(f"{hint.sentence_count} sentences (limit {sentence_limit}{', over' if hint.over_sentence_limit else ''})")
    if hint.cites_source is not None:
        parts.append("cites a source" if hint.cites_source else "no source cited, the sheet asks for one")
    return "; ".join(parts) + " (a suggestion; the score is the tutor's)"

"""A written answer as a stream of normalised words: what stays the same when a copied answer is touched up.

Words are folded as the prose module folds them (case, umlauts, hyphenation; grader/prose/textnorm.py), cut
to their stem (English and German inflections) and stripped of stop words, so "Die Gradienten verschwinden"
and "die Gradienten verschwindet" give the same words. The names every solution must use (`kl_discrete`, `P`)
and one-letter words are dropped: they are in every answer. Each word keeps its place in
the answer's text, so a report can mark the matching words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from grader.prose.textnorm import STOPWORDS, folded_word_spans, stem


@dataclass
class ProseTokens:
    tokens: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)  # (start, end) in the answer's text


def prose_tokens(text: str, names: Iterable[str] = ()) -> ProseTokens:
    """The normalised words of `text`, without the given identifiers (matched whole, as written)."""
    out = ProseTokens()
    for word, start, end in folded_word_spans(_blank_names(text, names)):
        if len(word) < 2 or word in STOPWORDS:
            continue
        out.tokens.append(stem(word))
        out.spans.append((start, end))
    return out


def _blank_names(text: str, names: Iterable[str]) -> str:
    wanted = sorted({n for n in names if n}, key=len, reverse=True)
    if not wanted:
        return text
    pattern = re.compile(r"(?<![\w.])(?:" + "|".join(re.escape(n) for n in wanted) + r")(?![\w])")
    return pattern.sub(lambda m: " " * len(m.group()), text)

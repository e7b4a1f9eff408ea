"""Group identical and near-identical answers, so a tutor scores them once.

Groups also show possible copying; they are never a verdict. Two answers are alike when
their folded word sequences are close (difflib ratio, which forgives a few changed
words), or when their sentences pair up closely in any order (which forgives reordered
sentences). Alikeness is transitive here: if A~B and B~C, the three are shown together.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

from grader.prose.textnorm import folded_words

DEFAULT_THRESHOLD = 0.85
_SENTENCE_END = re.compile(r"[.!?;:\n]+")


def group_similar_answers(answers: Mapping[str, str], threshold: float = DEFAULT_THRESHOLD) -> list[list[str]]:
    """Groups (two or more members each) of alike answers, keyed by group name.

    Answers without a single word are never grouped. Members keep the order of `answers`;
    groups are ordered by their first member.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    prepared = {name: _Prepared(text or "") for name, text in answers.items()}
    names = [name for name, p in prepared.items() if p.words]

    parent = {name: name for name in names}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if root(a) != root(b) and _alike(prepared[a], prepared[b], threshold):
                parent[root(b)] = root(a)

    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(root(name), []).append(name)
    return [members for members in groups.values() if len(members) > 1]


def similarity(a: str, b: str) -> float:
    """How alike two answers are, from 0 (nothing shared) to 1 (the same words)."""
    pa, pb = _Prepared(a), _Prepared(b)
    if not pa.words or not pb.words:
        return 0.0
    return max(_ratio(pa.words, pb.words, 0.0), _sentence_pairing(pa, pb))


class _Prepared:
    def __init__(self, text: str) -> None:
        self.words = folded_words(text)
        self.sentences = [s for s in (folded_words(part) for part in _SENTENCE_END.split(text)) if s]


def _alike(a: _Prepared, b: _Prepared, threshold: float) -> bool:
    if a.words == b.words:
        return True
    whole = difflib.SequenceMatcher(None, a.words, b.words, autojunk=False)
    # Word multisets that overlap less than the threshold are not alike in any order.
    if whole.real_quick_ratio() < threshold or whole.quick_ratio() < threshold:
        return False
    if whole.ratio() >= threshold:
        return True
    return len(a.sentences) > 1 and len(b.sentences) > 1 and _sentence_pairing(a, b) >= threshold


def _ratio(a: list[str], b: list[str], floor: float) -> float:
    """difflib ratio, skipping the full computation when cheap upper bounds are below `floor`."""
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor:
        return 0.0
    return matcher.ratio()


def _sentence_pairing(a: _Prepared, b: _Prepared) -> float:
    """Length-weighted mean of each sentence's best match in the other answer, both ways."""

    def one_way(xs: list[list[str]], ys: list[list[str]]) -> float:
        total = sum(len(x) for x in xs)
        return sum(len(x) * max(_ratio(x, y, 0.0) for y in ys) for x in xs) / total

    return min(one_way(a.sentences, b.sentences), one_way(b.sentences, a.sentences))

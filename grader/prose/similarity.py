"""Group identical and near-identical answers, so a tutor scores them once.

Groups also show possible copying; they are never a verdict. Two answers are alike when
their folded word sequences are close (difflib ratio, which forgives a few changed
words) or share most word 3-shingles (Jaccard, which forgives reordered sentences).
Alikeness is transitive here: if A~B and B~C, the three are shown together.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from grader.prose.textnorm import folded_words

DEFAULT_THRESHOLD = 0.85
_SHINGLE = 3


def group_similar_answers(answers: Mapping[str, str], threshold: float = DEFAULT_THRESHOLD) -> list[list[str]]:
    """Groups (two or more members each) of alike answers, keyed by group name.

    Answers without a single word are never grouped. Members keep the order of `answers`;
    groups are ordered by their first member.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    names = [name for name, text in answers.items() if folded_words(text or "")]
    words = {name: folded_words(answers[name]) for name in names}
    shingles = {name: _shingles(words[name]) for name in names}

    parent = {name: name for name in names}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if root(a) != root(b) and similarity(words[a], words[b], shingles[a], shingles[b]) >= threshold:
                parent[root(b)] = root(a)

    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(root(name), []).append(name)
    return [members for members in groups.values() if len(members) > 1]


def similarity(a: list[str], b: list[str], shingles_a: frozenset | None = None, shingles_b: frozenset | None = None) -> float:
    """How alike two folded word lists are, from 0 to 1."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    sa = shingles_a if shingles_a is not None else _shingles(a)
    sb = shingles_b if shingles_b is not None else _shingles(b)
    jaccard = len(sa & sb) / len(sa | sb)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    # Cheap upper bounds first: most pairs of different answers stop here.
    if matcher.real_quick_ratio() <= jaccard or matcher.quick_ratio() <= jaccard:
        return jaccard
    return max(jaccard, matcher.ratio())


def _shingles(words: list[str]) -> frozenset:
    if len(words) < _SHINGLE:
        return frozenset({tuple(words)})
    return frozenset(tuple(words[i:i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1))

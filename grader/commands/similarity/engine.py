"""The similarity engine: which pairs of hand-ins share code or written answers beyond what everybody shares.

    report = find_similar(hand_ins, shared, SimilaritySettings())

1. Every hand-in becomes two token streams: its code (code_tokens: Python's tokenizer, names and literals
   normalised) and its written answers (prose_tokens: folded, stemmed content words, one unit per question).
2. Winnowing (winnow.py) keeps a few fingerprints per stream. Prose fingerprints carry their question, so
   answers are only compared with answers to the same question.
3. Discounting: tokens inside a k-gram of the shared material (template code and text, task text) and inside
   a passage that more than `common_limit` hand-ins have are not the hand-in's own; their fingerprints are
   not indexed and never count as a match.
4. An inverted index from fingerprint to hand-ins gives the candidate pairs: those sharing at least one own
   fingerprint. Only they are compared, so the work grows with what is shared, not with the number of pairs.
5. A candidate pair's shared fingerprints are seeds; each is extended to the longest run of equal tokens
   around it (within one cell, file or answer), and the runs are tiled greedily, longest first, so each token
   matches at most once (as JPlag's greedy string tiling does). A run counts when enough of its tokens are
   own tokens: two independent solutions of a short function share a few lines, not a passage.
6. Scores: a part's score is the larger of the two hand-ins' shares (matched own tokens / all own tokens),
   damped linearly while less than the evidence size matches in all. Parts: all code; the code that answers
   the questions (what the rubric checks); all written answers; each single answer. The pair's score is the
   largest of them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from grader.commands.similarity.code_tokens import DEDENT, INDENT, STATEMENT_END, code_tokens
from grader.commands.similarity.inputs import HandInText, SharedMaterial
from grader.commands.similarity.prose_tokens import prose_tokens
from grader.commands.similarity.report import (AnswerMatch, CodeRegion, Discounted, PairReport, PartMatch,
                                      SimilarityReport, SimilaritySettings)
from grader.commands.similarity.winnow import kgram_hashes, token_id, winnow

_SEPARATOR = -1  # between units: never equal to a token id (those are non-negative), so runs stop there
_EMPTY_HASHES = np.zeros(0, dtype=np.uint64)


@dataclass
class _Unit:
    tokens: list[str]
    where: list[tuple[int, int]]  # per token: first and last line (code), or start and end offset (prose)
    questions: list[str | None]
    key: str | None = None  # prose: the question, mixed into the fingerprints


_LAYOUT = frozenset({STATEMENT_END, INDENT, DEDENT})  # tokens that stand for line structure, not for code


class _Stream:
    """One hand-in's tokens of one kind, its k-gram hashes and fingerprints, and which tokens are its own."""

    def __init__(self, units: list[_Unit], k: int, window: int) -> None:
        self.k = k
        self.ids: list[int] = []
        self.unit: list[int] = []
        self.where: list[tuple[int, int]] = []
        self.question: list[str | None] = []
        self.layout: list[bool] = []  # per token: a line-structure token (its line is not the code's)
        self.bounds: list[tuple[int, int]] = []  # per unit: its first and past-last token
        starts, contents, keys, fingerprints = [], [], [], []
        hashes_so_far = 0
        for number, unit in enumerate(units):
            if self.ids:
                self.ids.append(_SEPARATOR)
                self.unit.append(-1)
                self.where.append((0, 0))
                self.question.append(None)
                self.layout.append(True)
            offset = len(self.ids)
            unit_ids = [token_id(token) for token in unit.tokens]
            self.ids.extend(unit_ids)
            self.unit.extend([number] * len(unit_ids))
            self.where.extend(unit.where)
            self.question.extend(unit.questions)
            self.layout.extend(token in _LAYOUT for token in unit.tokens)
            self.bounds.append((offset, len(self.ids)))
            content = kgram_hashes(unit_ids, k)
            if len(content):
                starts.append(np.arange(offset, offset + len(content), dtype=np.int64))
                contents.append(content)
                keys.append(content ^ np.uint64(token_id(f"question {unit.key}")) if unit.key is not None
                            else content)
                fingerprints.append(winnow(content, window) + hashes_so_far)
                hashes_so_far += len(content)
        self.starts = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
        self.content = np.concatenate(contents) if contents else _EMPTY_HASHES
        self.keys = np.concatenate(keys) if keys else _EMPTY_HASHES
        self.fingerprints = np.concatenate(fingerprints) if fingerprints else np.zeros(0, dtype=np.int64)
        self.shared_at = np.zeros(len(self.content), dtype=bool)  # k-gram is in the shared material
        self.common_at = np.zeros(len(self.content), dtype=bool)  # k-gram is a passage everybody has
        self.positions: dict[int, list[int]] = {}
        self.prefix: list[int] = []
        self.answer_prefix: list[int] = []

    def indexable_keys(self) -> set[int]:
        """The keys of fingerprints that are not shared material."""
        chosen = self.fingerprints[~self.shared_at[self.fingerprints]]
        return set(self.keys[chosen].tolist())

    def settle(self, max_positions: int) -> None:
        """Mark own tokens (prefix sums) and index own fingerprints by key, once discounting is known."""
        mask = np.zeros(len(self.ids) + 1, dtype=np.int64)
        discounted = self.starts[self.shared_at | self.common_at]
        np.add.at(mask, discounted, 1)
        np.add.at(mask, discounted + self.k, -1)
        inside = np.cumsum(mask[:-1]) > 0
        own = ~inside & (np.asarray(self.ids, dtype=np.int64) != _SEPARATOR) if self.ids else inside
        self.prefix = [0, *np.cumsum(own, dtype=np.int64).tolist()]
        answering = own & np.array([q is not None for q in self.question], dtype=bool) if self.ids else own
        self.answer_prefix = [0, *np.cumsum(answering, dtype=np.int64).tolist()]
        usable = self.fingerprints[~(self.shared_at | self.common_at)[self.fingerprints]]
        for key, position in zip(self.keys[usable].tolist(), self.starts[usable].tolist()):
            found = self.positions.setdefault(key, [])
            if len(found) < max_positions:
                found.append(position)

    def own(self, start: int = 0, end: int | None = None) -> int:
        return self.prefix[len(self.ids) if end is None else end] - self.prefix[start]

    def own_answering(self, start: int = 0, end: int | None = None) -> int:
        """Own tokens that belong to a question (code of the checked functions and variables)."""
        return self.answer_prefix[len(self.ids) if end is None else end] - self.answer_prefix[start]

    def own_in_unit(self, unit: int) -> int:
        start, end = self.bounds[unit]
        return self.own(start, end)


@dataclass(frozen=True)
class _Run:
    start_a: int
    end_a: int
    start_b: int
    end_b: int
    own_a: int
    own_b: int


@dataclass
class _Prepared:
    hand_in: HandInText
    code: _Stream
    prose: _Stream
    code_units: list[int]  # the index in hand_in.code of each code unit of the stream (empty ones are left out)
    answer_units: list[str]  # question id of each prose unit
    notes: list[str]


def find_similar(hand_ins: Sequence[HandInText], shared: SharedMaterial | None = None,
                 settings: SimilaritySettings | None = None) -> SimilarityReport:
    """Compare every pair of hand-ins (through the index: only pairs that share something are looked at)."""
    started = time.monotonic()
    shared = shared or SharedMaterial()
    settings = settings or SimilaritySettings()
    ids = [h.id for h in hand_ins]
    if len(set(ids)) != len(ids):
        raise ValueError("hand-in ids must be unique")
    prepared = [_prepare(h, shared, settings) for h in hand_ins]
    shared_code, shared_prose = _shared_hashes(shared, settings)
    for p in prepared:
        p.code.shared_at = np.isin(p.code.content, shared_code)
        p.prose.shared_at = np.isin(p.prose.content, shared_prose)
    limit = settings.common_limit(len(prepared))
    code_pairs, common_code = _candidates([p.code for p in prepared], limit)
    prose_pairs, common_prose = _candidates([p.prose for p in prepared], limit)
    for p in prepared:
        p.code.common_at = np.isin(p.code.keys, common_code)
        p.prose.common_at = np.isin(p.prose.keys, common_prose)
        p.code.settle(settings.max_positions)
        p.prose.settle(settings.max_positions)
    candidates = sorted(code_pairs.keys() | prose_pairs.keys())
    pairs = []
    for a, b in candidates:
        pair = _compare(prepared[a], prepared[b], code_pairs.get((a, b), []), prose_pairs.get((a, b), []),
                        settings)
        if pair is not None and pair.score >= settings.listed_from:
            pairs.append(pair)
    order = {name: number for number, name in enumerate(ids)}
    pairs.sort(key=lambda p: (-p.score, order[p.a], order[p.b]))
    template_words = sum(len(prose_tokens(text, shared.names).tokens) for text in shared.text)
    template_tokens = sum(len(code_tokens(text).tokens) for text in shared.code)
    discounted = Discounted(sources=tuple(shared.sources), template_code_tokens=template_tokens,
                            template_words=template_words, names=tuple(sorted(shared.names)), common_limit=limit,
                            common_code_passages=len(common_code), common_prose_passages=len(common_prose))
    notes = {p.hand_in.id: p.notes for p in prepared if p.notes}
    return SimilarityReport(settings=settings, hand_ins=ids, pairs=pairs, discounted=discounted,
                            candidate_pairs=len(candidates), notes=notes, seconds=time.monotonic() - started)


# --- preparing one hand-in ----------------------------------------------------------------------------------


def _prepare(hand_in: HandInText, shared: SharedMaterial, settings: SimilaritySettings) -> _Prepared:
    notes = list(hand_in.notes)
    units: list[_Unit] = []
    code_units: list[int] = []
    budget = settings.max_code_chars
    for number, unit in enumerate(hand_in.code):
        text = unit.text
        if len(text) > budget:
            notes.append(f"{unit.label}: only the first {budget:,} characters of the code were compared"
                         if budget else f"{unit.label}: not compared (more than {settings.max_code_chars:,} "
                                        "characters of code in all)")
            text = text[:budget]
        budget -= len(text)
        if not text.strip():
            continue
        tokens = code_tokens(text, shared.names, unit.question)
        if tokens.note:
            notes.append(f"{unit.label}: {tokens.note}")
        units.append(_Unit(tokens.tokens, tokens.lines, tokens.questions))
        code_units.append(number)
    code = _Stream(units, settings.code_k, settings.code_window)
    answer_units: list[str] = []
    prose_units: list[_Unit] = []
    for question, text in sorted(hand_in.answers.items()):
        if len(text) > settings.max_answer_chars:
            notes.append(f"answer to {question}: only the first {settings.max_answer_chars:,} characters were "
                         "compared")
            text = text[:settings.max_answer_chars]
        words = prose_tokens(text, shared.names)
        if not words.tokens:
            continue
        answer_units.append(question)
        prose_units.append(_Unit(words.tokens, words.spans, [question] * len(words.tokens), key=question))
    prose = _Stream(prose_units, settings.prose_k, settings.prose_window)
    return _Prepared(hand_in, code, prose, code_units, answer_units, notes)


def _shared_hashes(shared: SharedMaterial, settings: SimilaritySettings) -> tuple[np.ndarray, np.ndarray]:
    """Every k-gram hash of the shared code and of the shared text (not winnowed: all of it is discounted)."""
    code = [kgram_hashes([token_id(t) for t in code_tokens(text).tokens], settings.code_k) for text in shared.code]
    prose = [kgram_hashes([token_id(t) for t in prose_tokens(text, shared.names).tokens], settings.prose_k)
             for text in shared.text]
    return (np.unique(np.concatenate(code)) if code else _EMPTY_HASHES,
            np.unique(np.concatenate(prose)) if prose else _EMPTY_HASHES)


def _candidates(streams: list[_Stream], limit: int) -> tuple[dict[tuple[int, int], list[int]], np.ndarray]:
    """The pairs of streams that share own fingerprints, with those fingerprints' keys (the seeds of their
    comparison), and the keys of passages that more than `limit` streams have."""
    postings: dict[int, list[int]] = {}
    for number, stream in enumerate(streams):
        for key in stream.indexable_keys():
            postings.setdefault(key, []).append(number)
    common = [key for key, holders in postings.items() if len(holders) > limit]
    pairs: dict[tuple[int, int], list[int]] = {}
    for key, holders in postings.items():
        if 2 <= len(holders) <= limit:
            for pair in combinations(holders, 2):
                pairs.setdefault(pair, []).append(key)
    return pairs, np.array(sorted(common), dtype=np.uint64)


# --- comparing one pair -------------------------------------------------------------------------------------


def _runs(a: _Stream, b: _Stream, keys: list[int], min_run: int) -> list[_Run]:
    """The matching runs of two streams around the fingerprints (`keys`) they share, tiled greedily (longest
    first); only runs with enough own tokens count."""
    seeds = sorted((pa, pb) for key in keys for pa in a.positions.get(key, ()) for pb in b.positions.get(key, ()))
    found: list[tuple[int, int, int, int, int]] = []  # (length, start in a, start in b, own in a, own in b)
    extended: dict[int, list[tuple[int, int]]] = {}  # per diagonal (pb - pa): runs already found
    ids_a, ids_b, size_a, size_b = a.ids, b.ids, len(a.ids), len(b.ids)
    prefix_a, prefix_b = a.prefix, b.prefix
    for pa, pb in seeds:
        diagonal = pb - pa
        if any(start <= pa < end for start, end in extended.get(diagonal, ())):
            continue
        start_a, start_b = pa, pb
        while start_a > 0 and start_b > 0 and ids_a[start_a - 1] == ids_b[start_b - 1] != _SEPARATOR:
            start_a -= 1
            start_b -= 1
        end_a, end_b = pa, pb
        while end_a < size_a and end_b < size_b and ids_a[end_a] == ids_b[end_b] != _SEPARATOR:
            end_a += 1
            end_b += 1
        extended.setdefault(diagonal, []).append((start_a, end_a))
        own_a = prefix_a[end_a] - prefix_a[start_a]
        own_b = prefix_b[end_b] - prefix_b[start_b]
        if own_a >= min_run and own_b >= min_run:  # most shared fingerprints sit in short runs: never count
            found.append((end_a - start_a, start_a, start_b, own_a, own_b))
    if not found:
        return []
    found.sort(key=lambda run: (-run[0], run[1], run[2]))
    taken_a, taken_b = bytearray(size_a), bytearray(size_b)
    runs = []
    for length, start_a, start_b, own_a, own_b in found:
        end_a, end_b = start_a + length, start_b + length
        if taken_a.find(1, start_a, end_a) != -1 or taken_b.find(1, start_b, end_b) != -1:
            continue
        taken_a[start_a:end_a] = b"\x01" * length
        taken_b[start_b:end_b] = b"\x01" * length
        runs.append(_Run(start_a, end_a, start_b, end_b, own_a, own_b))
    return sorted(runs, key=lambda run: run.start_a)


def _part(matched_a: int, matched_b: int, own_a: int, own_b: int, evidence: int) -> PartMatch:
    share_a = matched_a / own_a if own_a else 0.0
    share_b = matched_b / own_b if own_b else 0.0
    damping = min(1.0, min(matched_a, matched_b) / evidence) if evidence > 0 else 1.0
    return PartMatch(score=round(max(share_a, share_b) * damping, 4), share_a=round(share_a, 4),
                     share_b=round(share_b, 4), matched_a=matched_a, matched_b=matched_b, own_a=own_a, own_b=own_b)


def _compare(a: _Prepared, b: _Prepared, code_keys: list[int], prose_keys: list[int],
             settings: SimilaritySettings) -> PairReport | None:
    code_runs = _runs(a.code, b.code, code_keys, settings.code_min_run)
    prose_runs = _runs(a.prose, b.prose, prose_keys, settings.prose_min_run)
    if not code_runs and not prose_runs:
        return None
    code = _part(sum(r.own_a for r in code_runs), sum(r.own_b for r in code_runs), a.code.own(), b.code.own(),
                 settings.code_evidence)
    # The code that answers the questions, on its own: a copy of every solution stays one when the copier
    # added experiments of their own.
    solutions = _part(sum(a.code.own_answering(r.start_a, r.end_a) for r in code_runs),
                      sum(b.code.own_answering(r.start_b, r.end_b) for r in code_runs), a.code.own_answering(),
                      b.code.own_answering(), settings.code_evidence)
    answers = _answer_matches(a, b, prose_runs, settings)
    prose = _part(sum(r.own_a for r in prose_runs), sum(r.own_b for r in prose_runs), a.prose.own(),
                  b.prose.own(), 2 * settings.prose_evidence)
    prose_score = max([prose.score, *(m.part.score for m in answers)])
    code_score = max(code.score, solutions.score)
    score = max(code_score, prose_score)
    weight: Counter[str] = Counter()
    regions = []
    for run in code_runs:
        region = _code_region(a, b, run)
        regions.append(region)
        if region.question:
            weight[region.question] += min(run.own_a, run.own_b)
    for match in answers:
        weight[match.question] += min(match.part.matched_a, match.part.matched_b)
    questions = tuple(q for q, _ in sorted(weight.items(), key=lambda item: (-item[1], item[0])))
    kept = sorted(regions, key=lambda r: -r.tokens)[:settings.max_regions]
    kept.sort(key=lambda r: (r.unit_a, r.first_a))
    return PairReport(a=a.hand_in.id, b=b.hand_in.id, score=score, flagged=score >= settings.threshold, code=code,
                      solution_code=solutions, code_score=code_score, prose=prose, prose_score=prose_score,
                      questions=questions, code_regions=tuple(kept),
                      answers=tuple(sorted(answers, key=lambda m: -m.part.score)),
                      regions_left_out=len(regions) - len(kept))


def _code_region(a: _Prepared, b: _Prepared, run: _Run) -> CodeRegion:
    """Where a run of code is in each hand-in: the unit (an index into HandInText.code) and its lines."""
    sa, sb = a.code, b.code
    questions = Counter(q for q in sa.question[run.start_a:run.end_a] + sb.question[run.start_b:run.end_b] if q)
    question = questions.most_common(1)[0][0] if questions else None
    # Line breaks and indentation at the ends of a run sit on the neighbouring lines: the code's lines are those
    # of its first and last real tokens (a run always has some: it holds at least code_min_run own tokens).
    inner = [i for i in range(run.end_a - run.start_a) if not sa.layout[run.start_a + i]] or [0]
    first, last = inner[0], inner[-1]
    return CodeRegion(question=question, unit_a=a.code_units[sa.unit[run.start_a]],
                      first_a=sa.where[run.start_a + first][0], last_a=sa.where[run.start_a + last][1],
                      unit_b=b.code_units[sb.unit[run.start_b]], first_b=sb.where[run.start_b + first][0],
                      last_b=sb.where[run.start_b + last][1], tokens=min(run.own_a, run.own_b))


def _answer_matches(a: _Prepared, b: _Prepared, runs: list[_Run], settings: SimilaritySettings) -> list[AnswerMatch]:
    by_question: dict[str, list[_Run]] = {}
    for run in runs:
        by_question.setdefault(a.answer_units[a.prose.unit[run.start_a]], []).append(run)
    matches = []
    for question, question_runs in by_question.items():
        unit_a, unit_b = a.answer_units.index(question), b.answer_units.index(question)
        part = _part(sum(r.own_a for r in question_runs), sum(r.own_b for r in question_runs),
                     a.prose.own_in_unit(unit_a), b.prose.own_in_unit(unit_b), settings.prose_evidence)
        matches.append(AnswerMatch(question=question, part=part,
                                   spans_a=_spans(a.prose, [(r.start_a, r.end_a) for r in question_runs]),
                                   spans_b=_spans(b.prose, [(r.start_b, r.end_b) for r in question_runs])))
    return matches


def _spans(stream: _Stream, runs: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """The text offsets of a stream's own tokens inside the runs, neighbours merged."""
    spans: list[tuple[int, int]] = []
    for start, end in runs:
        for index in range(start, end):
            if stream.own(index, index + 1) == 0:
                continue
            first, last = stream.where[index]
            if spans and first - spans[-1][1] <= 3:  # words a space or a comma apart: one span
                spans[-1] = (spans[-1][0], max(spans[-1][1], last))
            else:
                spans.append((first, last))
    return tuple(sorted(spans))

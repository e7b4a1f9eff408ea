"""What the similarity engine finds: pairs of hand-ins, how much of each matches, and where. Plain data."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SimilaritySettings:
    """How hand-ins are compared. Token counts are normalised tokens (code) or content words (prose)."""

    threshold: float = 0.5  # pairs scoring this or more are flagged
    listed_from: float = 0.2  # pairs scoring this or more are listed (below the threshold: for comparison)
    # Code: k-grams of code_k tokens, winnowed over windows of code_window k-grams, so every shared passage of
    # code_k + code_window - 1 tokens is found. A matching passage counts when at least code_min_run of its
    # tokens are the hand-ins' own (not template, not common); a part's score is damped when fewer than
    # code_evidence tokens match in all.
    code_k: int = 10
    code_window: int = 6
    code_min_run: int = 16
    code_evidence: int = 80
    # Prose, per question, the same in content words (stop words dropped).
    prose_k: int = 4
    prose_window: int = 4
    prose_min_run: int = 7
    prose_evidence: int = 20
    # A passage in more than max(common_hand_ins, common_share × hand-ins) hand-ins is everybody's (MOSS's -m).
    common_hand_ins: int = 10
    common_share: float = 0.1
    # Bounds on what is read of one hand-in; the rest is left out and the report says so.
    max_code_chars: int = 500_000
    max_answer_chars: int = 50_000
    # Bounds on the work for one pair: seeds per fingerprint, regions kept for the report.
    max_positions: int = 4
    max_regions: int = 40

    def common_limit(self, hand_ins: int) -> int:
        """A passage found in more hand-ins than this is treated as shared by everybody."""
        return max(self.common_hand_ins, int(self.common_share * hand_ins))


@dataclass(frozen=True)
class PartMatch:
    """How much of two hand-ins' code (or written answers) matches.

    matched_*: own tokens (or words) inside matching passages; own_*: all own tokens (template and common
    passages excluded); share_* = matched / own; score: the larger share, damped when little matches.
    """

    score: float = 0.0
    share_a: float = 0.0
    share_b: float = 0.0
    matched_a: int = 0
    matched_b: int = 0
    own_a: int = 0
    own_b: int = 0


@dataclass(frozen=True)
class CodeRegion:
    """One matching passage of code: the lines in each hand-in; units are indices into HandInText.code."""

    question: str | None
    unit_a: int
    first_a: int
    last_a: int
    unit_b: int
    first_b: int
    last_b: int
    tokens: int  # own tokens of the passage


@dataclass(frozen=True)
class AnswerMatch:
    """One question's written answers: how much matches, and the matching words (offsets in each answer)."""

    question: str
    part: PartMatch
    spans_a: tuple[tuple[int, int], ...] = ()
    spans_b: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class PairReport:
    a: str
    b: str
    score: float  # the larger of the code score and the prose score
    flagged: bool
    code: PartMatch  # all code
    solution_code: PartMatch  # the code that answers questions (the functions and variables the rubric checks)
    code_score: float  # the larger of the two code parts' scores
    prose: PartMatch  # all written answers together
    prose_score: float  # the larger of the written answers' score and the best single question's
    questions: tuple[str, ...]  # where the matches are, most matching first
    code_regions: tuple[CodeRegion, ...] = ()
    answers: tuple[AnswerMatch, ...] = ()
    regions_left_out: int = 0  # passages beyond settings.max_regions

    @property
    def names(self) -> tuple[str, str]:
        return self.a, self.b


@dataclass(frozen=True)
class Discounted:
    """What was not counted as evidence, for the report."""

    sources: tuple[str, ...] = ()  # where the shared material came from
    template_code_tokens: int = 0
    template_words: int = 0
    names: tuple[str, ...] = ()
    common_limit: int = 0
    common_code_passages: int = 0
    common_prose_passages: int = 0


@dataclass
class SimilarityReport:
    settings: SimilaritySettings
    hand_ins: list[str]
    pairs: list[PairReport]  # score >= settings.listed_from, highest first
    discounted: Discounted
    candidate_pairs: int = 0  # pairs that share at least one fingerprint: the only ones compared
    notes: dict[str, list[str]] = field(default_factory=dict)  # per hand-in: what could not be read or used
    seconds: float = 0.0

    @property
    def flagged(self) -> list[PairReport]:
        return [pair for pair in self.pairs if pair.flagged]

    @property
    def all_pairs(self) -> int:
        count = len(self.hand_ins)
        return count * (count - 1) // 2

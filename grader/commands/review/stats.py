"""Progress, histograms, per-tutor figures and the consistency flag of the review page.

Consistency between tutors is what students complain about: the same answer, two tutors, two scores. Answers
of one group are near-identical (grader.prose.similarity), so they should get the same points; a group whose
answers got points from different tutors that differ by more than CONSISTENCY_SHARE of the check's points is
flagged, with the tutors and the points. Per tutor and check the page also shows how many answers they graded,
the mean and the spread (standard deviation) of their points, beside everyone's.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from grader.store.gradebook import ManualScore

CONSISTENCY_SHARE = 0.25
HISTOGRAM_BINS = 5


@dataclass(frozen=True)
class TutorFigures:
    tutor: str
    graded: int
    mean: float
    spread: float  # population standard deviation of the points given


@dataclass(frozen=True)
class Inconsistency:
    members: list[str]  # the group's hand-ins
    given: list[tuple[str, str, float]]  # (hand-in, tutor, points)
    difference: float


def histogram(points: list[float], max_points: float, bins: int = HISTOGRAM_BINS) -> list[tuple[str, int]]:
    """(label, count) per bin of 0 … max_points; an empty list when nothing is graded yet."""
    if not points:
        return []
    if max_points <= 0:
        return [("0", len(points))]
    counts = [0] * bins
    for value in points:
        counts[min(int(value / max_points * bins), bins - 1)] += 1
    step = max_points / bins
    return [(f"{i * step:g}–{(i + 1) * step:g}", count) for i, count in enumerate(counts)]


def histogram_svg(bars: list[tuple[str, int]], *, width: int = 160, height: int = 40) -> str:
    """A tiny bar chart as inline SVG (numbers only: nothing from a hand-in goes in)."""
    if not bars:
        return ""
    top = max(count for _, count in bars) or 1
    bar = width / len(bars)
    rects = "".join(
        f'<rect x="{i * bar + 1:.1f}" y="{height - count / top * (height - 2):.1f}" width="{bar - 2:.1f}" '
        f'height="{count / top * (height - 2):.1f}"><title>{label}: {count}</title></rect>'
        for i, (label, count) in enumerate(bars))
    return (f'<svg class="histogram" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="points histogram">{rects}</svg>')


def tutor_figures(scores: list[ManualScore]) -> list[TutorFigures]:
    by_tutor: dict[str, list[float]] = {}
    for score in scores:
        by_tutor.setdefault(score.tutor, []).append(score.points)
    return [figures_of(tutor, points) for tutor, points in sorted(by_tutor.items())]


def figures_of(name: str, points: list[float]) -> TutorFigures:
    return TutorFigures(name, len(points), statistics.fmean(points), statistics.pstdev(points))


def inconsistencies(units: list[list[str]], scores: dict[str, ManualScore], max_points: float,
                    share: float = CONSISTENCY_SHARE) -> list[Inconsistency]:
    """Groups whose answers got markedly different points from different tutors."""
    found = []
    for members in units:
        given = [(m, scores[m].tutor, scores[m].points) for m in members if m in scores]
        if len({tutor for _, tutor, _ in given}) < 2:
            continue
        difference = max(p for *_, p in given) - min(p for *_, p in given)
        if difference > share * max_points + 1e-9:
            found.append(Inconsistency(members, given, difference))
    return found

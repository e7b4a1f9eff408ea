"""The planted corpus (tests/similarity/corpus.py): copies rank above every honest pair; the template-only pair
and the honest pairs stay below the threshold; the report shows where the copies match."""

from __future__ import annotations

from dataclasses import replace
from itertools import combinations

import pytest

from grader.commands.similarity import find_similar
from grader.commands.similarity.inputs import CodeUnit, HandInText, SharedMaterial
from grader.commands.similarity.report import PairReport, SimilarityReport, SimilaritySettings
from tests.similarity.corpus import CHANGED_SENTENCES, COPIES, HONEST, HONEST_3, TEMPLATE_PAIR

ALL_LISTED = SimilaritySettings(listed_from=0.0)


@pytest.fixture(scope="module")
def report(corpus: list[HandInText], sheet02_shared: SharedMaterial) -> SimilarityReport:
    return find_similar(corpus, sheet02_shared, ALL_LISTED)


def pair(report: SimilarityReport, first: str, second: str) -> PairReport | None:
    return next((p for p in report.pairs if {p.a, p.b} == {first, second}), None)


def score(report: SimilarityReport, first: str, second: str) -> float:
    found = pair(report, first, second)
    return found.score if found is not None else 0.0


def test_the_copies_are_flagged_and_rank_above_every_other_pair(report: SimilarityReport) -> None:
    names = report.hand_ins
    copies = {frozenset(c) for c in COPIES}
    others = [score(report, a, b) for a, b in combinations(names, 2) if frozenset({a, b}) not in copies]
    lowest_copy = min(score(report, *sorted(c)) for c in copies)
    assert lowest_copy >= report.settings.threshold
    assert lowest_copy > max(others), "an honest pair ranks with the copies"
    assert {frozenset(p.names) for p in report.flagged} == copies
    assert {frozenset(p.names) for p in report.pairs[:3]} == copies


def test_honest_and_template_only_pairs_stay_well_below_the_threshold(report: SimilarityReport) -> None:
    threshold = report.settings.threshold
    for first, second in combinations(HONEST, 2):
        assert score(report, first, second) < threshold / 2, (first, second)
    assert score(report, *sorted(TEMPLATE_PAIR)) < 0.05


def test_without_the_template_discount_the_template_only_pair_would_be_flagged(
        corpus: list[HandInText], sheet02_shared: SharedMaterial) -> None:
    """The template pair stays apart because of the discount, not by chance."""
    template_pair = [h for h in corpus if h.id in TEMPLATE_PAIR]
    undiscounted = find_similar(template_pair, SharedMaterial(), ALL_LISTED)
    assert undiscounted.flagged and undiscounted.flagged[0].code.score >= undiscounted.settings.threshold
    discounted = find_similar(template_pair, sheet02_shared, ALL_LISTED)
    assert not discounted.flagged


def test_renamed_and_reordered_code_matches_function_by_function(report: SimilarityReport,
                                                                 corpus: list[HandInText]) -> None:
    found = pair(report, "honest_1", "renamed")
    assert found is not None and found.code.score > 0.9 and found.prose_score < 0.2
    assert {"1b", "3c", "3d", "3g"} <= set(found.questions)
    texts = {h.id: h for h in corpus}
    renamed = texts["renamed"]
    assert len(renamed.code) == 1, "the renamed copy keeps all its functions in one cell"
    # The regions point at the same function in both hand-ins, though in another order and under other names.
    for region in found.code_regions:
        original = texts["honest_1"].code[region.unit_a].text.splitlines()[region.first_a - 1:region.last_a]
        copied = renamed.code[region.unit_b].text.splitlines()[region.first_b - 1:region.last_b]
        assert len(original) == len(copied)
    order = [r.question for r in sorted(found.code_regions, key=lambda r: r.first_b) if r.question]
    assert order.index("3g") < order.index("1b"), "the copy put 3g before 1b"


def test_reworded_comments_and_shuffled_cells_do_not_hide_a_copy(report: SimilarityReport) -> None:
    found = pair(report, "honest_2", "reworded")
    assert found is not None and found.code.score > 0.9
    assert found.code.share_a > 0.9 and found.code.share_b > 0.9


def test_copied_prose_with_two_changed_sentences_is_found_per_question(report: SimilarityReport,
                                                                       corpus: list[HandInText]) -> None:
    found = pair(report, "honest_3", "prose_copy")
    assert found is not None and found.prose_score > 0.8 and found.code.score < 0.1
    by_question = {m.question: m for m in found.answers}
    assert set(by_question) == {qid for qid in (c.removeprefix("answer") for c in HONEST_3.answers)}
    # Unchanged answers match whole; in the two changed ones the new sentence is (almost) not marked.
    assert by_question["2b"].part.share_a == pytest.approx(1.0)
    copy_text = {h.id: h for h in corpus}["prose_copy"].answers
    for cell, (_, new) in CHANGED_SENTENCES.items():
        question = cell.removeprefix("answer")
        match = by_question[question]
        start = copy_text[question].index(new)
        side_b = match.spans_b if found.b == "prose_copy" else match.spans_a
        marked = sum(max(0, min(end, start + len(new)) - max(begin, start)) for begin, end in side_b)
        # A run may reach one word into the new sentence when that word follows in both ("... Third").
        assert marked < 0.2 * len(new), f"{question}: the rewritten sentence is marked as copied"
        assert 0.5 < (match.part.share_b if found.b == "prose_copy" else match.part.share_a) < 1.0


def test_scores_do_not_depend_on_the_order_of_hand_ins(corpus: list[HandInText],
                                                       sheet02_shared: SharedMaterial,
                                                       report: SimilarityReport) -> None:
    backwards = find_similar(list(reversed(corpus)), sheet02_shared, ALL_LISTED)
    forwards = {frozenset(p.names): (p.score, p.code, p.prose_score) for p in report.pairs}
    assert {frozenset(p.names): (p.score, _swap(p).code, p.prose_score) for p in backwards.pairs} == forwards


def _swap(pair_report: PairReport) -> PairReport:
    """The pair seen from the other side (A and B exchanged), for comparing reports made in another order."""
    code = pair_report.code
    swapped = replace(code, share_a=code.share_b, share_b=code.share_a, matched_a=code.matched_b,
                      matched_b=code.matched_a, own_a=code.own_b, own_b=code.own_a)
    return replace(pair_report, code=swapped)


def test_only_pairs_sharing_a_fingerprint_are_compared(report: SimilarityReport) -> None:
    assert report.candidate_pairs < report.all_pairs
    assert report.discounted.template_code_tokens > 50 and report.discounted.template_words > 100
    assert "kl_discrete" in report.discounted.names and "bidirectional_online_feasible" in report.discounted.names


def test_a_copy_of_every_solution_stays_a_copy_under_a_pile_of_own_experiments(
        corpus: list[HandInText], sheet02_shared: SharedMaterial) -> None:
    """The copier added many cells of their own: most of their code is theirs, all of their solutions are not."""
    original = next(h for h in corpus if h.id == "honest_1")
    experiments = tuple(CodeUnit(f"cell {90 + i}", "\n".join(
        f"curve_{i}_{j} = np.linspace({j}, {i + j}, {10 + j}) ** {j % 3 + 1} - np.cumsum(np.ones({j + 2}))[:{j + 1}]"
        for j in range(25))) for i in range(6))
    padded = replace(original, id="padded", code=original.code + experiments, answers={})
    report = find_similar([original, padded], sheet02_shared)
    found = report.flagged[0]
    assert found.code.share_b < 0.5, "the experiments are most of the copier's code"
    assert found.solution_code.share_a > 0.95 and found.solution_code.share_b > 0.95
    assert found.code_score == found.score >= report.settings.threshold

"""The similarity report of a graded sheet: read the hand-ins back, compare, flag them in the gradebook, write
OUT/similarity.html and OUT/similarity.csv. Used by `grader similarity` and after every `grader grade`.

    outcome = report_for_sheet(book, loaded, out)          # raises SimilarityError for usage problems
    outcome.report.flagged, outcome.state.pairs

Flags live in the gradebook (similar_pairs, with the tutors' clearances in similarity_clearances); the batch's
outputs show them to tutors (gradebook.csv, summary.html), never to students (feedback, results.json).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from grader.store.gradebook import Gradebook, SimilarityState, SimilarPair
from grader.commands.manual.questions import ManualError, load_answers, manual_items, prose_questions
from grader.commands.manual.reading import DEFAULT_LIMITS, ReadLimits
from grader.rubric.load import LoadedRubric
from grader.commands.similarity.collect import collect_hand_ins
from grader.commands.similarity.engine import find_similar
from grader.commands.similarity.inputs import HandInText
from grader.commands.similarity.page import write_similarity_csv, write_similarity_page
from grader.commands.similarity.report import SimilarityReport, SimilaritySettings
from grader.commands.similarity.shared import SharedMaterialError, shared_material

HTML_NAME, CSV_NAME = "similarity.html", "similarity.csv"


class SimilarityError(Exception):
    """The report cannot be made (no gradebook, a course file that cannot be read); names the file."""


@dataclass
class SimilarityOutcome:
    report: SimilarityReport
    texts: dict[str, HandInText]
    state: SimilarityState
    written: list[Path] = field(default_factory=list)


def report_for_sheet(book: Gradebook, loaded: LoadedRubric, out: Path, *,
                     settings: SimilaritySettings | None = None, extra_shared: list[Path] | None = None,
                     workers: int | None = None, limits: ReadLimits = DEFAULT_LIMITS,
                     now: datetime | None = None, out_hint: str | None = None) -> SimilarityOutcome:
    """Compare every graded hand-in of the sheet, store the flagged pairs, write the HTML and CSV into `out`."""
    settings = settings or SimilaritySettings()
    sheet = loaded.rubric.sheet
    try:
        answers = load_answers(loaded)
        shared = shared_material(loaded, extra_shared, answers=answers)
        questions = prose_questions(manual_items(loaded, answers))
    except (SharedMaterialError, ManualError) as exc:
        raise SimilarityError(str(exc)) from None
    results = book.results(sheet)
    texts = collect_hand_ins(results, out, questions, max_code_chars=settings.max_code_chars,
                             max_answer_chars=settings.max_answer_chars, workers=workers or os.cpu_count(),
                             limits=limits)
    report = find_similar(texts, shared, settings)
    contents = {r.record.file_name: r.record.content_sha256 for r in results}
    pairs = [SimilarPair(p.a, p.b, p.score, p.code_score, p.prose_score, p.questions, contents[p.a],
                         contents[p.b]) for p in report.flagged]
    book.record_similarity(sheet, threshold=settings.threshold, hand_ins=len(texts), pairs=pairs)
    state = book.similarity(sheet)
    assert state is not None
    clearances = {(p.file_a, p.file_b): p.clearance for p in state.pairs if p.clearance is not None}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    by_id = {text.id: text for text in texts}
    written = [write_similarity_page(report, by_id, out / HTML_NAME, title=loaded.rubric.title,
                                     clearances=clearances, now=now or datetime.now(UTC),
                                     out_hint=out_hint or str(out)),
               write_similarity_csv(report, out / CSV_NAME, clearances)]
    return SimilarityOutcome(report=report, texts=by_id, state=state, written=written)


@dataclass
class BatchSimilarity:
    """What the batch gets from its similarity step: the state to show, and whether Ctrl-C stopped it."""

    state: SimilarityState | None
    interrupted: bool = False


def similarity_after_grading(book: Gradebook, loaded: LoadedRubric, out: Path, *, workers: int | None,
                             now: datetime | None = None) -> BatchSimilarity:
    """The batch's similarity step. It never stops the batch: a failure (or Ctrl-C) becomes a note on the
    previous report's state, which summary.html shows."""
    sheet = loaded.rubric.sheet
    try:
        return BatchSimilarity(report_for_sheet(book, loaded, out, workers=workers, now=now).state)
    except KeyboardInterrupt:
        return BatchSimilarity(_with_note(book.similarity(sheet), sheet, "the similarity report was interrupted; "
                                          f"run `grader similarity {out}` to make it"), interrupted=True)
    except Exception as exc:  # a bug or an unreadable course file must not cost the batch its outputs
        return BatchSimilarity(_with_note(book.similarity(sheet), sheet,
                                          f"the similarity report could not be made: {exc}"))


def _with_note(state: SimilarityState | None, sheet: str, note: str) -> SimilarityState:
    if state is None:
        return SimilarityState(sheet=sheet, computed_at=datetime.now(UTC), threshold=0.0, hand_ins=0, pairs=[],
                               note=note)
    return SimilarityState(sheet=state.sheet, computed_at=state.computed_at, threshold=state.threshold,
                           hand_ins=state.hand_ins, pairs=state.pairs,
                           note=f"{note}; the flags shown are from {state.computed_at:%Y-%m-%d %H:%M} UTC")

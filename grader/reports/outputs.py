"""Rebuild every output of a batch from the gradebook: per hand-in results.json and feedback, then
gradebook.csv and summary.html. Run after every batch, so resumed runs and manual scores show up.

Flags that need the whole batch (a student named in two hand-ins) are worked out here, from the stored
students of every hand-in, and never stored: they change when hand-ins come and go.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from grader.intake.flags import FlagRecord
from grader.store.gradebook import SimilarityState, StoredResult
from grader.intake.naming import Student, find_duplicate_students
from grader.rubric.model_answers import ModelAnswersError, SheetAnswers, rubric_answers
from grader.reports.document import to_html, to_markdown
from grader.reports.feedback import feedback_document
from grader.reports.gradebook_csv import write_gradebook_csv
from grader.reports.page_assets import link_page_assets
from grader.reports.question_stats import mistake_rows, write_mistakes_csv
from grader.execution.ran_notebook import read_figures
from grader.reports.results_json import results_json
from grader.reports.summary import write_summary
from grader.rubric.load import LoadedRubric


MISTAKES_CSV = "mistakes.csv"


def write_outputs(results: list[StoredResult], loaded: LoadedRubric, out: Path, *, now: datetime,
                  similarity: SimilarityState | None = None, hand_ins: set[str] | None = None) -> list[Path]:
    """`similarity`: the gradebook's latest similarity report; its `similar_to` flags go to the tutors' files
    (gradebook.csv, summary.html) only, never to the students' feedback or results.json.

    `hand_ins`: file names whose results.json and feedback to rewrite (None: all); gradebook.csv and
    summary.html are always rewritten. The review page passes the hand-ins a save changed: the others' files
    would come out the same."""
    rubric = loaded.rubric
    out = Path(out)
    notes: list[str] = []
    answers = _model_answers(loaded, notes)
    results = with_batch_flags(results)
    sandboxes = Counter(r.record.sandbox for r in results)
    if len(sandboxes) > 1:  # e.g. a warm pool that could not start: say what each hand-in really ran in
        notes.append("hand-ins ran in different sandboxes: " + ", ".join(
            f"{count} in {name}" for name, count in sorted(sandboxes.items())) + " (each hand-in's results.json "
            "and the gradebook say which)")
    written: list[Path] = []
    for result in results:
        if hand_ins is not None and result.record.file_name not in hand_ins:
            continue
        folder = out / result.record.folder
        folder.mkdir(parents=True, exist_ok=True)
        written.append(_write(folder / "results.json",
                              json.dumps(results_json(result, rubric, now=now), indent=2, ensure_ascii=False) + "\n"))
        document = feedback_document(result, rubric, answers, now=now, figures=read_figures(folder))
        written.append(_write(folder / "feedback.md", to_markdown(document)))
        written.append(_write(folder / "feedback.html",
                              to_html(document, assets=link_page_assets(folder / "feedback.html", out))))
    tutors = with_similarity_flags(results, similarity)
    written.append(write_gradebook_csv(tutors, rubric, out / "gradebook.csv"))
    written.append(write_mistakes_csv(mistake_rows(tutors, rubric), rubric.sheet, out / MISTAKES_CSV))
    written.append(write_summary(tutors, rubric, out / "summary.html", now=now, notes=notes, similarity=similarity,
                                 mistakes_csv=MISTAKES_CSV))
    return written


def with_batch_flags(results: list[StoredResult]) -> list[StoredResult]:
    """The results with `duplicate_student` flags for every student id named by more than one hand-in."""
    duplicates = find_duplicate_students(
        (r.record.file_name, [Student(s.name, s.student_id) for s in r.record.students]) for r in results)
    updated = []
    for result in results:
        extra = [FlagRecord(f.code, f.message) for f in duplicates.get(result.record.file_name, [])]
        if extra:
            result = replace(result, record=replace(result.record, flags=[*result.record.flags, *extra]))
        updated.append(result)
    return updated


def with_similarity_flags(results: list[StoredResult], similarity: SimilarityState | None) -> list[StoredResult]:
    """The results with a `similar_to` flag per flagged pair a hand-in is in (cleared pairs flag nothing)."""
    if similarity is None:
        return results
    from grader.reports.similarity_section import similar_to_message

    updated = []
    for result in results:
        name = result.record.file_name
        extra = [FlagRecord("similar_to", similar_to_message(pair, name)) for pair in similarity.flagged(name)]
        if extra:
            result = replace(result, record=replace(result.record, flags=[*result.record.flags, *extra]))
        updated.append(result)
    return updated


def _model_answers(loaded: LoadedRubric, notes: list[str]) -> SheetAnswers | None:
    try:
        return rubric_answers(loaded.course_root, loaded.rubric.model_answers)
    except ModelAnswersError as exc:
        notes.append(f"model answers left out of the feedback: {exc}")
        return None


def _write(path: Path, text: str) -> Path:
    # Write then rename: a reader never sees half a file, and a kill leaves the old one.
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path

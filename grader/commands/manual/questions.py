"""What tutors score by hand: the rubric's manual checks, and the prose questions extraction looks for.

A rubric names its questions by id only ("1a", "11.2.3b", "11.3c"); extraction needs the task and part
labels as a sheet prints them. They are read off the id: the leading numbers up to two levels are the task
("1", "11.2"), the rest is the part ("a", "3 b", "c"). The question's text, which helps extraction find
and cut it, comes from the model answers' `question` field when the course has one.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.rubric.model_answers import ModelAnswer, ModelAnswersError, SheetAnswers, rubric_answers
from grader.prose.questions import ProseQuestion, task_and_part
from grader.rubric.load import LoadedRubric
from grader.checks.kinds.manual import ManualCheck



class ManualError(Exception):
    """A problem with an export or import as a whole (no gradebook, no rubric); the message names the file."""


@dataclass(frozen=True)
class ManualItem:
    """One tutor check of the rubric, with what a tutor needs to score it."""

    question_id: str
    title: str
    check_id: str
    max_points: float
    description: str
    model: ModelAnswer | None  # the model answer the check is scored against, if the course has one


def load_answers(loaded: LoadedRubric) -> SheetAnswers | None:
    """The rubric's model answers, or None when it names none. Raises ManualError for a broken file."""
    try:
        return rubric_answers(loaded.course_root, loaded.rubric.model_answers)
    except ModelAnswersError as exc:
        raise ManualError(str(exc)) from None


def manual_items(loaded: LoadedRubric, answers: SheetAnswers | None) -> list[ManualItem]:
    """Every manual check in rubric order."""
    items = []
    for question in loaded.rubric.questions:
        for check in question.checks:
            if isinstance(check, ManualCheck):
                key = check.answer or question.id
                model = answers.questions.get(key) if answers is not None else None
                items.append(ManualItem(question.id, question.title, check.id, check.points, check.description,
                                        model))
    return items


def prose_questions(items: list[ManualItem]) -> list[ProseQuestion]:
    """The questions to look for in hand-ins: those with a tutor check, in rubric order, once each."""
    questions: dict[str, ProseQuestion] = {}
    for item in items:
        if item.question_id in questions:
            if not questions[item.question_id].text and item.model is not None:
                questions[item.question_id] = _question(item)
            continue
        questions[item.question_id] = _question(item)
    return list(questions.values())


def _question(item: ManualItem) -> ProseQuestion:
    task, part = task_and_part(item.question_id)
    return ProseQuestion(id=item.question_id, task=task, part=part,
                         text=" ".join(item.model.question.split()) if item.model is not None else "")

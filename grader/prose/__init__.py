"""Written (prose) answers: find them in hand-ins, and prepare hints for the tutor who scores them.

    extract_answers(path, questions) -> {question id: AnswerText}
    hint_for_answer(text, key_points, word_limit, cite_required) -> ProseHint
    group_similar_answers({group: text}) -> [[group, ...], ...]
"""

from grader.prose.extract import AnswerText, HandInReadError, ProseQuestion, extract_answers
from grader.prose.hints import KeyPointSpec, ProseHint, find_citations, hint_for_answer
from grader.prose.similarity import group_similar_answers

__all__ = [
    "AnswerText",
    "HandInReadError",
    "KeyPointSpec",
    "ProseHint",
    "ProseQuestion",
    "extract_answers",
    "find_citations",
    "group_similar_answers",
    "hint_for_answer",
]

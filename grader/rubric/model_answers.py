"""Model answers for a sheet's prose questions: the answer, the key points a tutor looks for, the sources.

A course keeps them as data, one YAML file per sheet (`questions:` maps a question id to its model answer),
so the grader can show them to tutors and build hints from the key points' phrasings. Everything is
validated once, when the file is loaded; every error names the file, the question and the field.
Questions, model answers and key points may write formulas in LaTeX between $...$ or $$...$$: the HTML pages
typeset them (docs/pages.md), Markdown keeps them as typed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
Text = Annotated[str, Field(min_length=1)]

MIN_KEY_POINTS, MAX_KEY_POINTS = 3, 6
MIN_PHRASINGS = 2

# "Surname, Initials", so the first author's surname can be looked for in an answer that must cite.
_AUTHOR = re.compile(r"^[^,]+, \S.*$")
# A sentence ends at . ! or ? followed by the end of the text or by whitespace and a capital letter or digit,
# so "e.g. the", "et al., 2016" and decimals like "0.25" do not end one.
_SENTENCE_END = re.compile(r"[.!?]+(?=\s+[A-Z0-9ÄÖÜ]|\s*$)")


def count_words(text: str) -> int:
    """Whitespace-separated tokens: the simple count a student can reproduce."""
    return len(text.split())


def count_sentences(text: str) -> int:
    """Sentences by terminal punctuation; a trailing fragment without a full stop counts as one."""
    text = text.strip()
    if not text:
        return 0
    ends = list(_SENTENCE_END.finditer(text))
    tail = text[ends[-1].end():].strip() if ends else text
    return len(ends) + (1 if tail else 0)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Source(_Strict):
    """A citable work. Authors are written "Surname, Initials" so the first surname can be found in prose."""

    title: Text
    authors: list[Text] = Field(min_length=1)
    year: int = Field(ge=1800, le=2100)
    url: str | None = Field(None, pattern=r"^https?://\S+$")

    @field_validator("authors")
    @classmethod
    def _surname_first(cls, authors: list[str]) -> list[str]:
        odd = [name for name in authors if not _AUTHOR.match(name)]
        if odd:
            raise ValueError(f'write each author as "Surname, Initials" (not: {", ".join(map(repr, odd))})')
        return authors

    @property
    def first_author_surname(self) -> str:
        return self.authors[0].split(",", 1)[0].strip()


class Phrasings(_Strict):
    """Short phrasings or keywords by which a hand-in expresses a key point, per language."""

    en: list[Text] = Field(min_length=MIN_PHRASINGS)
    de: list[Text] = Field(min_length=MIN_PHRASINGS)


class KeyPoint(_Strict):
    id: Slug
    summary: Text  # one line: what the tutor looks for
    phrasings: Phrasings


class ModelAnswer(_Strict):
    question: Text  # short text of the question, for display next to the answer
    word_limit: int | None = Field(None, gt=0)
    sentence_limit: int | None = Field(None, gt=0)
    # Whether the limits above are printed on the sheet or were chosen by the course staff.
    limit_from_sheet: bool
    cite_required: bool
    note: str | None = None  # anything a tutor should know when using this answer
    model_answer: Text
    key_points: list[KeyPoint] = Field(min_length=MIN_KEY_POINTS, max_length=MAX_KEY_POINTS)
    sources: list[Source] = Field(min_length=1)

    @field_validator("model_answer")
    @classmethod
    def _within_limits(cls, answer: str, info: ValidationInfo) -> str:
        # word_limit and sentence_limit are declared earlier, so they are in info.data when valid.
        word_limit, sentence_limit = info.data.get("word_limit"), info.data.get("sentence_limit")
        if word_limit is not None and (n := count_words(answer)) > word_limit:
            raise ValueError(f"has {n} words, over the word_limit of {word_limit}")
        if sentence_limit is not None and (n := count_sentences(answer)) > sentence_limit:
            raise ValueError(f"has {n} sentences, over the sentence_limit of {sentence_limit}")
        return answer

    @field_validator("key_points")
    @classmethod
    def _unique_key_point_ids(cls, points: list[KeyPoint]) -> list[KeyPoint]:
        ids = [point.id for point in points]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"key point ids used twice: {', '.join(duplicates)}")
        return points

    @model_validator(mode="after")
    def _cites_when_required(self) -> ModelAnswer:
        # A question that demands citations must be answered by an example that cites.
        if self.cite_required:
            cited = [s.first_author_surname for s in self.sources if s.first_author_surname in self.model_answer]
            if not cited:
                raise ValueError("cite_required is true but model_answer names none of its sources' first authors")
        return self


class SheetAnswers(_Strict):
    sheet: Slug
    questions: dict[Annotated[str, Field(pattern=r"^[\w.]+$")], ModelAnswer] = Field(min_length=1)


class ModelAnswersError(ValueError):
    """A model-answer file that cannot be used, with every problem listed."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path, self.problems = path, problems
        super().__init__(f"{path}: " + ("\n  " if len(problems) > 1 else "") + "\n  ".join(problems))


def load_model_answers(path: Path) -> SheetAnswers:
    """Read and validate one sheet's model-answer YAML file (a course keeps them in `reference/answers/`)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelAnswersError(path, [f"cannot read the file: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        raise ModelAnswersError(path, [f"not valid YAML: {exc}"]) from None
    try:
        return SheetAnswers.model_validate(raw)
    except ValidationError as exc:
        raise ModelAnswersError(path, [_describe(error, raw) for error in exc.errors()]) from None


def _describe(error: Any, raw: Any) -> str:
    """'question 1c, key point answer-no, field phrasings.de: List should have ...' from a pydantic error."""
    loc = list(error["loc"])
    parts: list[str] = []
    if len(loc) >= 2 and loc[0] == "questions":
        parts.append(f"question {loc[1]}")
        questions = raw.get("questions") if isinstance(raw, dict) else None
        node = questions.get(loc[1]) if isinstance(questions, dict) else None
        loc = loc[2:]
        if len(loc) >= 2 and loc[0] == "key_points" and isinstance(loc[1], int):
            point = _item(node, "key_points", loc[1])
            name = point.get("id") if isinstance(point, dict) else None
            parts.append(f"key point {name or f'#{loc[1] + 1}'}")
            loc = loc[2:]
        elif len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
            parts.append(f"source #{loc[1] + 1}")
            loc = loc[2:]
    if loc:
        parts.append(f"field {'.'.join(str(key) for key in loc)}")
    message = error["msg"].removeprefix("Value error, ")
    return f"{', '.join(parts) or 'top level'}: {message}"


def _item(node: Any, key: str, index: int) -> Any:
    try:
        return node[key][index]
    except (KeyError, IndexError, TypeError):
        return None


def rubric_answers(course_root: Path, name: str | None) -> SheetAnswers | None:
    """The model answers a rubric names (`model_answers`, relative to the course), or None when it names none.
    Raises ModelAnswersError for a broken file."""
    return load_model_answers(Path(course_root) / name) if name else None

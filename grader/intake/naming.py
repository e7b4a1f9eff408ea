"""Reading the team out of a hand-in's file name (`Name1_id1_Name2_id2[_Name3_id3].zip`).

A name that breaks the rule is still parsed as far as it goes: the hand-in is graded anyway and
the problems come back as flags that say exactly what is wrong, for the tutors to act on.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from grader.intake.flags import Flag


class NamingRule(BaseModel):
    """The sheet's naming rule for hand-ins; the rubric embeds one of these."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    pattern: str = Field(
        default="Name1_id1_Name2_id2[_Name3_id3]",
        description="How the rule reads on the sheet; shown to students in feedback.",
    )
    min_team: int = Field(default=2, ge=1)
    max_team: int = Field(default=3, ge=1)
    id_pattern: str = Field(default=r"\d+", description="Regular expression a whole student id must match.")
    id_description: str = Field(default="digits only", description="The id rule in words, for messages.")
    extensions: list[str] = Field(
        default_factory=lambda: [".zip", ".ipynb", ".py"],
        description="Allowed file endings, lower case; matched in any case.",
    )

    @field_validator("id_pattern")
    @classmethod
    def _id_pattern_compiles(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"id_pattern {value!r} is not a valid regular expression: {exc}") from exc
        if compiled.fullmatch(""):
            raise ValueError(f"id_pattern {value!r} matches an empty id")
        if "_" in value or compiled.fullmatch("_"):
            # Ids are found by splitting on '_', so an id can never contain one.
            raise ValueError(f"id_pattern {value!r} may not allow '_': underscores separate the parts")
        return value

    @field_validator("extensions")
    @classmethod
    def _extensions_are_endings(cls, value: list[str]) -> list[str]:
        for ending in value:
            if not ending.startswith(".") or ending != ending.lower() or len(ending) < 2:
                raise ValueError(f"extension {ending!r} must be lower case and start with '.', like '.zip'")
        return value

    @model_validator(mode="after")
    def _team_bounds_ordered(self) -> NamingRule:
        if self.max_team < self.min_team:
            raise ValueError(f"max_team ({self.max_team}) is smaller than min_team ({self.min_team})")
        return self


@dataclass(frozen=True)
class Student:
    """One student as a file name or team list gives them; either part may be missing."""

    name: str | None
    student_id: str | None

    def label(self) -> str:
        """A short human form for messages: "'Müller' (123)"."""
        name = f"'{self.name}'" if self.name else "a student without a name"
        return f"{name} ({self.student_id})" if self.student_id else name


@dataclass(frozen=True)
class ParsedName:
    """What a hand-in's file name says about its team, and what is wrong with it."""

    filename: str
    extension: str  # lower case with the dot, "" when there is none
    students: tuple[Student, ...]
    problems: tuple[Flag, ...]


def nfc(text: str) -> str:
    """NFC-normalise: macOS writes decomposed umlauts (u + combining diaeresis) into names."""
    return unicodedata.normalize("NFC", text)


def parse_submission_name(filename: str, rule: NamingRule | None = None) -> ParsedName:
    """Split `Name1_id1_Name2_id2[_Name3_id3].ext` into students and flag every deviation.

    Parts are separated by '_'; a part matching `rule.id_pattern` is an id and closes the
    student whose name came before it. Names may hold spaces, hyphens and accents.
    """
    rule = rule or NamingRule()
    base = nfc(_base_name(filename))
    stem, extension = _split_extension(base)
    problems: list[Flag] = []

    if extension not in rule.extensions:
        allowed = _or_list(rule.extensions)
        if extension:
            problems.append(Flag("naming", f"the file ends in '{base[len(stem):]}', the rule expects {allowed}"))
        else:
            problems.append(Flag("naming", f"the file name has no ending, the rule expects {allowed}"))

    id_re = re.compile(rule.id_pattern)
    parts = [part.strip() for part in stem.split("_")]
    if any(not part for part in parts):
        problems.append(
            Flag("naming", "the file name has an empty part (two underscores in a row, or one at the start or end)")
        )
    parts = [part for part in parts if part]

    students: list[Student] = []
    pending_names: list[str] = []
    for part in parts:
        looks_like_id = id_re.fullmatch(part) is not None
        if not looks_like_id and not any(char.isdigit() for char in part):
            pending_names.append(part)
            continue
        if not looks_like_id:
            # Names carry no digits, so this was meant as an id; keep it and say what is off.
            after = f" after '{pending_names[-1]}'" if pending_names else ""
            problems.append(
                Flag("naming", f"student id '{part}'{after} does not have the expected form ({rule.id_description})")
            )
        if pending_names:
            if len(pending_names) > 1:
                problems.append(Flag("naming", _joined_names_message(pending_names, trailing=False)))
            students.append(Student(" ".join(pending_names), part))
        else:
            problems.append(Flag("naming", f"student id '{part}' has no name before it"))
            students.append(Student(None, part))
        pending_names = []
    if pending_names:
        problems.append(Flag("naming", _joined_names_message(pending_names, trailing=True)))
        students.append(Student(" ".join(pending_names), None))

    count = len(students)
    if not rule.min_team <= count <= rule.max_team:
        allowed = str(rule.min_team) if rule.min_team == rule.max_team else f"{rule.min_team}–{rule.max_team}"
        plural = "student" if count == 1 else "students"
        problems.append(Flag("team_size", f"{count} {plural} named, the rule allows {allowed}"))

    return ParsedName(base, extension, tuple(students), tuple(problems))


def normalise_student_id(raw: str | None) -> str | None:
    """The one spelling of a student id everywhere (duplicate checks, the gradebook, every export):
    '02301002', ' 2301002 ', '2301 002' -> '2301002'; 'AB12' -> 'ab12'; '', '0', None -> None (no id)."""
    if raw is None:
        return None
    text = "".join(unicodedata.normalize("NFKC", raw).split()).casefold()
    if text.isdigit():
        text = text.lstrip("0")
    return text or None


def find_duplicate_students(
    submissions: Iterable[tuple[str, Sequence[Student]]],
) -> dict[str, list[Flag]]:
    """Flag every student id that appears in more than one hand-in, or twice in one.

    Only ids are compared: two different students may share a name. Every submission
    passed in gets a key, with an empty list when nothing is wrong.
    """
    result: dict[str, list[Flag]] = {}
    holders: dict[str, list[tuple[str, Student]]] = defaultdict(list)
    for submission, students in submissions:
        result.setdefault(submission, [])
        for student in students:
            if student.student_id:
                holders[normalise_student_id(student.student_id)].append((submission, student))

    for student_id, entries in holders.items():
        if len(entries) < 2:
            continue
        for submission, student in _first_per_submission(entries):
            who = f"student id {student_id}" + (f" ('{student.name}')" if student.name else "")
            if sum(1 for other, _ in entries if other == submission) > 1:
                result[submission].append(Flag("duplicate_student", f"{who} is named twice in this file name"))
            others = sorted({other for other, _ in entries if other != submission})
            if others:
                listed = _and_list([f"'{other}'" for other in others])
                result[submission].append(Flag("duplicate_student", f"{who} also appears in {listed}"))
    return result


def _first_per_submission(entries: list[tuple[str, Student]]) -> list[tuple[str, Student]]:
    seen: set[str] = set()
    firsts = []
    for submission, student in entries:
        if submission not in seen:
            seen.add(submission)
            firsts.append((submission, student))
    return firsts


def _base_name(filename: str) -> str:
    # Hand-in names may arrive as paths from either system; only the last part is the name.
    return filename.replace("\\", "/").rsplit("/", 1)[-1]


def _split_extension(base: str) -> tuple[str, str]:
    stem, dot, ending = base.rpartition(".")
    if not dot or not stem or " " in ending or "_" in ending:
        return base, ""
    return stem, "." + ending.lower()


def _joined_names_message(names: list[str], trailing: bool) -> str:
    quoted = [f"'{name}'" for name in (names if trailing else names[:-1])]
    missing = f"no student id after {' or '.join(quoted)}"
    if len(names) == 1:
        return missing
    return f"{missing}; '{'_'.join(names)}' is read as one student, '{' '.join(names)}'"


def _or_list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _and_list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

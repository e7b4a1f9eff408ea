"""The prose questions of a sheet, as the rubric describes them to extraction."""

from __future__ import annotations

import re
from dataclasses import dataclass

from grader.prose.markers import Path, label_path


@dataclass(frozen=True)
class ProseQuestion:
    """One prose question.

    id: the rubric's question id ("11.2.3b", "1a").
    task: the task label(s) as printed on the sheet ("11.2", "01"); several when the sheet
        is inconsistent. The rubric lists questions in sheet order.
    part: the part label as printed ("a", "(b)", "3)", "3) a)" for a nested part).
    text: the question's own text, used to recognise it and to cut it out of answers.
    """

    id: str
    task: str | tuple[str, ...]
    part: str
    text: str = ""

    @property
    def task_paths(self) -> tuple[Path, ...]:
        labels = (self.task,) if isinstance(self.task, str) else tuple(self.task)
        return tuple(label_path(label) for label in labels)

    @property
    def part_path(self) -> Path:
        return label_path(self.part)


_ID = re.compile(r"^(?P<numbers>\d+(?:\.\d+)*)\.?(?P<rest>.*)$")
# Sheets number tasks with one ("Task 3") or two levels ("Exercise 11.2"); deeper numbers are parts.
_TASK_LEVELS = 2


def task_and_part(question_id: str) -> tuple[str, str]:
    """("11.2", "3 b") for "11.2.3b", ("1", "a") for "1a", ("11.3", "c") for "11.3c": the task and part a sheet
    prints, read off a rubric question id."""
    found = _ID.match(question_id)
    if found is None:  # no leading number: the whole id is the part of an unnamed task
        return "", question_id
    numbers = found.group("numbers").split(".")
    rest = [found.group("rest")] if found.group("rest") else []
    levels = _TASK_LEVELS if len(numbers) >= _TASK_LEVELS else 1
    return ".".join(numbers[:levels]), " ".join(numbers[levels:] + rest)

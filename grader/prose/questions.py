"""The prose questions of a sheet, as the rubric describes them to extraction."""

from __future__ import annotations

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

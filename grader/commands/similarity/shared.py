"""What every hand-in of a sheet shares, from the course: the released template, the task text, checked names.

- The template is what `grader release` gives students: the rubric's master notebook with the solutions taken
  out (grader/rubric/notebooks.py). Its code cells and its text (headings, questions, placeholders) are discounted.
- The task text: each question's text in the model answers file (`question`), when the course has one.
- The names every solution must use: the functions and variables the rubric's checks call or read.
- Extra files a tutor names (starter code, the sheet as Markdown or text): .py and .ipynb files count as code,
  everything else as text.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from grader.rubric.model_answers import ModelAnswersError, SheetAnswers, load_model_answers
from grader.rubric.notebooks import MarkupError, make_template
from grader.rubric.load import LoadedRubric
from grader.commands.similarity.inputs import SharedMaterial


class SharedMaterialError(ValueError):
    """A file of shared material that cannot be read; names the file."""


def checked_names(loaded: LoadedRubric) -> dict[str, str]:
    """Every name a check calls or reads (and each part of a dotted one), mapped to its question."""
    names: dict[str, str] = {}
    for question in loaded.rubric.questions:
        for check in question.checks:
            for name in check.student_names():
                for part in name.split("."):
                    names.setdefault(part, question.id)
    return names


def shared_material(loaded: LoadedRubric, extra: list[Path] | None = None, *,
                    answers: SheetAnswers | None = None) -> SharedMaterial:
    """The sheet's shared material. Raises SharedMaterialError for a master, model answers or extra file that
    cannot be read. `answers`: the rubric's model answers when the caller has loaded them already."""
    rubric, root = loaded.rubric, Path(loaded.course_root)
    code: list[str] = []
    text: list[str] = []
    sources: list[str] = []
    if rubric.master_notebook:
        path = root / rubric.master_notebook
        try:
            template = make_template(nbformat.read(str(path), as_version=4))
        except (OSError, ValueError, MarkupError) as exc:
            raise SharedMaterialError(f"{path}: the template cannot be made from it ({exc})") from None
        code.extend(cell.source for cell in template.cells if cell.cell_type == "code")
        text.extend(cell.source for cell in template.cells if cell.cell_type == "markdown")
        sources.append(f"the released template (made from {rubric.master_notebook})")
    if rubric.model_answers:
        try:
            answers = answers or load_model_answers(root / rubric.model_answers)
        except ModelAnswersError as exc:
            raise SharedMaterialError(str(exc)) from None
        questions = [a.question for a in answers.questions.values() if a.question]
        text.extend(questions)
        if questions:
            sources.append(f"the task text of {len(questions)} questions ({rubric.model_answers})")
    for path in extra or []:
        try:
            content = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SharedMaterialError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
        if Path(path).suffix.lower() == ".ipynb":
            try:
                notebook = nbformat.reads(content, as_version=4)
            except Exception as exc:  # nbformat raises several types for malformed notebooks
                raise SharedMaterialError(f"{path}: not a readable notebook ({exc})") from None
            code.extend(c.source for c in notebook.cells if c.cell_type == "code")
            text.extend(c.source for c in notebook.cells if c.cell_type == "markdown")
        elif Path(path).suffix.lower() == ".py":
            code.append(content)
        else:
            text.append(content)
        sources.append(str(path))
    return SharedMaterial(code=tuple(code), text=tuple(text), names=checked_names(loaded), sources=tuple(sources))

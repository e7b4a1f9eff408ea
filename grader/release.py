"""What students get for a sheet: the template notebook, the public rubric with precomputed expected
values, and a README. Nothing in it is reference code, a hidden check, or a hidden check's data."""

from __future__ import annotations

from pathlib import Path

from grader.grading import plan_checks
from grader.notebooks import write_template
from grader.rubric.compiled import write_public
from grader.rubric.load import LoadedRubric

STUDENT_README = """# {title}

Files:
- `{template}`: your notebook. Write your code where it says `YOUR CODE HERE` and your written answers where it
  says `YOUR ANSWER HERE`; keep the cells' tags.
- `{rubric}`: the public checks, with their inputs and expected values.

Check your work before you hand it in:

    pip install grader
    grader check {template} --sheet {sheet} --rubric {rubric}

`grader check` runs your notebook from top to bottom in a separate process and prints a table of the public
checks. Your tutors run further, hidden checks and score the written answers.
"""


def build_release(loaded: LoadedRubric, out: Path) -> list[Path]:
    rubric = loaded.rubric
    out.mkdir(parents=True, exist_ok=True)
    rubric_file = write_public(loaded, plan_checks(loaded, frozenset({"public"})), out / f"{rubric.sheet}.public.json")
    written = [rubric_file]
    template_name = f"{rubric.sheet}.ipynb"
    if rubric.master_notebook:
        written.append(write_template(loaded.course_root / rubric.master_notebook, out / template_name))
    readme = out / "README.md"
    readme.write_text(STUDENT_README.format(title=rubric.title, template=template_name, rubric=rubric_file.name,
                                            sheet=rubric.sheet), encoding="utf-8")
    written.append(readme)
    return written

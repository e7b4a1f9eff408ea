"""What students get for a sheet: the template notebook, the public rubric with precomputed expected
values, and a README. Nothing in it is reference code, a hidden check, or a hidden check's data."""

from __future__ import annotations

from pathlib import Path

from grader import DISTRIBUTION, __version__
from grader.rubric.plans import plan_checks
from grader.rubric.notebooks import write_template
from grader.rubric.released import write_public
from grader.rubric.load import LoadedRubric

STUDENT_README = """# {title}

Files:
- `{template}`: your notebook. Write your code where it says `YOUR CODE HERE` and your written answers where it
  says `YOUR ANSWER HERE`; keep the cells' tags.
- `{rubric}`: the public checks, with their inputs and expected values.

Check your work before you hand it in. Install the grader once (the CPU-only torch first: the default build
brings gigabytes of GPU libraries no sheet needs):

    pip install torch --index-url https://download.pytorch.org/whl/cpu
    pip install {install}

then, in this folder:

    grader check {template} --sheet {sheet} --rubric {rubric}

`grader check` runs your notebook from top to bottom in a separate process and prints a table of the public
checks. Your tutors run further, hidden checks and score the written answers.
"""


def default_install() -> str:
    """What students install: this grader's distribution at this version, whose `grader check` reads the
    released rubric this version writes. (`pip install grader` is an unrelated package on PyPI.)"""
    return f"{DISTRIBUTION}=={__version__}"


def build_release(loaded: LoadedRubric, out: Path, *, install: str | None = None) -> list[Path]:
    """Write the bundle into `out`. `install` is the pip requirement the README tells students to install
    (default: default_install(); a course that hosts the grader elsewhere gives a git URL or a wheel)."""
    rubric = loaded.rubric
    requirement = install or default_install()
    if any(ch.isspace() for ch in requirement.strip()) or not requirement.strip():
        raise ValueError(f"--install {requirement!r}: give one pip requirement (a name, 'name==version', a URL)")
    out.mkdir(parents=True, exist_ok=True)
    rubric_file = write_public(loaded, plan_checks(loaded, frozenset({"public"})), out / f"{rubric.sheet}.public.json")
    written = [rubric_file]
    template_name = f"{rubric.sheet}.ipynb"
    if rubric.master_notebook:
        written.append(write_template(loaded.course_root / rubric.master_notebook, out / template_name))
    readme = out / "README.md"
    readme.write_text(STUDENT_README.format(title=rubric.title, template=template_name, rubric=rubric_file.name,
                                            sheet=rubric.sheet, install=_shell_word(requirement.strip())),
                      encoding="utf-8")
    written.append(readme)
    return written


def _shell_word(text: str) -> str:
    """A requirement as one word a shell reads back unchanged ("name==1.0" and URLs need no quotes; '>' does)."""
    return text if all(ch.isalnum() or ch in "-_.=/:@+#~" for ch in text) else "'" + text.replace("'", "'\\''") + "'"

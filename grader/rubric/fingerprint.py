"""The rubric fingerprint that decides whether a stored grading is still current (grader grade's resume).

It is taken over the rubric file and the course code the validated rubric names: the packages of its
reference_module and of every reference, judge, generator and mistake its checks name (rubric.load's
named_references), so fixing a reference regrades. The model answers are not part of it: they only change the
feedback, which is rebuilt from the gradebook on every run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from grader.rubric.load import LoadedRubric, module_of, named_references


def course_modules(loaded: LoadedRubric) -> set[str]:
    """The modules of the course's code the rubric names (reference_module included)."""
    rubric = loaded.rubric
    modules = {module_of(dotted, rubric.reference_module) for _, _, dotted in named_references(rubric)}
    if rubric.reference_module:
        modules.add(rubric.reference_module)
    return {m for m in modules if m}


def rubric_fingerprint(loaded: LoadedRubric) -> str:
    """sha256 over the rubric file and every .py file of the course packages it names (see the module)."""
    digest = hashlib.sha256(b"rubric\0" + loaded.path.read_bytes())
    root = Path(loaded.course_root)
    files: set[Path] = set()
    for top in sorted({m.split(".")[0] for m in course_modules(loaded)}):
        package, module = root / top, root / f"{top}.py"
        if package.is_dir():
            files.update(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)
        elif module.is_file():
            files.add(module)
    for path in sorted(files):
        digest.update(b"\0" + path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()

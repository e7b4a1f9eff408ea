"""Load a rubric file (YAML or TOML) into the typed model, and resolve what it names in the course's code.

Every error names the file, the question, the check and the field, so a tutor can fix it without reading
a Python traceback.
"""

from __future__ import annotations

import importlib
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import yaml
from pydantic import ValidationError

from grader.checks.kinds import CHECK_KIND_NAMES
from grader.rubric.models import Rubric


class RubricError(ValueError):
    """A rubric that cannot be used, with every problem listed."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path, self.problems = path, problems
        super().__init__(f"{path}: " + ("\n  " if len(problems) > 1 else "") + "\n  ".join(problems))


@dataclass(frozen=True)
class LoadedRubric:
    rubric: Rubric
    path: Path
    course_root: Path

    def resolve(self, dotted: str) -> Any:
        return resolve_dotted(dotted, self.rubric.reference_module, self.course_root)


def find_rubric(sheet: str, course_root: Path) -> Path:
    for suffix in (".yaml", ".yml", ".toml"):
        candidate = course_root / "rubrics" / f"{sheet}{suffix}"
        if candidate.exists():
            return candidate
    known = sorted(p.stem for p in (course_root / "rubrics").glob("*.*")) if (course_root / "rubrics").is_dir() else []
    raise FileNotFoundError(f"no rubric for sheet {sheet!r} in {course_root / 'rubrics'}"
                            + (f" (there are: {', '.join(known)})" if known else ""))


def load_sheet(sheet: str, course_root: Path, *, resolve: bool = True) -> LoadedRubric:
    """The rubric of `sheet` in the course at `course_root` (find_rubric, then load_rubric). Raises
    FileNotFoundError (no such rubric) or RubricError."""
    return load_rubric(find_rubric(sheet, Path(course_root)), course_root=Path(course_root), resolve=resolve)


def load_rubric(path: Path, *, course_root: Path | None = None, resolve: bool = True) -> LoadedRubric:
    """Parse and validate; with resolve=True also import every reference, judge, generator and mistake."""
    path = Path(path)
    course_root = Path(course_root) if course_root else path.resolve().parent.parent
    raw = _parse(path)
    try:
        rubric = Rubric.model_validate(raw)
    except ValidationError as exc:
        raise RubricError(path, [_describe(error, raw) for error in exc.errors()]) from None
    loaded = LoadedRubric(rubric=rubric, path=path, course_root=course_root)
    if resolve:
        problems = list(_unresolved(loaded))
        if problems:
            raise RubricError(path, problems)
    return loaded


def _parse(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RubricError(path, [f"cannot read the file: {exc.strerror}"]) from None
    try:
        if path.suffix.lower() == ".toml":
            return tomllib.loads(text)
        return yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise RubricError(path, [f"not valid {path.suffix.lstrip('.').upper()}: {exc}"]) from None


def _describe(error: dict, raw: Any) -> str:
    """'question 3c, check public-cases, field tolerance.rtol: Input should be ...' from a pydantic error."""
    loc, parts, node = list(error["loc"]), [], raw
    fields = []
    i = 0
    while i < len(loc):
        key = loc[i]
        if key in ("questions", "checks") and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            index = loc[i + 1]
            try:
                node = node[key][index]
                name = node.get("id", f"#{index + 1}") if isinstance(node, dict) else f"#{index + 1}"
            except (KeyError, IndexError, TypeError):
                name = f"#{index + 1}"
            parts.append(f"{'question' if key == 'questions' else 'check'} {name}")
            i += 2
            continue
        if isinstance(key, str) and key in CHECK_KIND_NAMES and parts \
                and parts[-1].startswith("check"):
            i += 1  # the discriminator's branch name adds nothing for the reader
            continue
        fields.append(str(key))
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            node = None
        i += 1
    where = ", ".join(parts + ([f"field {'.'.join(fields)}"] if fields else []))
    return f"{where or 'top level'}: {error['msg']}"


def named_references(rubric: Rubric) -> Iterator[tuple[str, str, str]]:
    """Every name of the course's code the rubric uses, as (where, field, 'module:name' or bare name): the
    references, judges, generators and mistakes its checks name (each kind says which: CheckBase.course_code)."""
    for question in rubric.questions:
        for check in question.checks:
            for field_name, dotted in check.course_code():
                yield f"question {question.id}, check {check.id}", field_name, dotted


def module_of(dotted: str, default_module: str | None) -> str | None:
    """The module a 'module:name' (or, with a default module, a bare 'name') lives in."""
    return dotted.split(":", 1)[0] if ":" in dotted else default_module


def _unresolved(loaded: LoadedRubric) -> Iterator[str]:
    for where, field_name, dotted in named_references(loaded.rubric):
        try:
            loaded.resolve(dotted)
        except LookupError as exc:
            yield f"{where}, field {field_name}: {exc}"


def resolve_dotted(dotted: str, default_module: str | None, course_root: Path) -> Any:
    """'pkg.module:attr' or, with a default module, a bare 'attr'. Raises LookupError with a clear reason."""
    if ":" in dotted:
        module_name, attr = dotted.split(":", 1)
    elif default_module:
        module_name, attr = default_module, dotted
    else:
        raise LookupError(f"{dotted!r} names no module (write 'module:name' or set reference_module)")
    root = str(course_root.resolve())
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LookupError(f"cannot import module {module_name!r} ({exc})") from None
    value: Any = module
    for part in attr.split("."):
        if not hasattr(value, part):
            raise LookupError(f"{module_name!r} has no {attr!r}")
        value = getattr(value, part)
    return value

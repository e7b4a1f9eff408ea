"""The check kinds: every module of this package (but the private `_` ones) is one kind, model and behaviour.

A new kind is one new module here with one `CheckBase` subclass that has a `kind` literal, `plan_check` and
`judge_replies` (see _base.py): the rubric's check union, the loader's error paths and named references, the
released rubric, the selftest and the batch all take it from CHECK_MODELS; nothing else in the engine changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import Annotated, Union

from pydantic import Field

from grader.checks.kinds._base import CheckBase, PlanContext


class CheckKindError(ImportError):
    """A module of a kinds package that is not one check kind (a grader bug, found at import)."""


def discover_kinds(package: ModuleType) -> tuple[type[CheckBase], ...]:
    """The check model of each public module of `package`, in module-name order; each kind name once."""
    models: list[type[CheckBase]] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda found: found.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        defined = [value for value in vars(module).values()
                   if isinstance(value, type) and issubclass(value, CheckBase) and value.__module__ == module.__name__
                   and "kind" in value.model_fields]
        if len(defined) != 1:
            raise CheckKindError(f"{module.__name__}: a check-kind module defines exactly one CheckBase subclass "
                                 f"with a `kind` literal; it defines {len(defined)}")
        missing = [name for name in ("plan_check", "judge_replies")
                   if getattr(defined[0], name) is getattr(CheckBase, name)]
        if missing:
            raise CheckKindError(f"{module.__name__}: the check kind {defined[0].__name__} does not define "
                                 f"{' and '.join(missing)}")
        models.append(defined[0])
    names = [kind_name(model) for model in models]
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise CheckKindError(f"{package.__name__}: check kind(s) defined twice: {', '.join(doubled)}")
    return tuple(models)


def kind_name(model: type[CheckBase]) -> str:
    """The name a rubric writes in `kind:` for this model (its `kind` literal)."""
    return model.model_fields["kind"].annotation.__args__[0]


CHECK_MODELS: tuple[type[CheckBase], ...] = discover_kinds(importlib.import_module(__name__))
CHECK_KIND_NAMES: tuple[str, ...] = tuple(kind_name(model) for model in CHECK_MODELS)
# A rubric's check: whichever model its `kind` names.
Check = Annotated[Union[CHECK_MODELS], Field(discriminator="kind")]

__all__ = ["CHECK_KIND_NAMES", "CHECK_MODELS", "Check", "CheckBase", "CheckKindError", "PlanContext",
           "discover_kinds", "kind_name"]

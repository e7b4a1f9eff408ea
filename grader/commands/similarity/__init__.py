"""Similar hand-ins across groups, for the tutor to judge: code and written answers. It flags, never grades.

    from grader.commands.similarity import find_similar, HandInText, CodeUnit, SharedMaterial, SimilaritySettings
    report = find_similar([HandInText("a.zip", code=(CodeUnit("cell 3", source),), answers={"3b": text}), ...])
    report.flagged  # pairs at or above the threshold, highest first

Not to be confused with grader/prose/similarity.py, which groups near-identical answers to one question so a
tutor scores them once (`grader manual export`). This package finds shared passages of code and prose between
whole hand-ins, discounts what everybody shares, and shows where (`grader similarity`, docs/similarity.md).
Names are imported on first use, so the reader child (grader/commands/manual/_reader.py), which needs only
`grader.commands.similarity.sources`, does not load numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "CodeUnit": "inputs", "HandInText": "inputs", "SharedMaterial": "inputs",
    "SimilaritySettings": "report", "SimilarityReport": "report", "PairReport": "report", "PartMatch": "report",
    "find_similar": "engine",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'grader.commands.similarity' has no attribute {name!r}")
    return getattr(importlib.import_module(f"grader.commands.similarity.{_PUBLIC[name]}"), name)

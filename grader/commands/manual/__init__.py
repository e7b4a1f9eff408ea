"""Tutors' round trip for written answers: export them question by question, import the scores.

    from grader.commands.manual import export_manual, import_manual
    export_manual("sheet02", Path("out/sheet02/manual-sheet02.csv"))   # + manual-sheet02.html
    import_manual(Path("out/sheet02/manual-sheet02.csv"), tutor="kim")

See docs/manual-grading.md. The names are imported on first use, so the child process that reads one
hand-in file (`python -m grader.commands.manual._reader`) does not load the reports and the gradebook.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "COLUMNS": "export", "ExportSummary": "export", "TutorRow": "export", "export_manual": "export",
    "ImportSummary": "importing", "ManualImportError": "importing", "import_manual": "importing",
    "ManualError": "questions", "task_and_part": "questions",
    "hand_in_answers": "reading", "merge_answers": "reading", "read_file_answers": "reading",
}
__all__ = [
    "COLUMNS", "ExportSummary", "ImportSummary", "ManualError", "ManualImportError", "TutorRow", "export_manual",
    "hand_in_answers", "import_manual", "merge_answers", "read_file_answers", "task_and_part",
]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'grader.commands.manual' has no attribute {name!r}")
    return getattr(importlib.import_module(f"grader.commands.manual.{_PUBLIC[name]}"), name)

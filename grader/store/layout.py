"""OUT's layout: one folder per hand-in beside the batch's own files, named so hand-ins never share one."""

from __future__ import annotations

from collections.abc import Sequence


# The files grader grade writes into OUT beside the hand-ins' folders.
BATCH_FILES = ("gradebook.db", "gradebook.db-journal", "gradebook.db-wal", "gradebook.db-shm", "gradebook.csv",
               "summary.html")


def folder_name(file_name: str) -> str:
    """OUT/<this>/ for a hand-in: the zip's name without .zip; other files keep their ending as '_ext'."""
    stem, dot, ending = file_name.rpartition(".")
    if not dot or not stem:
        return file_name
    return stem if ending.lower() == "zip" else f"{stem}_{ending.lower()}"


def assign_folders(names: Sequence[str], reserved: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The hand-ins whose output folder cannot be folder_name(name), with the folder they get and why.

    A folder may not take the name of one of the batch's own files in OUT ("gradebook.db.zip", "summary.html.zip")
    nor, compared as a case-insensitive file system would, the folder of another hand-in ("X.zip" beside
    "X.ZIP"): such a hand-in gets "<folder>__2" (or __3, ...), in the order of the names, and a naming flag.
    One hand-in's name never stops or breaks the batch.
    """
    taken = {name.casefold() for name in reserved} | {f"{name}.tmp".casefold() for name in reserved}
    owner: dict[str, str] = {}
    moved: dict[str, tuple[str, str]] = {}
    for name in sorted(names):
        base = folder = folder_name(name)
        number = 2
        while folder.casefold() in taken or folder.casefold() in owner:
            folder, number = f"{base}__{number}", number + 1
        owner[folder.casefold()] = name
        if folder != base:
            clash = f"the hand-in '{owner[base.casefold()]}'" if base.casefold() in owner else \
                f"the batch's own file '{base}'"
            moved[name] = (folder, f"its output folder would be '{base}', which {clash} already takes: its "
                                   f"results are in '{folder}' instead")
    return moved

"""Text from hand-ins made safe to store and show."""

from __future__ import annotations

import re
from typing import Any

# What a spreadsheet runs as a formula at the start of a cell. A cell is also split at ';' by a spreadsheet set
# up for German (or any locale whose list separator is ';') that opens a comma-separated file: what follows a
# ';' starts a cell too.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_AFTER_SEMICOLON = re.compile(r";( *+)([=+\-@\t\r])")
_GUARDED_AFTER_SEMICOLON = re.compile(r";( *+)'([=+\-@\t\r])")


def printable(text: str) -> str:
    """Lone surrogates (which JSON can carry and UTF-8 cannot encode, so SQLite and every report file would fail
    on them) become '?', NULs become '\\x00'."""
    if text.isascii() and "\x00" not in text:
        return text
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\x00")


def storable(row: tuple) -> tuple:
    """A database row with every text value made printable."""
    return tuple(printable(value) if isinstance(value, str) else value for value in row)


def clean(value: Any) -> Any:
    """Plain data with every string in it (keys too) made printable."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, tuple):
        return tuple(clean(v) for v in value)
    if isinstance(value, dict):
        return {printable(k): clean(v) for k, v in value.items()}
    return value


def spreadsheet_inert(text: str) -> str:
    """Text a spreadsheet shows as text, for every CSV the grader writes: an apostrophe before a formula start
    at the beginning of the cell and after every ';' (formula injection)."""
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    return _AFTER_SEMICOLON.sub(r";\1'\2", text) if ";" in text else text


def spreadsheet_text(text: str) -> str:
    """Undo spreadsheet_inert: "'-1 missing; '=x" -> "-1 missing; =x"."""
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        text = text[1:]
    return _GUARDED_AFTER_SEMICOLON.sub(r";\1\2", text) if ";" in text else text

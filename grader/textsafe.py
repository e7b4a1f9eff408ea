"""Text from hand-ins made safe to store and show."""

from __future__ import annotations

from typing import Any


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

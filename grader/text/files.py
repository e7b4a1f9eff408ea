"""Reading a hand-in's text files (notebooks, scripts, Markdown, plain text) as Jupyter does: UTF-8, with or
without a byte-order mark. Any other encoding gets one clear error, the same wherever the file is read (grading,
`grader check`, written-answer extraction, team reading), never replacement characters or a JSON error.
"""

from __future__ import annotations

import codecs
from pathlib import Path

# What every caller says after the file's name; tests and docs quote it.
SAVE_AS_UTF8 = "the grader, like Jupyter, reads only UTF-8 (with or without a byte-order mark): save the file as UTF-8"


class TextEncodingError(ValueError):
    """A hand-in file that is not UTF-8 text; `problem` is the sentence without the file's name."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


def decode_hand_in_text(data: bytes, name: str) -> str:
    """`data` as text: UTF-8, a leading byte-order mark dropped. Raises TextEncodingError otherwise."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise TextEncodingError(name, _problem("it is saved as UTF-32"))
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(data):
        raise TextEncodingError(name, _problem("it is saved as UTF-16"))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start:exc.start + 1].hex()
        raise TextEncodingError(name, _problem(f"byte 0x{bad} at offset {exc.start} is not valid UTF-8; probably "
                                               "saved as Windows-1252 or Latin-1")) from None


def read_hand_in_text(path: Path) -> str:
    """The file's text (see decode_hand_in_text); OSError as open() raises it."""
    path = Path(path)
    return decode_hand_in_text(path.read_bytes(), path.name)


def _problem(detail: str) -> str:
    return f"not UTF-8 text ({detail}); {SAVE_AS_UTF8}"


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 without a byte-order mark: ASCII text with a NUL byte beside every character."""
    head = data[:200]
    return len(head) >= 4 and (head[1::2].count(0) > len(head) // 4 or head[0::2].count(0) > len(head) // 4)


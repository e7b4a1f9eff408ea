"""Who a student is, in one place: the normalised student id and e-mail, and the tolerant name match.

Ids are compared after `normalise_student_id`: course systems and spreadsheets drop or add leading zeros
("02301002" and "2301002" are one student), and people type spaces and letters in either case. Keep this the
only place that decides it; the intake's id normalisation (duplicate check) is meant to be merged into it.
Names are compared with the intake's `names_match` (case, accents, umlauts spelled ae/oe/ue, ß/ss, NFC/NFD).
"""

from __future__ import annotations

import re
import unicodedata

from grader.intake.team import names_match

__all__ = ["email_key", "names_match", "normalise_student_id"]

_SPACES = re.compile(r"\s+")


def normalise_student_id(raw: str | None) -> str | None:
    """'02301002', ' 2301002 ', '2301 002' -> '2301002'; 'AB12' -> 'ab12'; '', '0', None -> None (no id)."""
    if raw is None:
        return None
    text = _SPACES.sub("", unicodedata.normalize("NFKC", raw)).casefold()
    if text.isdigit():
        text = text.lstrip("0")
    return text or None


def email_key(raw: str | None) -> str | None:
    """E-mail addresses compared without case and surrounding space (course systems differ in case)."""
    text = unicodedata.normalize("NFC", raw or "").strip().casefold()
    return text or None

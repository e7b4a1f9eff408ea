"""Who a student is, in one place: the normalised student id and e-mail, and the tolerant name match.

Ids are compared after `normalise_student_id`: course systems and spreadsheets drop or add leading zeros
("02301002" and "2301002" are one student), and people type spaces and letters in either case. It lives in the
intake (grader.intake.naming), which records ids already normalised and checks duplicates with it.
Names are compared with the intake's `names_match` (case, accents, umlauts spelled ae/oe/ue, ß/ss, NFC/NFD).
"""

from __future__ import annotations

import unicodedata

from grader.intake.naming import normalise_student_id
from grader.intake.team import names_match

__all__ = ["email_key", "names_match", "normalise_student_id"]


def email_key(raw: str | None) -> str | None:
    """E-mail addresses compared without case and surrounding space (course systems differ in case)."""
    text = unicodedata.normalize("NFC", raw or "").strip().casefold()
    return text or None

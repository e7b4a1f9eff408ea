"""Hand-in students against the roster: who gets which points, who is missing, who is unknown.

A hand-in student is found on the roster by student id (normalised: leading zeros, spaces and case do not
matter), else by e-mail, else by name (case, accents, umlauts spelled out, NFC/NFD do not matter), and only
when exactly one roster row fits and no id or e-mail contradicts it. A student who is in two hand-ins is an
error that names both: the course system can take one grade per student, and which one is the tutors' call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from grader.commands.export.identity import email_key, names_match, normalise_student_id
from grader.commands.export.points import StudentPoints
from grader.commands.export.roster import Roster, RosterEntry

_WORDS = re.compile(r"[^\s\-.,'’]+")


class StudentConflict(ValueError):
    """Students claimed by more than one hand-in; `problems` has one sentence per student."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class ExportRow:
    """One line of an export: a roster row and/or a hand-in student (student None: no hand-in)."""

    entry: RosterEntry | None
    student: StudentPoints | None

    def field(self, name: str) -> str | None:
        """A field as the roster has it (the course system's own value, even when empty); what the hand-in says
        only where the roster has no such column, or there is no roster."""
        if self.entry is not None:
            columns = ("name", "first_name", "last_name") if name == "name" else (name,)
            if self.student is None or any(column in self.entry.cells for column in columns):
                return self.entry.name if name == "name" else self.entry.get(name)
        return getattr(self.student, name, None) if self.student is not None else None


@dataclass
class Matching:
    rows: list[ExportRow]
    warnings: list[str] = field(default_factory=list)


def match_students(students: Sequence[StudentPoints], roster: Roster | None) -> Matching:
    """The export's rows: roster order with a roster, else hand-in order. Raises StudentConflict."""
    warnings: list[str] = []
    known = []
    for student in students:
        if student.student_id or student.email or student.name:
            known.append(student)
        else:
            warnings.append(f"hand-in {student.hand_in} names no student: it is not in the export")
    problems = _claimed_twice(known, key=lambda s: normalise_student_id(s.student_id), what="student id")
    problems += _claimed_twice(known, key=lambda s: email_key(s.email), what="e-mail")
    if problems:
        raise StudentConflict(problems)
    if roster is None:
        return Matching(rows=[ExportRow(None, s) for s in _one_per_person(known)], warnings=warnings)

    found: dict[int, list[StudentPoints]] = {}
    for student in known:
        candidates = _candidates(student, roster.entries)
        if len(candidates) == 1:
            found.setdefault(candidates[0].line, []).append(student)
            if _by_part_of_the_name(student, candidates[0]):
                warnings.append(f"{_who(student)} taken to be {candidates[0].label()}: only part of the name "
                                "matches (no id or e-mail to compare), check it")
        elif candidates:
            lines = ", ".join(str(e.line) for e in candidates)
            warnings.append(f"{_who(student)} fits several roster rows (lines {lines}): not exported; give the "
                            "student id in the hand-in or the roster")
        else:
            warnings.append(f"{_who(student)} is not on the roster: not exported")
    rows = []
    for entry in roster.entries:
        matched = found.get(entry.line, [])
        hand_ins = sorted({s.hand_in for s in matched})
        if len(hand_ins) > 1:
            problems.append(f"{entry.label()} is in {len(hand_ins)} hand-ins: {' and '.join(hand_ins)}")
        rows.append(ExportRow(entry, matched[0] if matched else None))
    if problems:
        raise StudentConflict(problems)
    return Matching(rows=rows, warnings=warnings)


def _candidates(student: StudentPoints, entries: Sequence[RosterEntry]) -> list[RosterEntry]:
    sid, mail = normalise_student_id(student.student_id), email_key(student.email)
    if sid:
        by_id = [e for e in entries if normalise_student_id(e.student_id) == sid]
        if by_id:
            return by_id
    # Fall back on rows that do not contradict the hand-in: another id or e-mail is another student.
    open_rows = [e for e in entries if not (sid and normalise_student_id(e.student_id))
                 and not (mail and email_key(e.email) and email_key(e.email) != mail)]
    if mail:
        by_mail = [e for e in open_rows if email_key(e.email) == mail]
        if by_mail:
            return by_mail
    if student.name:
        return [e for e in open_rows if e.name and names_match(student.name, e.name)]
    return []


def _by_part_of_the_name(student: StudentPoints, entry: RosterEntry) -> bool:
    if normalise_student_id(student.student_id) and normalise_student_id(student.student_id) == \
            normalise_student_id(entry.student_id):
        return False
    if email_key(student.email) and email_key(student.email) == email_key(entry.email):
        return False
    return len(_WORDS.findall(student.name or "")) != len(_WORDS.findall(entry.name or ""))


def _claimed_twice(students: Sequence[StudentPoints], *, key, what: str) -> list[str]:
    by_key: dict[str, list[StudentPoints]] = {}
    for student in students:
        value = key(student)
        if value:
            by_key.setdefault(value, []).append(student)
    problems = []
    for value, claims in by_key.items():
        hand_ins = sorted({s.hand_in for s in claims})
        if len(hand_ins) > 1:
            names = sorted({s.name for s in claims if s.name})
            problems.append(f"{what} {value}{' (' + ', '.join(names) + ')' if names else ''} is in "
                            f"{len(hand_ins)} hand-ins: {' and '.join(hand_ins)}")
    return problems


def _one_per_person(students: Sequence[StudentPoints]) -> list[StudentPoints]:
    """A student named twice in one hand-in (the intake flags it) is one row."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for student in students:
        key = (student.hand_in, normalise_student_id(student.student_id) or email_key(student.email)
               or student.name or "")
        if key not in seen:
            seen.add(key)
            kept.append(student)
    return kept


def _who(student: StudentPoints) -> str:
    label = student.student_id or student.email or ""
    name = f"'{student.name}'" if student.name else ""
    return f"{' '.join(p for p in (label, name) if p)} (hand-in {student.hand_in})"

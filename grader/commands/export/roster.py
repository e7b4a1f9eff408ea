"""A course system's participant list (the roster), read from the CSV the system itself exports.

Columns are found by name, as Moodle, ILIAS and Canvas write them (in English or German) or as a generic
`student_id,name,email` file; `_ALIASES` lists the names per field, docs/exports.md has them as a table. A plain
`id` column is Canvas's user id in a file with Canvas's columns, else the student id. Every other column is kept
as it is (an ILIAS status file's notice and plagiarism columns are written back).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from grader.commands.export.identity import email_key, normalise_student_id

MAX_ROSTER_BYTES = 20 * 2**20

_ALIASES: dict[str, set[str]] = {
    "student_id": {"student id", "studentid", "id number", "idnumber", "id nummer", "matrikelnummer", "matrikel nr",
                   "matrikelnr", "matr nr", "matriculation number", "matriculation no", "student number",
                   "sis user id"},
    "email": {"email", "e mail", "email address", "e mail address", "e mail adresse", "emailadresse", "mail"},
    "first_name": {"first name", "firstname", "vorname", "given name"},
    "last_name": {"last name", "lastname", "nachname", "surname", "family name"},
    "name": {"name", "full name", "fullname", "student", "student name", "vollständiger name"},
    "login": {"login", "username", "user name", "benutzername", "anmeldename", "sis login id"},
    "system_id": {"usr id"},
    "section": {"section"},
    "status": {"status"},
}
_SEPARATORS = ",;\t"


class RosterError(ValueError):
    """A roster that cannot be used; the message names the file (and the line) and the problem."""


@dataclass(frozen=True)
class RosterEntry:
    line: int  # line of the file, for messages
    cells: dict[str, str]  # field -> the cell as the course system wrote it (see the module table)
    extra: dict[str, str] = field(default_factory=dict)  # every column by its header, as written

    def get(self, name: str) -> str | None:
        value = self.cells.get(name, "").strip()
        return value or None

    @property
    def student_id(self) -> str | None:
        return self.get("student_id")

    @property
    def email(self) -> str | None:
        return self.get("email")

    @property
    def name(self) -> str | None:
        """The full name: the name column, else first and last name."""
        parts = [p for p in (self.get("first_name"), self.get("last_name")) if p]
        return self.get("name") or (" ".join(parts) if parts else None)

    def label(self) -> str:
        who = self.name or self.email or self.get("login") or "?"
        return f"'{who}'" + (f" ({self.student_id})" if self.student_id else "") + f" (roster line {self.line})"


@dataclass(frozen=True)
class Roster:
    path: Path
    kind: str  # what the columns look like: "moodle", "ilias", "canvas" or "generic"
    fields: tuple[str, ...]  # the fields found
    entries: tuple[RosterEntry, ...]


def read_roster(path: Path) -> Roster:
    path = Path(path)
    try:
        if path.stat().st_size > MAX_ROSTER_BYTES:
            raise RosterError(f"{path}: a roster over {MAX_ROSTER_BYTES // 2**20} MB is not a participant list")
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError(f"{path}: not UTF-8 text; save it as \"CSV UTF-8\" (or export it from the course "
                          "system again)") from None
    except OSError as exc:
        raise RosterError(f"{path}: cannot read the roster ({exc.strerror})") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise RosterError(f"{path}: the roster is empty (the first line must name the columns)")
    header_line = lines[0]
    separator = max(_SEPARATORS, key=header_line.count)
    rows = list(csv.reader(io.StringIO(text), delimiter=separator))
    headers = [h.strip() for h in rows[0]]
    keys = [_header_key(h) for h in headers]
    kind = _kind(set(keys))
    columns: dict[str, int] = {}
    for index, key in enumerate(keys):
        name = _field_of(key, kind)
        if name and name not in columns:
            columns[name] = index
    if not {"student_id", "email", "name", "first_name", "last_name", "login", "system_id"} & columns.keys():
        raise RosterError(f"{path}: no column names a student (looked for a student id, e-mail, name or login "
                          f"column; the header is {', '.join(repr(h) for h in headers)})")
    entries = []
    for number, row in enumerate(rows[1:], start=2):
        cells = {name: row[index] if index < len(row) else "" for name, index in columns.items()}
        extra = {headers[i]: row[i] for i in range(min(len(row), len(headers)))}
        entry = RosterEntry(line=number, cells=cells, extra=extra)
        if not any(entry.get(name) for name in columns) or (kind == "canvas" and _canvas_meta_row(entry)):
            continue
        entries.append(entry)
    _check_unique(path, entries)
    return Roster(path=path, kind=kind, fields=tuple(columns), entries=tuple(entries))


def _header_key(header: str) -> str:
    return re.sub(r"[\s_\-.:]+", " ", header.strip().lstrip("\ufeff").casefold()).strip()


def _kind(keys: set[str]) -> str:
    if "student" in keys and keys & {"sis user id", "sis login id", "section"}:
        return "canvas"
    if "usr id" in keys or "login" in keys:
        return "ilias"
    if keys & {"id number", "email address", "first name", "id nummer", "e mail adresse"}:
        return "moodle"
    return "generic"


def _field_of(key: str, kind: str) -> str | None:
    if key == "id":  # Canvas's own user id; elsewhere a plain "id" column is the student id
        return "system_id" if kind == "canvas" else "student_id"
    return next((name for name, aliases in _ALIASES.items() if key in aliases), None)


def _canvas_meta_row(entry: RosterEntry) -> bool:
    """Canvas exports put a "Points Possible" row under the header (posting-policy rows name nobody)."""
    return (entry.get("name") or "").startswith("Points Possible")


def _check_unique(path: Path, entries: list[RosterEntry]) -> None:
    seen: dict[tuple[str, str], RosterEntry] = {}
    for entry in entries:
        for kind, key in (("student id", normalise_student_id(entry.student_id)), ("e-mail", email_key(entry.email))):
            if key is None:
                continue
            earlier = seen.setdefault((kind, key), entry)
            if earlier is not entry:
                raise RosterError(f"{path}: lines {earlier.line} and {entry.line} have the same {kind} "
                                  f"({earlier.cells.get('student_id' if kind == 'student id' else 'email')!r} and "
                                  f"{entry.cells.get('student_id' if kind == 'student id' else 'email')!r})")

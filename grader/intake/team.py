"""Reading the team (name, student id, email of each member) that a hand-in declares, and
comparing it with the team in the file name.

A team member is a name with a student id or an e-mail, inside a block that says it lists the team:
a block (a notebook cell, or the part of a file under one heading) with a team word ("Team", "Group",
"Members", "Gruppe", ...), with student-id or e-mail keys ("Student ID:", "Matrikelnummer:", "E-Mail:"),
with a "Name:" that carries an id or e-mail, or a table whose header names those columns. Anything else
is ignored (Otter-Grader's `# BEGIN QUESTION` / `name: q1` raw cells, "Name the model: ..."). Inside a
team block, what cannot be read for sure (a name without id or e-mail, an id without a name, a "name"
that is no name) is a doubt: the batch turns it into a `team_unclear` flag, never into a student.

The sheet asks for "Name:", "Student ID (matriculation number):" and "Email:" of every member.
Students write that as key-value lines, as a Markdown table, or as "Name, id, email" on one
line; in notebooks in Markdown cells or code comments, in scripts in comments or docstrings.
Nothing is executed: code is only tokenized to find its comments and string literals.
"""

from __future__ import annotations

import io
import re
import tokenize
import unicodedata
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from grader.intake.flags import Flag
from grader.intake.naming import Student, nfc, normalise_student_id
from grader.text.files import TextEncodingError, read_hand_in_text

# Team info sits at the top of a hand-in; this much of its text is plenty and bounds the work.
_MAX_TEXT_CHARS = 2_000_000
# A line that declares a team member is short; longer ones (a data dump, a minified blob) are not read for it.
# Every pattern below is linear in the line (no nested or overlapping quantifiers, matches start only at the
# start of a run), and this bound keeps even a linear scan of one line cheap (issue 13: a 150,000-letter
# "Name:" line once stalled the grader 83 s, a code line of 3,000 spaces 9 s).
MAX_TEAM_LINE_CHARS = 1_000
# Code is read only by Python's tokenizer, which is linear but slow (about 10 µs a token): this much code per
# file, from its start, where the team is declared.
_MAX_CODE_CHARS = 100_000

# Starts only where a run of address characters starts: without the look-behind every position of a long run
# would be tried again, quadratic in the run.
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)+")
_ID_RE = re.compile(r"(?<![\w.@])\d+(?![\w@])")

_NAME_KEY = r"(?:full\s+|student\s+|team\s+member\s+|member\s+)?names?"
_ID_KEY = (
    r"(?:student\s*+ids?|student\s*+numbers?|student\s*+no\.?|matriculation(?:\s*+(?:numbers?|no\.?|nr\.?))?"
    r"|matrikel(?:nummer|nummern|nr\.?|\s*+-?+\s*+nr\.?)?|matr\.?\s*+-?+\s*+nr\.?|mat\.?\s*+no\.?|ids?)"
)
_EMAIL_KEY = r"(?:e\s*+-?+\s*+mails?(?:\s*+address(?:es)?)?|mails?)"
_FIELD_KEYS = {"name": _NAME_KEY, "student_id": _ID_KEY, "email": _EMAIL_KEY}
# A key, an optional member number ("Name 2") and remark ("(matriculation number)"), then ':' or '='.
_KEY_VALUE_RE = re.compile(
    r"(?<![A-Za-z])(?:(?P<name>" + _NAME_KEY + r")|(?P<student_id>" + _ID_KEY + r")|(?P<email>" + _EMAIL_KEY + r"))"
    r"\s*+\d*+\s*+(?:\([^)]*+\))?+\s*+[:=]",
    re.IGNORECASE,
)
_HEADER_CELL_RE = {field: re.compile(rf"^{key}\s*(?:\([^)]*\))?$", re.IGNORECASE) for field, key in _FIELD_KEYS.items()}
_PLACEHOLDER_RE = re.compile(
    r"^(?:<.*>|\[.*\]|\{.*\}|\.{2,}|…|_+|-+|x+|\?+|todo|tbd|n/?a|none|your\b.*|first\s*name.*|last\s*name.*"
    r"|name\s*\d*|id\s*\d*|email\s*\d*)$",
    re.IGNORECASE,
)
_NAME_LIKE_RE = re.compile(r"^[^\W\d_]++(?:[ '’.-]++[^\W\d_]++)*+\.?$")
_LEAD_MARKS_RE = re.compile(r"^(?:[#>*+\-•]+\s+|#+|//\s*|\d+[.)]\s+)+")
_VARIABLE_RE = re.compile(r"[A-Za-z_][A-Za-z_ ]*+")
# Words that say a block lists the team (English and German, as students write them).
_TEAM_WORD_RE = re.compile(
    r"(?<![^\W\d_])(?:team|teams|group|groups|gruppe|gruppen|members?|mitglied(?:er)?|authors?|autor(?:en|in|innen)?"
    r"|students?|studierende|studenten|participants?|teilnehmer(?:innen)?|submitted\s+by|abgegeben\s+von"
    r"|abgabe\s+von|bearbeitet\s+von)(?![^\W\d_])",
    re.IGNORECASE,
)
# A block ends where a Markdown heading or a horizontal rule starts the next one.
_BLOCK_BREAK_RE = re.compile(r"^\s{0,3}(?:#{1,6}\s|(?:-{3,}|\*{3,}|_{3,})\s*$)")
# A person's name: letters, with spaces, hyphens, apostrophes and dots between; at most this many words.
_PERSON_NAME_RE = re.compile(r"^[^\W\d_]++(?:[ '’.-]++[^\W\d_]++)*+\.?$")
_MAX_NAME_WORDS = 6


@dataclass(frozen=True)
class TeamMember:
    """One member as the hand-in declares them; a part the students left out is None."""

    name: str | None
    student_id: str | None
    email: str | None


@dataclass(frozen=True)
class TeamReading:
    """What a hand-in's team blocks say: the members read for sure, and sentences on what was doubtful."""

    members: list[TeamMember]
    doubts: list[str]


def read_team_info(path: Path) -> list[TeamMember]:
    """The team declared in a notebook (.ipynb), script (.py) or text (.md, .txt) file.

    Raises ValueError naming the file when it cannot be read as that kind of file.
    """
    return read_team(path).members


def read_team(path: Path) -> TeamReading:
    """read_team_info with the doubts (see TeamReading)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".ipynb", ".py", ".md", ".txt"):
        raise ValueError(f"cannot read team information from '{path}': only .ipynb, .py, .md and .txt files are read")
    try:
        raw = read_hand_in_text(path)
    except TextEncodingError as exc:
        raise ValueError(f"cannot read team information from '{path}': {exc.problem}") from None
    except OSError as exc:
        raise ValueError(f"cannot read team information from '{path}': {exc.strerror or exc}") from exc
    if suffix == ".ipynb":
        # Parsed whole (outputs with images make notebooks big); only the cell sources are kept, cell by cell.
        return parse_team_blocks(_notebook_cells(path, raw))
    if suffix == ".py":
        return parse_team_blocks([_code_text(raw[:_MAX_CODE_CHARS])])
    # A file named for the team ("team.txt", "Gruppe.md") says by its name that it lists the team.
    return parse_team_blocks([raw[:_MAX_TEXT_CHARS]], team_file=bool(_TEAM_WORD_RE.fullmatch(path.stem)))


def parse_team_text(text: str) -> list[TeamMember]:
    """Team members from plain text: key-value lines, a table, or 'Name, id, email' lines."""
    return parse_team_blocks([text]).members


def parse_team_blocks(texts: Sequence[str], *, team_file: bool = False) -> TeamReading:
    """The team from pieces of text (notebook cells, a file), each cut further at headings into blocks.

    Only blocks that say they list the team are read; a block with a team word but no members (a "## Team"
    heading alone in its cell) lets the next block be read too, and so does a file named for the team (team_file).
    """
    records: list[TeamMember] = []
    budget = _MAX_TEXT_CHARS
    team_word_before = team_file
    for text in texts:
        text = text[:max(0, budget)]
        budget -= len(text)
        for block in _blocks(text):
            found, says_team = _block_records(block, team_word_before)
            records.extend(found)
            team_word_before = says_team and not found
    merged = _merge_repeats(records)
    members = [m for m in merged if _is_member(m)]
    doubts = [_doubt(m) for m in merged if not _is_member(m)]
    return TeamReading(members, doubts)


def _blocks(text: str) -> list[list[str]]:
    """Clean lines of `text`, cut where a heading or a horizontal rule starts a new block."""
    blocks: list[list[str]] = [[]]
    for line in nfc(text).replace("<br>", "\n").replace("<br/>", "\n").splitlines():
        if len(line) > MAX_TEAM_LINE_CHARS:
            blocks[-1].append("")
            continue
        if _BLOCK_BREAK_RE.match(line) and blocks[-1]:
            blocks.append([])
        blocks[-1].append(_clean_line(line))
    return [block for block in blocks if any(block)]


def _block_records(lines: list[str], team_word_before: bool) -> tuple[list[TeamMember], bool]:
    """The records of one block if it says it lists the team (else none), and whether it has a team word."""
    team_word = any(_TEAM_WORD_RE.search(line) for line in lines)
    keyed = _from_tables_and_keys(lines)
    says_team = team_word or team_word_before or _has_team_keys(lines)
    if not says_team:
        return [], False
    if not keyed:
        keyed = _from_one_line_records(lines)
    return keyed, team_word


def _has_team_keys(lines: list[str]) -> bool:
    """Keys that only a list of students has: a student id or e-mail key, a name that carries an id or e-mail,
    a table with name and id or e-mail columns."""
    for line in lines:
        columns = _table_header(line)
        if "name" in columns and ("student_id" in columns or "email" in columns):
            return True
        for field, value in _key_values(line):
            if field in ("student_id", "email") and value:
                return True
            if field == "name" and (_EMAIL_RE.search(value) or re.search(r"(?<![\w.@])\d{3,}(?![\w@])", value)):
                return True
    return False


def _is_member(member: TeamMember) -> bool:
    return bool(member.name and _looks_like_name(member.name) and (member.student_id or member.email)
                and (member.student_id is None or any(ch.isdigit() for ch in member.student_id)))


def _looks_like_name(name: str) -> bool:
    return len(name) <= 80 and len(name.split()) <= _MAX_NAME_WORDS and bool(_PERSON_NAME_RE.match(name))


def _doubt(member: TeamMember) -> str:
    """Why a record in a team block is not taken as a student."""
    if member.name and not _looks_like_name(member.name):
        return f"'{_short(member.name)}' does not look like a person's name"
    if member.student_id and not any(ch.isdigit() for ch in member.student_id):
        return f"'{_short(member.student_id)}' given as the student id of '{_short(member.name or '?')}' has no digits"
    if member.name:
        return f"'{_short(member.name)}' is listed without a student id or e-mail"
    return f"{'student id ' + member.student_id if member.student_id else repr(member.email)} is listed without a name"


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compare_team(
    zip_students: Sequence[Student], declared: Sequence[TeamMember], source: str = "the hand-in"
) -> list[Flag]:
    """Flag every difference between the file name's team and the declared team.

    Members are paired by student id first, then by name. Names compare tolerantly: case,
    accents (Müller = Muller = Mueller), hyphens and the order of first and last name do not
    matter, and a last name alone matches the full name.
    """
    if not declared:
        return [Flag("team_mismatch", f"no team information (name, student id, email) was found in {source}")]
    flags: list[Flag] = []
    unused = list(declared)

    def take(predicate: Callable[[TeamMember], bool]) -> TeamMember | None:
        found = next((member for member in unused if predicate(member)), None)
        if found is not None:
            unused.remove(found)
        return found

    pairs: list[tuple[Student, TeamMember | None]] = []
    for student in zip_students:
        match = None
        if student.student_id:
            match = take(lambda m: m.student_id is not None and same_id(m.student_id, student.student_id))
        pairs.append((student, match))
    for index, (student, match) in enumerate(pairs):
        if match is None and student.name:
            pairs[index] = (student, take(lambda m: m.name is not None and names_match(m.name, student.name)))

    for student, member in pairs:
        if member is None:
            if student.name or student.student_id:
                flags.append(Flag("team_mismatch", f"{student.label()} is named in the file name but not in {source}"))
            continue
        if student.student_id and member.student_id and not same_id(student.student_id, member.student_id):
            flags.append(
                Flag(
                    "team_mismatch",
                    f"'{student.name}' has student id {student.student_id} in the file name "
                    f"but {member.student_id} in {source}",
                )
            )
        if student.name and member.name and not names_match(student.name, member.name):
            flags.append(
                Flag(
                    "team_mismatch",
                    f"student id {student.student_id} is '{student.name}' in the file name "
                    f"but '{member.name}' in {source}",
                )
            )
    for member in unused:
        if member.name or member.email:
            who = f"'{member.name or member.email}'" + (f" ({member.student_id})" if member.student_id else "")
        else:
            who = f"student id {member.student_id}"
        flags.append(Flag("team_mismatch", f"{who} is listed in {source} but not in the file name"))
    for member in declared:
        if member.name:
            who = f"'{member.name}'"
        else:
            who = f"student id {member.student_id}" if member.student_id else f"'{member.email}'"
            flags.append(Flag("team_mismatch", f"no name is given for {who} in {source}"))
        if not member.student_id:
            flags.append(Flag("team_mismatch", f"no student id is given for {who} in {source}"))
        if not member.email:
            flags.append(Flag("team_mismatch", f"no email is given for {who} in {source}"))
    return flags


def names_match(first: str, second: str) -> bool:
    """True when one name's parts all appear in the other, ignoring case, accents and order."""
    a, b = _name_tokens(first), _name_tokens(second)
    if not a or not b:
        return False

    def covered(small: list[set[str]], large: list[set[str]]) -> bool:
        return all(any(token & other for other in large) for token in small)

    return covered(a, b) or covered(b, a)


def _name_tokens(name: str) -> list[set[str]]:
    """Each part of a name in two spellings: umlauts written out (ü -> ue) and accents dropped."""
    tokens = []
    for part in re.split(r"[\s\-.,'’]+", nfc(name).casefold()):
        if not part:
            continue
        spelled = part.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
        tokens.append({_strip_accents(spelled), _strip_accents(part)})
    return tokens


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def same_id(first: str, second: str) -> bool:
    return normalise_student_id(first) == normalise_student_id(second)


# --- turning files into text -------------------------------------------------------------


def _notebook_cells(path: Path, raw: str) -> list[str]:
    """Markdown and raw cells as they are; code cells only by their comments and strings."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # schema quirks do not matter for reading sources
            notebook = nbformat.reads(raw, as_version=4)
        cells = [(cell.get("cell_type"), cell.get("source", "")) for cell in notebook.cells]
    except Exception as exc:  # nbformat raises many kinds for broken files
        raise ValueError(f"cannot read team information from '{path}': not a valid notebook ({exc})") from exc
    parts, code_budget = [], _MAX_CODE_CHARS
    for cell_type, source in cells:
        text = "".join(s for s in source if isinstance(s, str)) if isinstance(source, list) else str(source)
        if cell_type == "code":
            text, code_budget = _code_text(text[:code_budget]) if code_budget > 0 else "", code_budget - len(text)
        parts.append(text)
    return parts


def _code_text(code: str) -> str:
    """Comments, string literals and `NAME = "..."` assignments of Python code, in code order."""
    code = code[:_MAX_CODE_CHARS]
    found: list[tuple[int, str]] = []  # (line number, text)
    assignment_lines: set[int] = set()
    for number, line in enumerate(code.splitlines(), start=1):
        assignment = _string_assignment(line) if len(line) <= MAX_TEAM_LINE_CHARS else None
        if assignment:
            variable, value = assignment
            text = f"{variable.replace('_', ' ')}: {value}"
            key = _KEY_VALUE_RE.match(text)
            # `name = 'model'` is everyday code; only NAME = '...' (a constant) declares a person.
            if key and (not key.group("name") or variable.isupper()):
                found.append((number, text))
                assignment_lines.add(number)
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            line_number = token.start[0]
            if token.type == tokenize.COMMENT:
                found.append((line_number, token.string.lstrip("#")))
            elif token.type == tokenize.STRING and line_number not in assignment_lines:
                found.extend((line_number, text) for text in _string_body(token.string).splitlines())
    except (tokenize.TokenError, IndentationError, SyntaxError):
        # Notebook magics or half-written code: comment lines are still worth reading.
        found = [(n, t) for n, t in found if n in assignment_lines]
        found.extend((n, line.split("#", 1)[1]) for n, line in enumerate(code.splitlines(), 1) if "#" in line)
    found.sort(key=lambda item: item[0])  # stable: a line's pieces keep their order
    return "\n".join(text for _, text in found)


def _string_assignment(line: str) -> tuple[str, str] | None:
    """`NAME 2 = "Anna"  # comment` -> ("NAME", "Anna"): a variable (letters, underscores, inner spaces),
    optional digits, '=', then one quoted string and at most a comment. Parsed by hand in one pass: the regular
    expression it replaces had three overlapping quantifiers around the '=' (cubic on a line of spaces)."""
    left, equals, right = line.partition("=")
    if not equals:
        return None
    variable = left.strip().rstrip("0123456789").rstrip()
    if not _VARIABLE_RE.fullmatch(variable):
        return None
    right = right.strip()
    if len(right) < 2 or right[0] not in "'\"":
        return None
    # The value ends at the last matching quote after which only blanks and a comment follow, as the old
    # pattern's backtracking chose. tail_ok[j]: right[j:] is blanks, then optionally '#' and anything.
    tail_ok = [True] * (len(right) + 1)
    for j in range(len(right) - 1, -1, -1):
        tail_ok[j] = right[j] == "#" or (right[j].isspace() and tail_ok[j + 1])
    end = next((i for i in range(len(right) - 1, 0, -1) if right[i] == right[0] and tail_ok[i + 1]), None)
    return None if end is None else (variable, right[1:end])


def _string_body(literal: str) -> str:
    # Strip prefix and quotes; the literal is never evaluated.
    body = literal.lstrip("rRbBuUfF")
    for quote in ('"""', "'''", '"', "'"):
        if body.startswith(quote) and body.endswith(quote) and len(body) >= 2 * len(quote):
            return body[len(quote) : -len(quote)]
    return body


def _clean_line(line: str) -> str:
    line = line.strip().replace("**", "").replace("__", "").replace("`", "")
    return _LEAD_MARKS_RE.sub("", line).strip()


# --- finding members in text -------------------------------------------------------------


def _from_tables_and_keys(lines: list[str]) -> list[TeamMember]:
    members: list[TeamMember] = []
    rows: list[dict[str, list[str]]] = []  # one per key-value group, in order
    index = 0
    while index < len(lines):
        line = lines[index]
        columns = _table_header(line)
        if columns:
            index += 1
            while index < len(lines) and "|" in lines[index]:
                cells = _table_cells(lines[index])
                if not all(re.fullmatch(r":?-{2,}:?", cell) for cell in cells if cell):
                    record = {field: cells[i] for field, i in columns.items() if i < len(cells)}
                    member = _member(record.get("name"), record.get("student_id"), record.get("email"))
                    if member:
                        members.append(member)
                index += 1
            continue
        pairs = list(_key_values(line))
        if pairs and len(pairs) == 1 and not pairs[0][1] and index + 1 < len(lines):
            # "Name:" with the answer on the next non-empty line, as the sheet's template reads.
            follower = next((i for i in range(index + 1, len(lines)) if lines[i]), None)
            if follower is not None and not list(_key_values(lines[follower])) and "|" not in lines[follower]:
                pairs = [(pairs[0][0], lines[follower])]
                index = follower
        for field, value in pairs:
            extras: list[tuple[str, str]] = []
            if field == "name" and len(pairs) == 1:
                value, extras = _pull_id_and_email(value)
            items = _split_value(field, value)
            if items:
                _add_to_rows(rows, field, items)
            for extra_field, extra_value in extras:
                _add_to_rows(rows, extra_field, [extra_value])
        index += 1
    members.extend(m for row in rows if (m := _member(*(_first(row, f) for f in _FIELD_KEYS))) is not None)
    return members


def _pull_id_and_email(value: str) -> tuple[str, list[tuple[str, str]]]:
    """'Lena Strüber (7012345), lena@uni.example' after 'Name:' -> the name, plus id and email."""
    emails = _EMAIL_RE.findall(value)
    ids = re.findall(r"(?<![\w.@])\d{3,}(?![\w@])", value)
    if len(emails) > 1 or len(ids) > 1 or not (emails or ids):
        return value, []
    rest = value
    for found in emails + ids:
        rest = rest.replace(found, " ")
    rest = re.sub(r"\s+", " ", re.sub(r"[(),;<>\[\]|]", " ", rest)).strip(" -–:")
    extras = [("student_id", found) for found in ids] + [("email", found) for found in emails]
    return rest, extras


def _add_to_rows(rows: list[dict[str, list[str]]], field: str, items: list[str]) -> None:
    """Fill members in order: a field seen again starts the next member (or block of members)."""
    if len(items) == 1:
        if not rows or field in rows[-1]:
            rows.append({})
        rows[-1][field] = items
        return
    # Several values in one line ("Student ID: 111, 222"): one per member, side by side.
    block = _current_block(rows, field)
    while len(rows) < block + len(items):
        rows.append({})
    for offset, item in enumerate(items):
        rows[block + offset][field] = [item]


def _current_block(rows: list[dict[str, list[str]]], field: str) -> int:
    """Where a side-by-side block starts: the trailing run of members that lack `field`."""
    start = len(rows)
    while start > 0 and field not in rows[start - 1]:
        start -= 1
    return start


def _first(row: dict[str, list[str]], field: str) -> str | None:
    values = row.get(field)
    return values[0] if values else None


def _key_values(line: str) -> Iterator[tuple[str, str]]:
    matches = list(_KEY_VALUE_RE.finditer(line))
    if not matches or line[: matches[0].start()].strip():
        return  # a key must open the line, or it is prose ("my name: ...")
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        field = next(key for key in _FIELD_KEYS if match.group(key))
        yield field, line[match.end() : end].strip().strip(",;|").strip()


def _split_value(field: str, value: str) -> list[str]:
    value = value.strip().strip("\"'").strip()
    if field == "email":
        return _EMAIL_RE.findall(value)
    if field == "student_id":
        ids = _ID_RE.findall(value)
        if ids:
            return ids
    if not value or _PLACEHOLDER_RE.match(value):
        return []
    if field == "student_id":
        return [value]
    parts = [p.strip() for p in re.split(r"\s*(?:;|/|&|\band\b|\bund\b)\s*", value) if p.strip()]
    if len(parts) == 1 and "," in value:
        pieces = [p.strip() for p in value.split(",") if p.strip()]
        # "Anna Strüber, Ben Çelik" is two people; "Strüber, Anna" is one, written last name first.
        if len(pieces) > 1 and all(len(p.split()) >= 2 for p in pieces):
            parts = pieces
    return [p for p in parts if not _PLACEHOLDER_RE.match(p)]


def _table_cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table_header(line: str) -> dict[str, int]:
    if "|" not in line:
        return {}
    columns: dict[str, int] = {}
    for i, cell in enumerate(_table_cells(line)):
        for field, pattern in _HEADER_CELL_RE.items():
            if field not in columns and pattern.match(cell):
                columns[field] = i
                break
    return columns if len(columns) >= 2 else {}


# "Team:", "Authors (alphabetical):", "Group members =", "Submitted by": a line that lists its members after it.
_LEAD_TEAM_KEY_RE = re.compile(
    r"^(?:(?:" + _TEAM_WORD_RE.pattern + r")(?:\s++(?:members?|mitglieder|names?))?+\s*+(?:\([^)]*+\))?+\s*+[:=]"
    r"|(?:submitted\s++by|abgegeben\s++von|abgabe\s++von|bearbeitet\s++von)\s*+:?+)\s*+",
    re.IGNORECASE,
)
# Between the parts of one-line records: punctuation, brackets, a dash between blanks, "and"/"und".
_RECORD_SPLIT_RE = re.compile(r"[,;|\t()<>\[\]&/]|\s[-–]\s|\s(?:and|und)\s", re.IGNORECASE)


def _from_one_line_records(lines: list[str]) -> list[TeamMember]:
    """'Anna Strüber, 1234567, anna@uni.example', 'Anna Strüber <anna@...> (1234567)', or several members on one
    line: 'Team: Anna Strüber (1234567), Ben Roth (7654321)', 'Authors: Anna Strüber 1234567 and Ben Roth 7654321'.
    A line counts only when every part of it is a name, a student id or an e-mail address."""
    members = []
    for line in lines:
        line = _LEAD_TEAM_KEY_RE.sub("", line, count=1)
        parts = [piece for part in _RECORD_SPLIT_RE.split(line) for piece in _name_and_id(part.strip()) if piece]
        members.extend(_records_in(parts))
    return members


def _name_and_id(part: str) -> list[str]:
    """'Anna Strüber 1234567' -> ['Anna Strüber', '1234567']; any other part as it is."""
    head, _, tail = part.rpartition(" ")
    if head.strip() and re.fullmatch(r"\d{5,}", tail) and _NAME_LIKE_RE.match(head.strip()):
        return [head.strip(), tail]
    return [part]


def _part_kind(part: str) -> str | None:
    if re.fullmatch(r"\d{5,}", part):
        return "student_id"
    if _EMAIL_RE.fullmatch(part):
        return "email"
    if len(part) <= 80 and _NAME_LIKE_RE.match(part):
        return "name"
    return None


def _records_in(parts: list[str]) -> list[TeamMember]:
    """The members one line's parts make: one name with its id and/or e-mail in any order, or several names each
    followed by its own; none when a part is something else or a member has neither id nor e-mail."""
    kinds = [_part_kind(part) for part in parts]
    if not parts or None in kinds or "name" not in kinds:
        return []
    if kinds.count("name") == 1:
        found = {kind: [p for p, k in zip(parts, kinds) if k == kind] for kind in ("name", "student_id", "email")}
        if len(found["student_id"]) > 1 or len(found["email"]) > 1 or not (found["student_id"] or found["email"]):
            return []
        return [TeamMember(found["name"][0], next(iter(found["student_id"]), None), next(iter(found["email"]), None))]
    if kinds[0] != "name":
        return []
    records: list[dict[str, str | None]] = []
    for part, kind in zip(parts, kinds):
        if kind == "name":
            records.append({"name": part, "student_id": None, "email": None})
        elif records[-1][kind] is not None:
            return []
        else:
            records[-1][kind] = part
    if any(record["student_id"] is None and record["email"] is None for record in records):
        return []
    return [TeamMember(**record) for record in records]


def _member(name: str | None, student_id: str | None, email: str | None) -> TeamMember | None:
    def clean(value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().strip("\"'").strip()
        return None if not value or _PLACEHOLDER_RE.match(value) else value

    name, student_id, email = clean(name), clean(student_id), clean(email)
    if email is not None:
        found = _EMAIL_RE.search(email)
        email = found.group(0) if found else None
    if not (name or student_id or email):
        return None
    return TeamMember(name, student_id, email)


def _merge_repeats(members: list[TeamMember]) -> list[TeamMember]:
    """The same member written twice (Markdown and a code comment) counts once."""
    merged: list[TeamMember] = []
    for member in members:
        for i, earlier in enumerate(merged):
            shared_id = member.student_id and earlier.student_id and same_id(member.student_id, earlier.student_id)
            same_mail = member.email and earlier.email and member.email.casefold() == earlier.email.casefold()
            if shared_id or same_mail:
                merged[i] = replace(
                    earlier,
                    name=earlier.name or member.name,
                    student_id=earlier.student_id or member.student_id,
                    email=earlier.email or member.email,
                )
                break
        else:
            merged.append(member)
    return merged


@dataclass(frozen=True)
class StudentRecord:
    """One student of a hand-in as results keep it: the file name's, completed from the declared team."""

    student_id: str | None
    name: str | None
    email: str | None
    source: str  # "file name", "file name and hand-in", "hand-in only"


# Reads a PDF's first pages as text for declared_team. PDFs are untrusted and pypdf can be made to spin, so the
# grader never parses them in its own process: the caller passes a reader that works in a bounded child
# (grader.commands.manual.reading.pdf_text); without one, PDFs are not read for team information.
PdfTextReader = Callable[[Path], str]


def declared_team(files_dir: Path, main_file: str | None, written: Sequence[str], notes: list[str],
                  pdf_text: PdfTextReader | None = None, doubts: list[str] | None = None
                  ) -> tuple[list[TeamMember], str | None]:
    """The team the hand-in declares and the file it was read from: the main file first, then written answers
    (text before PDF). (…, None) when no file could be read, so there is nothing to compare. Files that cannot
    be read add a note; what a team block says doubtfully adds one sentence to `doubts` (the `team_unclear`
    flag: never a student)."""
    candidates = ([main_file] if main_file else []) + [w for w in written if not w.lower().endswith(".pdf")] \
        + [w for w in written if w.lower().endswith(".pdf")]
    first_read: str | None = None
    for relative in candidates:
        path = files_dir / relative
        try:
            if path.suffix.lower() == ".pdf":
                if pdf_text is None:
                    continue
                reading = parse_team_blocks([pdf_text(path)])
            else:
                reading = read_team(path)
        except ValueError as exc:
            notes.append(f"team information: {exc}")
            continue
        members = reading.members
        if reading.doubts and doubts is not None and not doubts:
            more = f" and {len(reading.doubts) - 5} more" if len(reading.doubts) > 5 else ""
            doubts.append(f"team information in '{relative}' could not be read for sure: "
                          f"{'; '.join(reading.doubts[:5])}{more}; no student was added for it")
        if members:
            return members, f"'{relative}'"
        first_read = first_read or f"'{relative}'"
    return [], first_read


def reconcile_team(named: Sequence[Student], declared: Sequence[TeamMember], id_pattern: str) -> list[StudentRecord]:
    """The file name's students, completed (full name, email) from the declared team; then declared extras.

    A file-name id that breaks the naming rule ("sheet11") gives way to the declared id of the same student.
    """
    unused = list(declared)
    students = []
    for student in named:
        match = None
        if student.student_id:
            match = next((m for m in unused if m.student_id and same_id(m.student_id, student.student_id)), None)
        if match is None and student.name:
            match = next((m for m in unused if m.name and names_match(m.name, student.name)), None)
        if match is None:
            students.append(StudentRecord(normalise_student_id(student.student_id), student.name, None, "file name"))
            continue
        unused.remove(match)
        named_id_ok = student.student_id is not None and re.fullmatch(id_pattern, student.student_id) is not None
        student_id = student.student_id if named_id_ok or not match.student_id else match.student_id
        students.append(StudentRecord(normalise_student_id(student_id), match.name or student.name, match.email,
                                      "file name and hand-in"))
    students.extend(StudentRecord(normalise_student_id(m.student_id), m.name, m.email, "hand-in only") for m in unused)
    return students

"""The review page's state in the gradebook file: rubric items, what each answer has, splits, assignments.

The tutors' scores themselves stay where `grader manual import` puts them, in `manual_scores` (one row per
score, never changed; the latest counts), so the CSV round trip, the history and every report keep working.
The review page adds its own tables beside them (created here when the page opens a gradebook; the schema
version is unchanged, older graders ignore them; docs/review.md lists them):

- `review_items`: a question's rubric items (points ±, the text students see), Gradescope style;
- `review_marks`: per answer the items applied, a point adjustment and a comment, and the `manual_scores` row
  they produced (an answer whose latest score is another row was scored elsewhere, e.g. by a CSV import);
- `review_splits`: answers taken out of their group of alike answers;
- `review_assignments`: which tutor grades which question (and which range of hand-ins);
- `review_answers`: the extracted answers, cached per hand-in content (reading 400 hand-ins takes a while).

Every write is one short transaction that takes the write lock at once (BEGIN IMMEDIATE) and checks, inside
it, that the answer is still as the tutor's page showed it: a stale write is refused, never applied.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from grader.store.gradebook import Gradebook, ManualScore
from grader.store.gradebook import _manual_score as _score  # the same row, read the same way
from grader.prose.extract import AnswerText

_TABLES = """
CREATE TABLE IF NOT EXISTS review_items (
    id          INTEGER PRIMARY KEY,
    sheet       TEXT NOT NULL,
    question_id TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    position    INTEGER NOT NULL,
    points      REAL NOT NULL,
    text        TEXT NOT NULL,
    key_point   TEXT,
    version     INTEGER NOT NULL DEFAULT 1,
    deleted     INTEGER NOT NULL DEFAULT 0,
    updated_by  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS review_items_by_check ON review_items (sheet, question_id, check_id, position);
CREATE TABLE IF NOT EXISTS review_marks (
    sheet       TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    question_id TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    items       TEXT NOT NULL,
    adjustment  REAL NOT NULL DEFAULT 0,
    comment     TEXT NOT NULL DEFAULT '',
    score_id    INTEGER NOT NULL,
    PRIMARY KEY (sheet, file_name, question_id, check_id)
);
CREATE TABLE IF NOT EXISTS review_splits (
    sheet       TEXT NOT NULL,
    question_id TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    tutor       TEXT NOT NULL,
    entered_at  TEXT NOT NULL,
    PRIMARY KEY (sheet, question_id, file_name)
);
CREATE TABLE IF NOT EXISTS review_assignments (
    id          INTEGER PRIMARY KEY,
    sheet       TEXT NOT NULL,
    tutor       TEXT NOT NULL,
    question_id TEXT,
    first       INTEGER,
    last        INTEGER,
    assigned_by TEXT NOT NULL,
    assigned_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS review_groups (
    sheet       TEXT NOT NULL,
    question_id TEXT NOT NULL,
    digest      TEXT NOT NULL,
    groups      TEXT NOT NULL,
    PRIMARY KEY (sheet, question_id)
);
CREATE TABLE IF NOT EXISTS review_answers (
    sheet          TEXT NOT NULL,
    file_name      TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    answers        TEXT NOT NULL,
    PRIMARY KEY (sheet, file_name)
);
"""
_SAME = 1e-9


class StaleWrite(Exception):
    """The answer (or item) changed since the tutor's page showed it; nothing was written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Item:
    """A rubric item of one tutor check: applied to an answer, it adds `points` (negative: takes off)."""

    id: int
    question_id: str
    check_id: str
    position: int
    points: float
    text: str
    key_point: str | None  # the model answer's key point it was made from
    version: int
    updated_by: str
    updated_at: str


@dataclass(frozen=True)
class Marks:
    """What the review page gave one answer: items, adjustment, comment, and the score row that produced."""

    items: tuple[int, ...]
    adjustment: float
    comment: str
    score_id: int


@dataclass(frozen=True)
class Assignment:
    id: int
    tutor: str
    question_id: str | None  # None: every question
    first: int | None  # hand-in numbers (1-based, file-name order), inclusive; None: from the first / to the last
    last: int | None
    assigned_by: str

    def covers(self, question_id: str, number: int) -> bool:
        return ((self.question_id is None or self.question_id == question_id)
                and (self.first is None or number >= self.first) and (self.last is None or number <= self.last))

    def describe(self) -> str:
        what = f"question {self.question_id}" if self.question_id else "every question"
        if self.first is None and self.last is None:
            return f"{what}, all hand-ins"
        return f"{what}, hand-ins {self.first or 1} to {self.last if self.last is not None else 'the last'}"


@dataclass(frozen=True)
class AnswerScore:
    """One answer to store: the hand-in, the score id the page showed (0: none) and its content."""

    file_name: str
    based_on: int
    content_sha256: str


def score_of(items: Sequence[Item], applied: Sequence[int], adjustment: float, comment: str,
             max_points: float) -> tuple[float, str]:
    """The points (the items' sum plus the adjustment, within 0 … max) and the text students see."""
    chosen = [item for item in items if item.id in applied]
    total = sum(item.points for item in chosen) + adjustment
    points = round(min(max(total, 0.0), max_points), 6)
    parts = [f"{item.text} ({item.points:+g})" for item in chosen]
    if abs(adjustment) > _SAME:
        parts.append(f"adjustment {adjustment:+g}")
    if comment.strip():
        parts.append(comment.strip())
    return points, "; ".join(parts)


class ReviewStore:
    """The gradebook file as the review page uses it: one connection per thread, short transactions."""

    def __init__(self, path: Path, sheet: str) -> None:
        self.path, self.sheet = Path(path), sheet
        self._local = threading.local()
        with Gradebook.open(self.path):  # creates or migrates the gradebook's own tables, refuses a newer one
            pass
        self.db.executescript(_TABLES)

    @property
    def db(self) -> sqlite3.Connection:
        connection = getattr(self._local, "db", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
            connection.execute("PRAGMA synchronous=NORMAL")  # WAL stays crash-safe; a commit is one fsync less
            self._local.db = connection
        return connection

    def gradebook(self) -> Gradebook:
        """The engine's view of the same file on this thread's connection (do not close it)."""
        return Gradebook(self.db, self.path)

    def close(self) -> None:
        connection = getattr(self._local, "db", None)
        if connection is not None:
            connection.close()
            self._local.db = None

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One short transaction holding the write lock from its start: what it reads stays true until it ends."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # --- extracted answers (a cache: reading every hand-in again at each start is slow) ---------------------

    def cached_answers(self) -> dict[str, tuple[str, dict[str, AnswerText]]]:
        return {row["file_name"]: (row["content_sha256"], {qid: AnswerText.model_validate(a) for qid, a in
                                                            json.loads(row["answers"]).items()})
                for row in self.db.execute("SELECT * FROM review_answers WHERE sheet = ?", (self.sheet,))}

    def cache_answers(self, found: dict[str, tuple[str, dict[str, AnswerText]]]) -> None:
        with self.write() as db:
            db.executemany("INSERT OR REPLACE INTO review_answers (sheet, file_name, content_sha256, answers)"
                           " VALUES (?, ?, ?, ?)",
                           [(self.sheet, name, sha, json.dumps({q: a.model_dump() for q, a in answers.items()},
                                                               ensure_ascii=False))
                            for name, (sha, answers) in found.items()])

    def cached_groups(self, question_id: str, digest: str) -> list[list[str]] | None:
        """The groups of alike answers computed for exactly these answers (`digest`), if any."""
        row = self.db.execute("SELECT groups FROM review_groups WHERE sheet = ? AND question_id = ? AND digest = ?",
                              (self.sheet, question_id, digest)).fetchone()
        return json.loads(row[0]) if row is not None else None

    def cache_groups(self, question_id: str, digest: str, groups: list[list[str]]) -> None:
        with self.write() as db:
            db.execute("INSERT OR REPLACE INTO review_groups (sheet, question_id, digest, groups) VALUES (?, ?, ?, ?)",
                       (self.sheet, question_id, digest, json.dumps(groups, ensure_ascii=False)))

    # --- rubric items ------------------------------------------------------------------------------------

    def items(self, question_id: str, check_id: str) -> list[Item]:
        return [_item(row) for row in self.db.execute(
            "SELECT * FROM review_items WHERE sheet = ? AND question_id = ? AND check_id = ? AND deleted = 0"
            " ORDER BY position, id", (self.sheet, question_id, check_id))]

    def item(self, item_id: int) -> Item | None:
        row = self.db.execute("SELECT * FROM review_items WHERE id = ? AND sheet = ? AND deleted = 0",
                              (item_id, self.sheet)).fetchone()
        return _item(row) if row is not None else None

    def seed_items(self, question_id: str, check_id: str, seeds: Sequence[tuple[float, str, str | None]],
                   tutor: str) -> None:
        """Give a check its first items (from the model answer's key points) unless it ever had items."""
        with self.write() as db:
            if db.execute("SELECT 1 FROM review_items WHERE sheet = ? AND question_id = ? AND check_id = ?",
                          (self.sheet, question_id, check_id)).fetchone():
                return
            db.executemany("INSERT INTO review_items (sheet, question_id, check_id, position, points, text,"
                           " key_point, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(self.sheet, question_id, check_id, i, points, text, key, tutor, _now())
                            for i, (points, text, key) in enumerate(seeds)])

    def add_item(self, question_id: str, check_id: str, points: float, text: str, tutor: str) -> int:
        with self.write() as db:
            position = db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM review_items WHERE sheet = ? AND"
                                  " question_id = ? AND check_id = ?", (self.sheet, question_id, check_id)
                                  ).fetchone()[0]
            return int(db.execute("INSERT INTO review_items (sheet, question_id, check_id, position, points, text,"
                                  " updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                  (self.sheet, question_id, check_id, position, points, text, tutor, _now())
                                  ).lastrowid)

    def edit_item(self, item_id: int, *, version: int, points: float, text: str, delete: bool, tutor: str,
                  max_points: float, contents: dict[str, str]) -> tuple[list[str], list[str]]:
        """Change (or delete) an item and rescore, in the same transaction, every answer that has it.

        Returns (hand-ins rescored, hand-ins left alone because their latest score was entered elsewhere, e.g.
        by a CSV import after the items were applied). Raises StaleWrite when the item changed since `version`.
        """
        rescored, kept = [], []
        with self.write() as db:
            row = db.execute("SELECT * FROM review_items WHERE id = ? AND sheet = ?", (item_id, self.sheet)
                             ).fetchone()
            if row is None or row["deleted"]:
                raise StaleWrite("this item was deleted meanwhile; reload the page")
            if row["version"] != version:
                raise StaleWrite(f"{row['updated_by']} changed this item at {_when(row['updated_at'])} since your page "
                                 f"showed it (now {row['points']:+g}: {row['text']}); nothing was changed. Look at "
                                 "it again, then edit it.")
            db.execute("UPDATE review_items SET points = ?, text = ?, deleted = ?, version = version + 1,"
                       " updated_by = ?, updated_at = ? WHERE id = ?",
                       (points, text, int(delete), tutor, _now(), item_id))
            question_id, check_id = row["question_id"], row["check_id"]
            items = [_item(r) for r in db.execute(
                "SELECT * FROM review_items WHERE sheet = ? AND question_id = ? AND check_id = ? AND deleted = 0",
                (self.sheet, question_id, check_id))]
            latest = _latest_ids(db, self.sheet, question_id, check_id)
            for marks_row in db.execute("SELECT * FROM review_marks WHERE sheet = ? AND question_id = ? AND"
                                        " check_id = ?", (self.sheet, question_id, check_id)).fetchall():
                applied = json.loads(marks_row["items"])
                if item_id not in applied:
                    continue
                name = marks_row["file_name"]
                if latest.get(name) != marks_row["score_id"]:
                    kept.append(name)
                    continue
                applied = [i for i in applied if not (delete and i == item_id)]
                new_points, comment = score_of(items, applied, marks_row["adjustment"], marks_row["comment"],
                                               max_points)
                score_id = _insert_score(db, self.sheet, name, question_id, check_id, new_points, comment, tutor,
                                         contents.get(name), latest.get(name))
                db.execute("UPDATE review_marks SET items = ?, score_id = ? WHERE sheet = ? AND file_name = ? AND"
                           " question_id = ? AND check_id = ?",
                           (json.dumps(applied), score_id, self.sheet, name, question_id, check_id))
                rescored.append(name)
        return rescored, kept

    # --- scores ------------------------------------------------------------------------------------------

    def latest_scores(self, question_id: str, check_id: str) -> dict[str, ManualScore]:
        """Hand-in -> its latest score of the check (one query for the whole question)."""
        found = {}
        for row in self.db.execute(
                "SELECT m.* FROM manual_scores m WHERE m.sheet = ? AND m.question_id = ? AND m.check_id = ? AND"
                " m.id = (SELECT MAX(id) FROM manual_scores n WHERE n.sheet = m.sheet AND n.file_name = m.file_name"
                " AND n.question_id = m.question_id AND n.check_id = m.check_id)", (self.sheet, question_id, check_id)):
            found[row["file_name"]] = _score(row)
        return found

    def all_latest_scores(self) -> list[ManualScore]:
        return [_score(row) for row in self.db.execute(
            "SELECT m.* FROM manual_scores m WHERE m.sheet = ? AND m.id = (SELECT MAX(id) FROM manual_scores n"
            " WHERE n.sheet = m.sheet AND n.file_name = m.file_name AND n.question_id = m.question_id AND"
            " n.check_id = m.check_id)", (self.sheet,))]

    def marks(self, question_id: str, check_id: str, files: Sequence[str]) -> dict[str, Marks]:
        if not files:
            return {}
        marks = self.db.execute(
            f"SELECT * FROM review_marks WHERE sheet = ? AND question_id = ? AND check_id = ? AND file_name IN"
            f" ({','.join('?' * len(files))})", (self.sheet, question_id, check_id, *files))
        return {row["file_name"]: Marks(tuple(json.loads(row["items"])), row["adjustment"], row["comment"],
                                        row["score_id"]) for row in marks}

    def save_answers(self, question_id: str, check_id: str, answers: Sequence[AnswerScore], *,
                     applied: Sequence[int], adjustment: float, comment: str, max_points: float,
                     tutor: str) -> list[str]:
        """Give every answer of a group the same items, adjustment and comment: all, or none when any of them
        changed since the page showed it (StaleWrite names who changed it). Returns the hand-ins whose score
        changed (an answer whose points, comment and items are already these gets no new row)."""
        changed = []
        with self.write() as db:
            items = [_item(r) for r in db.execute(
                "SELECT * FROM review_items WHERE sheet = ? AND question_id = ? AND check_id = ? AND deleted = 0",
                (self.sheet, question_id, check_id))]
            known = {item.id for item in items}
            applied = [i for i in dict.fromkeys(applied) if i in known]
            points, text = score_of(items, applied, adjustment, comment, max_points)
            latest = _latest_ids(db, self.sheet, question_id, check_id)
            for answer in answers:
                if latest.get(answer.file_name, 0) != answer.based_on:
                    row = db.execute("SELECT * FROM manual_scores WHERE id = ?", (latest[answer.file_name],)
                                     ).fetchone()
                    raise StaleWrite(
                        f"{row['tutor']} scored this answer ({row['points']:g} points"
                        + (f", \u201c{row['comment']}\u201d" if row["comment"] else "")
                        + f") at {_when(row['entered_at'])}, after your page was loaded; your change was not "
                        "saved. The page now shows the current score: look at it, then grade again.")
            for answer in answers:
                previous = db.execute("SELECT * FROM review_marks WHERE sheet = ? AND file_name = ? AND"
                                      " question_id = ? AND check_id = ?",
                                      (self.sheet, answer.file_name, question_id, check_id)).fetchone()
                stored = db.execute("SELECT points, comment FROM manual_scores WHERE id = ?", (answer.based_on,)
                                    ).fetchone() if answer.based_on else None
                same_marks = previous is not None and previous["score_id"] == answer.based_on and (
                    json.loads(previous["items"]), previous["adjustment"], previous["comment"]) == (
                    applied, adjustment, comment)
                if stored is not None and same_marks and abs(stored["points"] - points) < _SAME \
                        and stored["comment"] == text:
                    continue
                score_id = _insert_score(db, self.sheet, answer.file_name, question_id, check_id, points, text,
                                         tutor, answer.content_sha256, answer.based_on or None)
                db.execute("INSERT OR REPLACE INTO review_marks (sheet, file_name, question_id, check_id, items,"
                           " adjustment, comment, score_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (self.sheet, answer.file_name, question_id, check_id, json.dumps(applied), adjustment,
                            comment, score_id))
                changed.append(answer.file_name)
        return changed

    # --- overrides of automatic checks ---------------------------------------------------------------------

    def latest_override_id(self, file_name: str, question_id: str, check_id: str) -> int:
        row = self.db.execute("SELECT MAX(id) FROM check_overrides WHERE sheet = ? AND file_name = ? AND"
                              " question_id = ? AND check_id = ?", (self.sheet, file_name, question_id, check_id)
                              ).fetchone()
        return row[0] or 0

    def save_override(self, file_name: str, question_id: str, check_id: str, *, points: float | None, reason: str,
                      auto_points: float, auto_status: str, based_on: int, tutor: str) -> None:
        """Override an automatic check's points with a reason (points None: take the override back)."""
        with self.write() as db:
            row = db.execute("SELECT * FROM check_overrides WHERE sheet = ? AND file_name = ? AND question_id = ?"
                             " AND check_id = ? ORDER BY id DESC LIMIT 1",
                             (self.sheet, file_name, question_id, check_id)).fetchone()
            if (row["id"] if row is not None else 0) != based_on:
                what = (f"overrode it with {row['points']:g} points" if row["points"] is not None
                        else "took the override back")
                raise StaleWrite(f"{row['tutor']} {what} at {_when(row['entered_at'])}, after your page was "
                                 "loaded; your change was not saved. Look at the current state, then try again.")
            db.execute("INSERT INTO check_overrides (sheet, file_name, question_id, check_id, points, reason, tutor,"
                       " entered_at, auto_points, auto_status, based_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (self.sheet, file_name, question_id, check_id, points, reason, tutor, _now(), auto_points,
                        auto_status, based_on or None))

    # --- groups of alike answers: splits ----------------------------------------------------------------------

    def splits(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for row in self.db.execute("SELECT question_id, file_name FROM review_splits WHERE sheet = ?", (self.sheet,)):
            found.setdefault(row["question_id"], set()).add(row["file_name"])
        return found

    def split(self, question_id: str, file_name: str, tutor: str) -> None:
        with self.write() as db:
            db.execute("INSERT OR IGNORE INTO review_splits (sheet, question_id, file_name, tutor, entered_at)"
                       " VALUES (?, ?, ?, ?, ?)", (self.sheet, question_id, file_name, tutor, _now()))

    # --- dividing the work ----------------------------------------------------------------------------------

    def assignments(self) -> list[Assignment]:
        return [Assignment(row["id"], row["tutor"], row["question_id"], row["first"], row["last"],
                           row["assigned_by"])
                for row in self.db.execute("SELECT * FROM review_assignments WHERE sheet = ? ORDER BY tutor, id",
                                           (self.sheet,))]

    def assign(self, tutor: str, question_id: str | None, first: int | None, last: int | None, by: str) -> None:
        with self.write() as db:
            db.execute("INSERT INTO review_assignments (sheet, tutor, question_id, first, last, assigned_by,"
                       " assigned_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (self.sheet, tutor, question_id, first, last, by, _now()))

    def unassign(self, assignment_id: int) -> None:
        with self.write() as db:
            db.execute("DELETE FROM review_assignments WHERE id = ? AND sheet = ?", (assignment_id, self.sheet))


def _insert_score(db: sqlite3.Connection, sheet: str, file_name: str, question_id: str, check_id: str,
                  points: float, comment: str, tutor: str, content_sha256: str | None, based_on: int | None) -> int:
    # The same row `grader manual import` writes (docs/gradebook.md, manual_scores): the history stays one.
    return int(db.execute("INSERT INTO manual_scores (sheet, file_name, question_id, check_id, points, comment, tutor,"
                          " entered_at, content_sha256, based_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          (sheet, file_name, question_id, check_id, points, comment, tutor, _now(), content_sha256,
                           based_on)).lastrowid)


def _latest_ids(db: sqlite3.Connection, sheet: str, question_id: str, check_id: str) -> dict[str, int]:
    return {row[0]: row[1] for row in db.execute(
        "SELECT file_name, MAX(id) FROM manual_scores WHERE sheet = ? AND question_id = ? AND check_id = ?"
        " GROUP BY file_name", (sheet, question_id, check_id))}


def _item(row: sqlite3.Row) -> Item:
    return Item(row["id"], row["question_id"], row["check_id"], row["position"], row["points"], row["text"],
                row["key_point"], row["version"], row["updated_by"], row["updated_at"])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _when(text: str) -> str:
    return f"{datetime.fromisoformat(text):%Y-%m-%d %H:%M:%S} UTC"

"""The gradebook: an SQLite file that keeps every grading of every hand-in, and the tutors' manual scores.

The batch writes one grading per hand-in in one transaction, so a run that is killed leaves either the whole
grading or nothing; the reports are rebuilt from here after every run. Manual scores are kept per hand-in
(sheet + file name) and question/check, not per grading, so they survive a regrade. The schema is documented
in docs/gradebook.md; bump SCHEMA_VERSION when it changes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from grader.checks.plan import CheckResult
from grader.intake.flags import FlagRecord
from grader.intake.hand_in import TIMING_FLAGS, HandInTiming, iso_time
from grader.intake.team import StudentRecord
from grader.scoring.record import FailedCell, GradingRecord, IntakeFacts, RunFacts, SheetScore, with_timing_flags
from grader.scoring.sheet import QuestionScore
from grader.scoring.totals import final_points
from grader.store.overrides import CheckOverride, apply_overrides
from grader.text.safe import storable

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id             INTEGER PRIMARY KEY,
    sheet          TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    status         TEXT NOT NULL CHECK (status IN ('running', 'finished', 'interrupted', 'failed')),
    input_dir      TEXT NOT NULL,
    rubric_sha256  TEXT NOT NULL,
    engine_version TEXT NOT NULL,
    sandbox        TEXT NOT NULL,
    jobs           INTEGER NOT NULL,
    forced         INTEGER NOT NULL,
    graded         INTEGER NOT NULL DEFAULT 0,
    skipped        INTEGER NOT NULL DEFAULT 0,
    failed         INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS submissions (
    id         INTEGER PRIMARY KEY,
    sheet      TEXT NOT NULL,
    file_name  TEXT NOT NULL,
    folder     TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    UNIQUE (sheet, file_name)
);
CREATE TABLE IF NOT EXISTS gradings (
    id                INTEGER PRIMARY KEY,
    submission_id     INTEGER NOT NULL REFERENCES submissions(id),
    run_id            INTEGER NOT NULL REFERENCES runs(id),
    content_sha256    TEXT NOT NULL,
    rubric_sha256     TEXT NOT NULL,
    engine_version    TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('done', 'error')),
    started_at        TEXT NOT NULL,
    finished_at       TEXT NOT NULL,
    seconds           REAL NOT NULL,
    main_file         TEXT,
    main_file_reason  TEXT NOT NULL,
    submitted_at      TEXT,
    time_source       TEXT,
    time_explanation  TEXT NOT NULL,
    late              INTEGER NOT NULL,
    minutes_late      REAL NOT NULL,
    days_late         INTEGER NOT NULL,
    late_factor       REAL NOT NULL,
    lateness_message  TEXT NOT NULL,
    auto_points       REAL NOT NULL,
    pending_manual    REAL NOT NULL,
    max_points        REAL NOT NULL,
    error             TEXT,
    sandbox           TEXT NOT NULL,
    protections_off   TEXT NOT NULL,
    flags             TEXT NOT NULL,
    notes             TEXT NOT NULL,
    failed_cells      TEXT NOT NULL,
    ignored_entries   TEXT NOT NULL,
    written_answers   TEXT NOT NULL,
    deadline          TEXT
);
CREATE INDEX IF NOT EXISTS gradings_by_submission ON gradings (submission_id, id);
CREATE TABLE IF NOT EXISTS students (
    grading_id INTEGER NOT NULL REFERENCES gradings(id),
    position   INTEGER NOT NULL,
    student_id TEXT,
    name       TEXT,
    email      TEXT,
    source     TEXT NOT NULL,
    PRIMARY KEY (grading_id, position)
);
CREATE TABLE IF NOT EXISTS question_scores (
    grading_id  INTEGER NOT NULL REFERENCES gradings(id),
    position    INTEGER NOT NULL,
    question_id TEXT NOT NULL,
    title       TEXT NOT NULL,
    points      REAL NOT NULL,
    max_points  REAL NOT NULL,
    bonus       INTEGER NOT NULL,
    PRIMARY KEY (grading_id, question_id)
);
CREATE TABLE IF NOT EXISTS check_results (
    grading_id  INTEGER NOT NULL REFERENCES gradings(id),
    position    INTEGER NOT NULL,
    question_id TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    visibility  TEXT NOT NULL,
    points      REAL NOT NULL,
    max_points  REAL NOT NULL,
    status      TEXT NOT NULL,
    message     TEXT NOT NULL,
    hints       TEXT NOT NULL,
    description TEXT NOT NULL,
    PRIMARY KEY (grading_id, question_id, check_id)
);
CREATE TABLE IF NOT EXISTS manual_scores (
    id             INTEGER PRIMARY KEY,
    sheet          TEXT NOT NULL,
    file_name      TEXT NOT NULL,
    question_id    TEXT NOT NULL,
    check_id       TEXT NOT NULL,
    points         REAL NOT NULL,
    comment        TEXT NOT NULL DEFAULT '',
    tutor          TEXT NOT NULL,
    entered_at     TEXT NOT NULL,
    content_sha256 TEXT,
    based_on       INTEGER
);
CREATE INDEX IF NOT EXISTS manual_by_submission ON manual_scores (sheet, file_name, question_id, check_id, id);
""" + """
CREATE TABLE IF NOT EXISTS similarity_runs (
    id          INTEGER PRIMARY KEY,
    sheet       TEXT NOT NULL,
    computed_at TEXT NOT NULL,
    threshold   REAL NOT NULL,
    hand_ins    INTEGER NOT NULL,
    note        TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS similar_pairs (
    run_id      INTEGER NOT NULL REFERENCES similarity_runs(id),
    file_a      TEXT NOT NULL,
    file_b      TEXT NOT NULL,
    score       REAL NOT NULL,
    code_score  REAL NOT NULL,
    prose_score REAL NOT NULL,
    questions   TEXT NOT NULL,
    content_a   TEXT NOT NULL,
    content_b   TEXT NOT NULL,
    PRIMARY KEY (run_id, file_a, file_b)
);
CREATE TABLE IF NOT EXISTS similarity_clearances (
    id         INTEGER PRIMARY KEY,
    sheet      TEXT NOT NULL,
    file_a     TEXT NOT NULL,
    file_b     TEXT NOT NULL,
    content_a  TEXT NOT NULL,
    content_b  TEXT NOT NULL,
    cleared    INTEGER NOT NULL,
    tutor      TEXT NOT NULL,
    comment    TEXT NOT NULL DEFAULT '',
    entered_at TEXT NOT NULL
);
""" + """
CREATE TABLE IF NOT EXISTS check_overrides (
    id          INTEGER PRIMARY KEY,
    sheet       TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    question_id TEXT NOT NULL,
    check_id    TEXT NOT NULL,
    points      REAL,
    reason      TEXT NOT NULL DEFAULT '',
    tutor       TEXT NOT NULL,
    entered_at  TEXT NOT NULL,
    auto_points REAL NOT NULL,
    auto_status TEXT NOT NULL,
    based_on    INTEGER
);
CREATE INDEX IF NOT EXISTS overrides_by_sheet ON check_overrides (sheet, file_name, id);
"""

# Each step takes a gradebook from the version before it to its own; all run in one transaction.
_MIGRATIONS = {
    2: """
ALTER TABLE gradings ADD COLUMN deadline TEXT;
ALTER TABLE manual_scores ADD COLUMN based_on INTEGER;
""",
}


class GradebookError(RuntimeError):
    """A gradebook file that cannot be used (another program's database, a newer schema)."""


@dataclass(frozen=True)
class ManualScore:
    question_id: str
    check_id: str
    points: float
    comment: str
    tutor: str
    entered_at: datetime
    content_sha256: str | None  # the hand-in's content when the score was given
    id: int | None = None  # its row in manual_scores: the later row of a check counts
    based_on: int | None = None  # the score the tutor saw when exporting (None: none, or not known)
    file_name: str = ""


# NewManualScore.based_on when the export did not say which score it showed (a file from before schema 2).
UNKNOWN_BASE = -1


@dataclass(frozen=True)
class NewManualScore:
    """A tutor's score to store: see Gradebook.add_manual_scores."""

    file_name: str
    question_id: str
    check_id: str
    points: float
    comment: str = ""
    based_on: int | None = None  # the stored score's id the tutor saw (None: no score yet; UNKNOWN_BASE)


@dataclass(frozen=True)
class ManualConflict:
    """A score not stored: another tutor scored the check after the export the new score was entered in."""

    score: NewManualScore
    current: ManualScore  # the other tutor's score, which stays
    tutor: str  # who tried to store `score`


@dataclass(frozen=True)
class Clearance:
    """A tutor's decision that a flagged pair is not copying; it holds while both hand-ins are unchanged."""

    tutor: str
    comment: str
    entered_at: datetime
    current: bool  # made for the hand-ins' current contents (False: for earlier uploads, so no longer in force)


@dataclass(frozen=True)
class SimilarPair:
    """Two hand-ins of a sheet that the similarity report flagged (file_a < file_b)."""

    file_a: str
    file_b: str
    score: float
    code_score: float
    prose_score: float
    questions: tuple[str, ...]
    content_a: str  # the content_sha256 of each hand-in that was compared
    content_b: str
    clearance: Clearance | None = None  # the latest clearance of the pair, if a tutor ever cleared it

    @property
    def cleared(self) -> bool:
        return self.clearance is not None and self.clearance.current

    def other(self, file_name: str) -> str:
        return self.file_b if file_name == self.file_a else self.file_a


@dataclass(frozen=True)
class SimilarityState:
    """The latest similarity report of a sheet: its flagged pairs, with the tutors' clearances."""

    sheet: str
    computed_at: datetime
    threshold: float
    hand_ins: int
    pairs: list[SimilarPair]
    note: str = ""  # what went wrong, if the report could not be made completely

    def flagged(self, file_name: str) -> list[SimilarPair]:
        """The pairs that flag this hand-in (`similar_to`): not cleared for the current contents."""
        return [p for p in self.pairs if file_name in (p.file_a, p.file_b) and not p.cleared]


@dataclass
class StoredResult:
    """The latest grading of one hand-in, with the manual scores entered for it."""

    grading_id: int
    run_id: int
    record: GradingRecord
    manual: dict[tuple[str, str], ManualScore] = field(default_factory=dict)

    def manual_score(self, check: CheckResult) -> ManualScore | None:
        return self.manual.get((check.question_id, check.check_id)) if check.status == "pending" else None

    def question_points(self, question: QuestionScore) -> float:
        """Auto points plus the manual points entered for the question's tutor checks."""
        manual = sum(score.points for c in question.checks if (score := self.manual_score(c)) is not None)
        return round(question.points + manual, 6)

    def waiting(self, check: CheckResult) -> bool:
        """A tutor-graded check nobody has scored yet: its points are pending, never lost."""
        return check.status == "pending" and self.manual_score(check) is None

    def question_pending(self, question: QuestionScore) -> float:
        """Points of the question still waiting for a tutor."""
        return round(sum(c.max_points for c in question.checks if self.waiting(c)), 6)

    def question_counted_max(self, question: QuestionScore) -> float:
        """The most the question's points so far could be: its automatic and already scored tutor parts."""
        return round(sum(c.max_points for c in question.checks if not self.waiting(c)), 6)

    @property
    def manual_points(self) -> float:
        return round(sum(s.points for q in self.record.questions for c in q.checks
                         if (s := self.manual_score(c)) is not None), 6)

    @property
    def manual_pending(self) -> float:
        """Points of tutor checks that nobody has scored yet."""
        return round(sum(c.max_points for q in self.record.questions for c in q.checks
                         if c.status == "pending" and self.manual_score(c) is None), 6)

    @property
    def total(self) -> float:
        """Auto plus manual points, times the late factor (grader.scoring.totals)."""
        return final_points(self.record.auto_points, self.manual_points, self.record.late_factor)


class Gradebook:
    """One SQLite gradebook file. Use from one thread; every write is its own committed transaction."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Gradebook:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(path, timeout=30)
            db.row_factory = sqlite3.Row
            # WAL: readers (a tutor's sqlite3 shell) never block the batch; a killed writer loses only
            # the transaction it was in.
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.executescript(_SCHEMA)
            found = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if found is None:
                with db:
                    db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(found["value"]) < SCHEMA_VERSION:
                _migrate(db, int(found["value"]))
            elif int(found["value"]) > SCHEMA_VERSION:
                raise GradebookError(f"{path}: gradebook schema version {found['value']} is newer than this grader "
                                     f"reads (version {SCHEMA_VERSION}); update the grader")
        except sqlite3.DatabaseError as exc:
            raise GradebookError(f"{path}: not a usable gradebook ({exc})") from None
        return cls(db, path)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db:
            yield self._db

    # --- runs -------------------------------------------------------------------------------------

    def start_run(self, *, sheet: str, input_dir: str, rubric_sha256: str, engine_version: str, sandbox: str,
                  jobs: int, forced: bool) -> int:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (sheet, started_at, status, input_dir, rubric_sha256, engine_version, sandbox,"
                " jobs, forced) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                (sheet, _now(), input_dir, rubric_sha256, engine_version, sandbox, jobs, int(forced)))
            return int(cursor.lastrowid)

    def finish_run(self, run_id: int, *, status: str, graded: int, skipped: int, failed: int) -> None:
        with self._transaction() as db:
            db.execute("UPDATE runs SET finished_at = ?, status = ?, graded = ?, skipped = ?, failed = ? WHERE id = ?",
                       (_now(), status, graded, skipped, failed, run_id))

    def runs(self) -> list[sqlite3.Row]:
        return self._db.execute("SELECT * FROM runs ORDER BY id").fetchall()

    # --- gradings ---------------------------------------------------------------------------------

    def is_current(self, sheet: str, file_name: str, *, content_sha256: str, rubric_sha256: str,
                   engine_version: str) -> bool:
        """True when the latest grading of this hand-in is done and used this content, rubric and engine."""
        row = self._db.execute(
            "SELECT g.status, g.content_sha256, g.rubric_sha256, g.engine_version FROM gradings g"
            " JOIN submissions s ON s.id = g.submission_id WHERE s.sheet = ? AND s.file_name = ?"
            " ORDER BY g.id DESC LIMIT 1", (sheet, file_name)).fetchone()
        return row is not None and row["status"] == "done" and (row["content_sha256"], row["rubric_sha256"],
                                                                 row["engine_version"]) == (
            content_sha256, rubric_sha256, engine_version)

    def record(self, run_id: int, record: GradingRecord) -> int:
        """Store one grading in one transaction; returns its id."""
        r = record
        with self._transaction() as db:
            db.execute("INSERT INTO submissions (sheet, file_name, folder, first_seen) VALUES (?, ?, ?, ?)"
                       " ON CONFLICT (sheet, file_name) DO UPDATE SET folder = excluded.folder",
                       storable((r.sheet, r.file_name, r.folder, _now())))
            submission_id = db.execute("SELECT id FROM submissions WHERE sheet = ? AND file_name = ?",
                                       (r.sheet, r.file_name)).fetchone()["id"]
            cursor = db.execute(
                "INSERT INTO gradings (submission_id, run_id, content_sha256, rubric_sha256, engine_version, status,"
                " started_at, finished_at, seconds, main_file, main_file_reason, submitted_at, time_source,"
                " time_explanation, late, minutes_late, days_late, late_factor, lateness_message, auto_points,"
                " pending_manual, max_points, error, sandbox, protections_off, flags, notes, failed_cells,"
                " ignored_entries, written_answers, deadline)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                storable((submission_id, run_id, r.content_sha256, r.rubric_sha256, r.engine_version, r.status,
                 _iso(r.started_at), _iso(r.finished_at), r.seconds, r.main_file, r.main_file_reason,
                 _iso(r.submitted_at) if r.submitted_at else None, r.time_source, r.time_explanation, int(r.late),
                 r.minutes_late, r.days_late, r.late_factor, r.lateness_message, r.auto_points, r.pending_manual,
                 r.max_points, r.error, r.sandbox, _json(r.protections_off),
                 _json([[f.code, f.message] for f in r.flags]), _json(r.notes),
                 _json([[c.label, c.status, c.error] for c in r.failed_cells]), _json(r.ignored_entries),
                 _json(r.written_answers), r.deadline)))
            grading_id = int(cursor.lastrowid)
            db.executemany(
                "INSERT INTO students (grading_id, position, student_id, name, email, source) VALUES (?, ?, ?, ?, ?, ?)",
                [storable((grading_id, i, s.student_id, s.name, s.email, s.source)) for i, s in enumerate(r.students)])
            db.executemany(
                "INSERT INTO question_scores (grading_id, position, question_id, title, points, max_points, bonus)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [storable((grading_id, i, q.question_id, q.title, q.points, q.max_points, int(q.bonus)))
                 for i, q in enumerate(r.questions)])
            db.executemany(
                "INSERT INTO check_results (grading_id, position, question_id, check_id, kind, visibility, points,"
                " max_points, status, message, hints, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [storable((grading_id, i, c.question_id, c.check_id, c.kind, c.visibility, c.points, c.max_points,
                           c.status, c.message, _json(c.hints), c.description))
                 for i, c in enumerate(c for q in r.questions for c in q.checks)])
        return grading_id

    def timings(self, sheet: str) -> dict[str, tuple[int, HandInTiming]]:
        """File name -> (grading id, timing) of the latest grading of every hand-in of the sheet."""
        rows = self._db.execute(
            "SELECT g.id, g.submitted_at, g.time_source, g.time_explanation, g.late, g.minutes_late, g.days_late,"
            " g.late_factor, g.lateness_message, g.deadline, g.flags, s.file_name FROM gradings g"
            " JOIN submissions s ON s.id = g.submission_id"
            " WHERE s.sheet = ? AND g.id = (SELECT MAX(id) FROM gradings WHERE submission_id = s.id)", (sheet,))
        return {row["file_name"]: (row["id"], _timing(row)) for row in rows}

    def update_timing(self, grading_id: int, timing: HandInTiming, *, note: str) -> None:
        """Give a stored grading a new hand-in time and lateness (a manifest or deadline that came later), without
        grading again: the check results stay, the totals follow the new late factor. `note` is kept in the
        grading's notes, so the change stays visible."""
        with self._transaction() as db:
            row = db.execute("SELECT flags, notes FROM gradings WHERE id = ?", (grading_id,)).fetchone()
            if row is None:
                raise KeyError(f"{self.path}: no grading {grading_id}")
            flags = with_timing_flags([FlagRecord(c, m) for c, m in json.loads(row["flags"])], timing.flags)
            db.execute(
                "UPDATE gradings SET submitted_at = ?, time_source = ?, time_explanation = ?, late = ?,"
                " minutes_late = ?, days_late = ?, late_factor = ?, lateness_message = ?, deadline = ?, flags = ?,"
                " notes = ? WHERE id = ?",
                storable((*timing.stored()[:9], _json([[f.code, f.message] for f in flags]),
                          _json([*json.loads(row["notes"]), note]), grading_id)))

    def results(self, sheet: str, *, with_overrides: bool = True) -> list[StoredResult]:
        """The latest grading of every hand-in of the sheet, in file-name order, with its manual scores and (unless
        with_overrides is False) the tutors' overrides of automatic checks applied."""
        rows = self._db.execute(
            "SELECT g.*, s.sheet, s.file_name, s.folder FROM gradings g JOIN submissions s ON s.id = g.submission_id"
            " WHERE s.sheet = ? AND g.id = (SELECT MAX(id) FROM gradings WHERE submission_id = s.id)"
            " ORDER BY s.file_name", (sheet,)).fetchall()
        manual = self._manual_scores(sheet)
        overrides = self.check_overrides(sheet) if with_overrides else {}  # tutors' overrides, applied on top
        return [apply_overrides(StoredResult(grading_id=row["id"], run_id=row["run_id"], record=self._load(row),
                                             manual=manual.get(row["file_name"], {})),
                                overrides.get(row["file_name"], {})) for row in rows]

    def _load(self, row: sqlite3.Row) -> GradingRecord:
        grading_id = row["id"]
        checks: dict[str, list[CheckResult]] = {}
        for c in self._db.execute("SELECT * FROM check_results WHERE grading_id = ? ORDER BY position", (grading_id,)):
            checks.setdefault(c["question_id"], []).append(CheckResult(
                question_id=c["question_id"], check_id=c["check_id"], kind=c["kind"], visibility=c["visibility"],
                points=c["points"], max_points=c["max_points"], status=c["status"], message=c["message"],
                hints=json.loads(c["hints"]), description=c["description"]))
        questions = [QuestionScore(question_id=q["question_id"], title=q["title"], points=q["points"],
                                   max_points=q["max_points"], bonus=bool(q["bonus"]),
                                   checks=checks.get(q["question_id"], []))
                     for q in self._db.execute("SELECT * FROM question_scores WHERE grading_id = ? ORDER BY position",
                                               (grading_id,))]
        students = [StudentRecord(s["student_id"], s["name"], s["email"], s["source"])
                    for s in self._db.execute("SELECT * FROM students WHERE grading_id = ? ORDER BY position",
                                              (grading_id,))]
        return GradingRecord(
            sheet=row["sheet"], file_name=row["file_name"], folder=row["folder"],
            content_sha256=row["content_sha256"], rubric_sha256=row["rubric_sha256"],
            engine_version=row["engine_version"], status=row["status"],
            started_at=datetime.fromisoformat(row["started_at"]), finished_at=datetime.fromisoformat(row["finished_at"]),
            intake=IntakeFacts(row["main_file"], row["main_file_reason"], students,
                               json.loads(row["ignored_entries"]), json.loads(row["written_answers"])),
            timing=_timing(row), score=SheetScore(questions, row["auto_points"], row["pending_manual"],
                                                  row["max_points"], row["error"]),
            run=RunFacts(row["sandbox"], json.loads(row["protections_off"]),
                         [FailedCell(*cell) for cell in json.loads(row["failed_cells"])]),
            flags=[FlagRecord(code, message) for code, message in json.loads(row["flags"])],
            notes=json.loads(row["notes"]))

    # --- manual scores ----------------------------------------------------------------------------

    def add_manual_score(self, sheet: str, file_name: str, question_id: str, check_id: str, points: float, *,
                         tutor: str, comment: str = "") -> None:
        """Score a tutor check of a graded hand-in; a later score for the same check replaces it in reports."""
        latest = [r for r in self.results(sheet) if r.record.file_name == file_name]
        if not latest:
            raise KeyError(f"{self.path}: no graded hand-in {file_name!r} for {sheet}")
        record = latest[0].record
        check = next((c for q in record.questions for c in q.checks
                      if (c.question_id, c.check_id) == (question_id, check_id)), None)
        if check is None:
            raise KeyError(f"{self.path}: {file_name!r} has no check {question_id}/{check_id}")
        if check.status != "pending":
            raise ValueError(f"{question_id}/{check_id} of {file_name!r} is graded automatically, not by a tutor")
        if not 0 <= points <= check.max_points:
            raise ValueError(f"{question_id}/{check_id}: {points:g} points is outside 0..{check.max_points:g}")
        with self._transaction() as db:
            db.execute("INSERT INTO manual_scores (sheet, file_name, question_id, check_id, points, comment, tutor,"
                       " entered_at, content_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (sheet, file_name, question_id, check_id, points, comment, tutor, _now(),
                        record.content_sha256))

    def add_manual_scores(self, sheet: str, scores: Sequence[NewManualScore], *, tutor: str,
                          refuse_conflicts: bool = False) -> list[ManualConflict]:
        """Score several tutor checks in one transaction: all are stored, or (on any error) none.

        Every score is checked as in add_manual_score before anything is written. With `refuse_conflicts`, a
        score whose check another tutor scored since the score it is based on (NewManualScore.based_on) is not
        stored but returned as a conflict; the others are stored. The check and the writes share one
        transaction that holds the gradebook's write lock, so two tutors importing at once cannot both win.
        """
        latest = {r.record.file_name: r.record for r in self.results(sheet)}
        checked = []
        for s in scores:
            record = latest.get(s.file_name)
            if record is None:
                raise KeyError(f"{self.path}: no graded hand-in {s.file_name!r} for {sheet}")
            check = next((c for q in record.questions for c in q.checks
                          if (c.question_id, c.check_id) == (s.question_id, s.check_id)), None)
            if check is None:
                raise KeyError(f"{self.path}: {s.file_name!r} has no check {s.question_id}/{s.check_id}")
            if check.status != "pending":
                raise ValueError(f"{s.question_id}/{s.check_id} of {s.file_name!r} is graded automatically, "
                                 "not by a tutor")
            if not 0 <= s.points <= check.max_points:
                raise ValueError(f"{s.question_id}/{s.check_id}: {s.points:g} points is outside "
                                 f"0..{check.max_points:g}")
            checked.append((s, record.content_sha256))
        conflicts: list[ManualConflict] = []
        with self._write_transaction() as db:
            current = self._manual_scores(sheet) if refuse_conflicts else {}
            rows = []
            for s, content_sha256 in checked:
                now = current.get(s.file_name, {}).get((s.question_id, s.check_id))
                if now is not None and now.id != s.based_on and now.tutor != tutor:
                    conflicts.append(ManualConflict(s, now, tutor))
                    continue
                rows.append((sheet, s.file_name, s.question_id, s.check_id, s.points, s.comment, tutor, _now(),
                             content_sha256, s.based_on if s.based_on != UNKNOWN_BASE else None))
            db.executemany("INSERT INTO manual_scores (sheet, file_name, question_id, check_id, points, comment,"
                           " tutor, entered_at, content_sha256, based_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [storable(row) for row in rows])
        return conflicts

    def manual_history(self, sheet: str, file_name: str | None = None) -> list[ManualScore]:
        """Every manual score ever entered for the sheet (or one hand-in), oldest first: the history."""
        query, params = "SELECT * FROM manual_scores WHERE sheet = ?", (sheet,)
        if file_name is not None:
            query, params = query + " AND file_name = ?", (sheet, file_name)
        return [_manual_score(row) for row in self._db.execute(query + " ORDER BY id", params)]

    @contextmanager
    def _write_transaction(self) -> Iterator[sqlite3.Connection]:
        """A transaction that takes the write lock at once (BEGIN IMMEDIATE): what it reads stays true until it
        commits."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            yield self._db

    def _manual_scores(self, sheet: str) -> dict[str, dict[tuple[str, str], ManualScore]]:
        found: dict[str, dict[tuple[str, str], ManualScore]] = {}
        # Ascending id: the latest score for a check overwrites earlier ones.
        for row in self._db.execute("SELECT * FROM manual_scores WHERE sheet = ? ORDER BY id", (sheet,)):
            found.setdefault(row["file_name"], {})[(row["question_id"], row["check_id"])] = _manual_score(row)
        return found

    # --- overrides of automatic checks (grader/overrides.py) ----------------------------------------------

    def check_overrides(self, sheet: str, file_name: str | None = None
                        ) -> dict[str, dict[tuple[str, str], CheckOverride]]:
        """File name -> (question, check) -> the latest override (taken-back ones included, points None)."""
        query, params = "SELECT * FROM check_overrides WHERE sheet = ?", (sheet,)
        if file_name is not None:
            query, params = query + " AND file_name = ?", (sheet, file_name)
        found: dict[str, dict[tuple[str, str], CheckOverride]] = {}
        for row in self._db.execute(query + " ORDER BY id", params):
            found.setdefault(row["file_name"], {})[(row["question_id"], row["check_id"])] = CheckOverride(
                id=row["id"], file_name=row["file_name"], question_id=row["question_id"], check_id=row["check_id"],
                points=row["points"], reason=row["reason"], tutor=row["tutor"],
                entered_at=datetime.fromisoformat(row["entered_at"]), auto_points=row["auto_points"],
                auto_status=row["auto_status"])
        return found

    # --- similarity flags -------------------------------------------------------------------------------

    def record_similarity(self, sheet: str, *, threshold: float, hand_ins: int, pairs: Sequence[SimilarPair],
                          note: str = "") -> None:
        """Store a sheet's new similarity report (its flagged pairs) in one transaction; older pairs are dropped.
        Clearances are kept: they apply to every later report while the pair's hand-ins are unchanged."""
        with self._transaction() as db:
            run_id = db.execute("INSERT INTO similarity_runs (sheet, computed_at, threshold, hand_ins, note)"
                                " VALUES (?, ?, ?, ?, ?)", storable((sheet, _now(), threshold, hand_ins, note))
                                ).lastrowid
            db.execute("DELETE FROM similar_pairs WHERE run_id IN (SELECT id FROM similarity_runs WHERE sheet = ?"
                       " AND id != ?)", (sheet, run_id))
            db.executemany(
                "INSERT INTO similar_pairs (run_id, file_a, file_b, score, code_score, prose_score, questions,"
                " content_a, content_b) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [storable((run_id, *_ordered(p.file_a, p.file_b), p.score, p.code_score, p.prose_score,
                           _json(list(p.questions)), *(_ordered_contents(p)))) for p in pairs])

    def similarity(self, sheet: str) -> SimilarityState | None:
        """The sheet's latest similarity report, or None when none was made."""
        run = self._db.execute("SELECT * FROM similarity_runs WHERE sheet = ? ORDER BY id DESC LIMIT 1",
                               (sheet,)).fetchone()
        if run is None:
            return None
        latest: dict[tuple[str, str], sqlite3.Row] = {}
        for row in self._db.execute("SELECT * FROM similarity_clearances WHERE sheet = ? ORDER BY id", (sheet,)):
            latest[(row["file_a"], row["file_b"])] = row
        pairs = []
        for row in self._db.execute("SELECT * FROM similar_pairs WHERE run_id = ? ORDER BY score DESC, file_a,"
                                    " file_b", (run["id"],)):
            decision = latest.get((row["file_a"], row["file_b"]))
            clearance = None
            if decision is not None and decision["cleared"]:
                current = (decision["content_a"], decision["content_b"]) == (row["content_a"], row["content_b"])
                clearance = Clearance(decision["tutor"], decision["comment"],
                                      datetime.fromisoformat(decision["entered_at"]), current)
            pairs.append(SimilarPair(row["file_a"], row["file_b"], row["score"], row["code_score"],
                                     row["prose_score"], tuple(json.loads(row["questions"])), row["content_a"],
                                     row["content_b"], clearance))
        return SimilarityState(sheet=sheet, computed_at=datetime.fromisoformat(run["computed_at"]),
                               threshold=run["threshold"], hand_ins=run["hand_ins"], pairs=pairs, note=run["note"])

    def clear_similar_pair(self, sheet: str, first: str, second: str, *, tutor: str, comment: str = "",
                           cleared: bool = True) -> SimilarPair:
        """Clear a flagged pair (or, with cleared=False, take a clearance back) for the hand-ins' current
        contents. Raises KeyError when the latest report does not flag the two hand-ins together."""
        state = self.similarity(sheet)
        file_a, file_b = _ordered(first, second)
        pair = next((p for p in state.pairs if (p.file_a, p.file_b) == (file_a, file_b)), None) if state else None
        if pair is None:
            raise KeyError(f"{self.path}: the latest similarity report of {sheet} does not flag {file_a!r} and "
                           f"{file_b!r} together")
        with self._transaction() as db:
            db.execute("INSERT INTO similarity_clearances (sheet, file_a, file_b, content_a, content_b, cleared,"
                       " tutor, comment, entered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       storable((sheet, file_a, file_b, pair.content_a, pair.content_b, int(cleared), tutor,
                                 comment, _now())))
        return pair


def _ordered(first: str, second: str) -> tuple[str, str]:
    return (first, second) if first <= second else (second, first)


def _ordered_contents(pair: SimilarPair) -> tuple[str, str]:
    return (pair.content_a, pair.content_b) if pair.file_a <= pair.file_b else (pair.content_b, pair.content_a)


def _timing(row: sqlite3.Row) -> HandInTiming:
    """A stored grading's timing (its flags: the grading's late / time_unknown flags)."""
    return HandInTiming(
        datetime.fromisoformat(row["submitted_at"]) if row["submitted_at"] else None, row["time_source"],
        row["time_explanation"], bool(row["late"]), row["minutes_late"], row["days_late"], row["late_factor"],
        row["lateness_message"], row["deadline"],
        tuple(FlagRecord(code, message) for code, message in json.loads(row["flags"]) if code in TIMING_FLAGS))


def _manual_score(row: sqlite3.Row) -> ManualScore:
    return ManualScore(question_id=row["question_id"], check_id=row["check_id"], points=row["points"],
                       comment=row["comment"], tutor=row["tutor"], entered_at=datetime.fromisoformat(row["entered_at"]),
                       content_sha256=row["content_sha256"], id=row["id"], based_on=row["based_on"],
                       file_name=row["file_name"])


def _migrate(db: sqlite3.Connection, version: int) -> None:
    """Bring a gradebook of an older schema to SCHEMA_VERSION in one transaction: all steps, or none."""
    db.isolation_level = None  # the steps hold DDL: run them in one explicit transaction
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in filter(str.strip, _MIGRATIONS[step].split(";")):
                    db.execute(statement)
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    finally:
        db.isolation_level = ""


def _now() -> str:
    return _iso(datetime.now(UTC))


_iso = iso_time


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)

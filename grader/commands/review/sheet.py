"""One graded sheet as the review page shows it: hand-ins, tutor checks, answers, groups, and the outputs.

Loaded once when `grader review` starts: the rubric and model answers, the latest grading of every hand-in
(what `grader grade` stored), and every hand-in's written answers, read with the same bounded child processes
as `grader manual export` and cached in the gradebook per hand-in content, so a restart reads only new
uploads. Scores, items, overrides and assignments are not kept here: every request reads them from the
gradebook, so several tutors (and a `grader manual import` meanwhile) always see the current state.

After every save the outputs of `grader grade` (gradebook.csv, the hand-ins' results.json and feedback,
summary.html) are rebuilt from the gradebook by `write_outputs`, exactly as `grader manual import` does, in a
child process (`OutputWriter`): the save's transaction is committed before the page answers, and the files
follow within a second or two even at 400 hand-ins (rebuilding gradebook.csv and summary.html takes longer
than a page may).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from grader.scoring.record import GradingRecord
from grader.store.gradebook import StoredResult
from grader.commands.manual.export import gradebook_path, load_course_rubric
from grader.commands.manual.questions import ManualError, ManualItem, load_answers, manual_items, prose_questions
from grader.commands.manual.export import without_shared_lines
from grader.commands.manual.reading import DEFAULT_LIMITS, ReadLimits, answer_files, many_hand_in_answers
from grader.store.overrides import apply_overrides
from grader.prose.extract import UNASSIGNED, AnswerText
from grader.prose.similarity import group_similar_answers
from grader.commands.review.store import ReviewStore


@dataclass
class HandIn:
    number: int  # 1-based, in file-name order: what assignments' ranges count
    id: int  # the gradebook's submission id: the only way a URL names a hand-in
    record: GradingRecord  # the latest grading, as `grader grade` stored it (without overrides)
    pseudonym: str  # shown instead of names in anonymous mode

    @property
    def file_name(self) -> str:
        return self.record.file_name

    def names(self) -> str:
        return "; ".join(f"{s.name or '(no name)'} ({s.student_id})" if s.student_id else (s.name or "(no name)")
                         for s in self.record.students)


@dataclass
class CheckQueue:
    """A tutor check and the answers waiting for it: units of one answer or of a group of alike answers."""

    item: ManualItem
    units: list[list[str]] = field(default_factory=list)  # file names; a group's members together

    @property
    def key(self) -> tuple[str, str]:
        return self.item.question_id, self.item.check_id

    @property
    def answers(self) -> int:
        return sum(len(unit) for unit in self.units)


class ReviewedSheet:
    def __init__(self, out: Path, *, sheet: str | None = None, course: Path = Path("."), db: Path | None = None,
                 workers: int | None = None, limits: ReadLimits = DEFAULT_LIMITS, say=lambda text: None) -> None:
        self.out = Path(out)
        self.course = Path(course)
        self.db_path = gradebook_path(self.out, db)
        self.sheet = sheet or _only_sheet(self.db_path)
        self.loaded = load_course_rubric(self.sheet, course)
        self.model_answers = load_answers(self.loaded)
        self.items = manual_items(self.loaded, self.model_answers)
        self.store = ReviewStore(self.db_path, self.sheet)
        book = self.store.gradebook()
        # The automatic results as graded: the page shows overrides beside them, read afresh per request.
        results = book.results(self.sheet, with_overrides=False)
        if not results:
            raise ManualError(f"{self.db_path}: no graded hand-ins for {self.sheet}")
        ids = {row[1]: row[0] for row in self.store.db.execute(
            "SELECT id, file_name FROM submissions WHERE sheet = ?", (self.sheet,))}
        pseudonyms = _pseudonyms([r.record.file_name for r in results], self.sheet)
        self.hand_ins = [HandIn(number, ids[r.record.file_name], r.record, pseudonyms[r.record.file_name])
                         for number, r in enumerate(results, start=1)]
        self.by_name = {h.file_name: h for h in self.hand_ins}
        self.by_id = {h.id: h for h in self.hand_ins}
        self.answers = self._read_answers(workers, limits, say)
        # Text no question owns, per hand-in, without the sheet's own lines that most hand-ins share (as the
        # manual export shows it).
        self.loose = without_shared_lines({name: answers[UNASSIGNED] for name, answers in self.answers.items()
                                           if UNASSIGNED in answers and answers[UNASSIGNED].found})
        self._groups = {q.id: self._alike(q.id) for q in prose_questions(self.items)}
        self.similarity = book.similarity(self.sheet)
        self.queues: dict[tuple[str, str], CheckQueue] = {}
        self._lock = threading.Lock()
        self.regroup()
        for item in self.items:
            self.store.seed_items(item.question_id, item.check_id, seed_items(item), "grader")
        self.auto_questions = [q.id for q in self.loaded.rubric.questions
                               if any(not c.tutor_graded for c in q.checks)]
        self.writer = OutputWriter(self)

    def _read_answers(self, workers: int | None, limits: ReadLimits, say) -> dict[str, dict[str, AnswerText]]:
        cached = self.store.cached_answers()
        questions = prose_questions(self.items)
        wanted = {q.id for q in questions}
        # Every reading holds UNASSIGNED (empty when all text belongs to a question): a cache without it predates
        # the page's "text assigned to no question" and is read again once.
        todo = [h for h in self.hand_ins
                if h.file_name not in cached or cached[h.file_name][0] != h.record.content_sha256
                or not wanted | {UNASSIGNED} <= set(cached[h.file_name][1])]
        if todo and questions:
            say(f"reading the written answers of {len(todo)} hand-in(s) (cached for the next start)")
            jobs = [(self.out / h.record.folder / "files", answer_files(h.record.main_file, h.record.written_answers))
                    for h in todo]
            read = many_hand_in_answers(jobs, questions, workers=workers, limits=limits, unassigned=True)
            found = {h.file_name: (h.record.content_sha256, {UNASSIGNED: AnswerText(question_id=UNASSIGNED), **answers})
                     for h, answers in zip(todo, read)}
            self.store.cache_answers(found)
            cached.update(found)
        return {h.file_name: cached.get(h.file_name, ("", {}))[1] for h in self.hand_ins}

    def _alike(self, question_id: str) -> list[list[str]]:
        """The groups of alike answers to a question (computed once per set of answers, then cached)."""
        texts = {name: answers[question_id].text for name, answers in self.answers.items()
                 if question_id in answers and answers[question_id].found}
        digest = hashlib.sha256(json.dumps(sorted(texts.items()), ensure_ascii=False).encode()).hexdigest()
        groups = self.store.cached_groups(question_id, digest)
        if groups is None:
            groups = group_similar_answers(texts)
            self.store.cache_groups(question_id, digest, groups)
        return groups

    def regroup(self) -> None:
        """(Re)build every check's units from the groups of alike answers and the tutors' splits."""
        splits = self.store.splits()
        queues = {}
        for item in self.items:
            pending = [h.file_name for h in self.hand_ins if _pending(h.record, item)]
            waiting = set(pending)
            taken_out = splits.get(item.question_id, set())
            group_of: dict[str, list[str]] = {}
            for members in self._groups.get(item.question_id, []):
                kept = [m for m in members if m in waiting and m not in taken_out]
                if len(kept) > 1:
                    for m in kept:
                        group_of[m] = kept
            units, placed = [], set()
            for name in pending:
                if name in placed:
                    continue
                unit = group_of.get(name, [name])
                placed.update(unit)
                units.append(unit)
            queues[(item.question_id, item.check_id)] = CheckQueue(item, units)
        with self._lock:
            self.queues = queues

    def alike_answers(self, question_id: str) -> list[list[str]]:
        """The groups of alike answers to a question as found (before any split): what consistency is judged on."""
        return self._groups.get(question_id, [])

    def current(self, hand_in: HandIn) -> StoredResult:
        """The hand-in's result as the reports show it now: its manual scores and overrides applied."""
        book = self.store.gradebook()
        manual = {(s.question_id, s.check_id): s for s in book.manual_history(self.sheet, hand_in.file_name)}
        overrides = book.check_overrides(self.sheet, hand_in.file_name).get(hand_in.file_name, {})
        return apply_overrides(StoredResult(0, 0, hand_in.record, manual), overrides)

    def all_current(self) -> list[StoredResult]:
        """Every hand-in's result now: the stored gradings with the current manual scores and overrides."""
        book = self.store.gradebook()
        manual: dict[str, dict] = {}
        for score in self.store.all_latest_scores():
            manual.setdefault(score.file_name, {})[(score.question_id, score.check_id)] = score
        overrides = book.check_overrides(self.sheet)
        return [apply_overrides(StoredResult(0, 0, h.record, manual.get(h.file_name, {})),
                                overrides.get(h.file_name, {})) for h in self.hand_ins]

    def close(self, *, wait_for_outputs: bool = True) -> None:
        """Stop; by default only once the outputs hold every save (False: drop a rebuild still to come)."""
        self.writer.stop(wait=wait_for_outputs)
        self.store.close()


def seed_items(item: ManualItem) -> list[tuple[float, str, str | None]]:
    """A check's first items: one per key point of its model answer, sharing the points, and a zero item for
    an answer that earns nothing (so that it, too, is graded with one key)."""
    seeds: list[tuple[float, str, str | None]] = []
    points = item.model.key_points if item.model is not None else []
    if points:
        share = round(item.max_points / len(points), 2)
        for index, point in enumerate(points):
            last = index == len(points) - 1
            seeds.append((round(item.max_points - share * (len(points) - 1), 2) if last else share,
                          point.summary, point.id))
    else:
        seeds.append((item.max_points, "Correct and complete", None))
    seeds.append((0.0, "Nothing that earns points", None))
    return seeds


class OutputWriter:
    """Rebuilds the outputs after saves, one rebuild at a time, folding the saves made meanwhile into the next.

    The rebuild runs in a long-lived child process (grader/commands/review/_output_worker.py): it is seconds of Python
    work at course size, and in a thread it would hold the GIL against the pages. This thread only hands the
    child the changed hand-ins and waits for its answer."""

    def __init__(self, sheet: ReviewedSheet) -> None:
        self._sheet = sheet
        self._pending: set[str] = set()
        self._busy = False
        self._stopping = False
        self._condition = threading.Condition()
        self.error: str | None = None
        self.rebuilds = 0
        self._child: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._run, name="review outputs", daemon=True)
        self._thread.start()

    def changed(self, file_names: set[str] | list[str]) -> None:
        if not file_names:
            return
        with self._condition:
            self._pending.update(file_names)
            self._condition.notify_all()

    @property
    def state(self) -> str:
        with self._condition:
            if self.error:
                return f"outputs NOT updated: {self.error}"
            if self._pending or self._busy:
                return "outputs updating…"
            return "outputs up to date"

    def flush(self, timeout: float = 120) -> bool:
        """Wait until every save so far is in the outputs; False on timeout."""
        with self._condition:
            return self._condition.wait_for(lambda: not self._pending and not self._busy, timeout=timeout)

    def stop(self, *, wait: bool = True) -> None:
        if wait:
            self.flush()
        with self._condition:
            self._stopping = True
            self._pending.clear()
            self._condition.notify_all()
        child = self._child
        if not wait and child is not None:
            child.kill()  # the thread's read then ends at once
        self._thread.join(timeout=120)
        if child is not None:
            try:
                child.stdin.close()
            except OSError:
                pass
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            child.stdout.close()
        self._child = None

    def _rebuild(self, names: set[str]) -> str:
        sheet = self._sheet
        if self._child is None or self._child.poll() is not None:
            self._child = subprocess.Popen(
                [sys.executable, "-m", "grader.commands.review._output_worker", str(sheet.db_path), str(sheet.out),
                 sheet.sheet, str(sheet.course)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                encoding="utf-8")
            if self._child.stdout.readline().strip() != "ready":
                self._child.kill()
                self._child.wait()
                self._child = None
                return "error: the output writer did not start"
        self._child.stdin.write(json.dumps(sorted(names)) + "\n")
        self._child.stdin.flush()
        return self._child.stdout.readline().strip() or "error: the output writer stopped"

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._pending or self._stopping)
                if self._stopping and not self._pending:
                    return
                names, self._pending, self._busy = self._pending, set(), True
            try:
                answer = self._rebuild(names)
            except OSError as exc:
                answer = f"error: {exc}"
            with self._condition:
                if answer == "ok":
                    self.error = None
                    self.rebuilds += 1
                else:
                    self.error = answer.removeprefix("error: ")
                    self._child = None if self._child is None or self._child.poll() is not None else self._child
                self._busy = False
                self._condition.notify_all()


def _pending(record: GradingRecord, item: ManualItem) -> bool:
    return any(c.check_id == item.check_id and c.status == "pending" for q in record.questions
               if q.question_id == item.question_id for c in q.checks)


def _pseudonyms(names: list[str], sheet: str) -> dict[str, str]:
    """Stable labels that say nothing about the names: numbered in the order of a hash of each name."""
    order = sorted(names, key=lambda n: hashlib.sha256(f"{sheet}\0{n}".encode()).hexdigest())
    width = len(str(len(names)))
    return {name: f"Hand-in {index:0{width}d}" for index, name in enumerate(order, start=1)}


def _only_sheet(db_path: Path) -> str:
    import sqlite3

    with sqlite3.connect(db_path) as db:
        sheets = [row[0] for row in db.execute("SELECT DISTINCT sheet FROM submissions ORDER BY sheet")]
    if len(sheets) != 1:
        raise ManualError(f"{db_path}: " + (f"holds the sheets {', '.join(sheets)}; name one with --sheet"
                                            if sheets else "no graded hand-ins; run `grader grade` first"))
    return sheets[0]

"""What a tutor and a lecturer read off a whole batch: how each question went, which hand-ins lost nearly
everything to one early error or are the unmodified template, and which registered mistakes the students made.

- `question_table`: per question the mean points and how many hand-ins have full, partial or zero points, and how
  many still wait for a tutor (pending is never counted as zero: such a hand-in is only in `pending`, and the mean
  is over the hand-ins with nothing waiting).
- `attention_reasons`: why a hand-in needs a human beyond its flags: nearly all automatic points lost after an
  early failing cell ("NameError in cell 4"), or every solution cell still raising the template's
  NotImplementedError.
- `mistake_rows`: per question and check, how many hand-ins got each registered mistake's hint (the rubric's
  `hints`, matched to the mistake that fires them) and the failing cases most hand-ins share; written to
  `mistakes.csv` and shown in summary.html.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from grader.store.gradebook import StoredResult
from grader.rubric.models import Rubric
from grader.text.safe import spreadsheet_inert

# A hand-in that kept at most this share of the automatic points "lost nearly all" of them.
NEARLY_ALL_LOST = 0.2
# "case 'the sheet's example': ..." or "hidden case 'random #2' (numpy): ..." (grader/checks/kinds/function.py).
_CASE = re.compile(r"(?:hidden )?case '([^\n]{1,120}?)'(?=: | \()")
MAX_CASES = 3  # failing cases shown per check
MISTAKE_COLUMNS = ["sheet", "question", "check", "kind", "what", "detail", "hand_ins", "graded", "share"]


@dataclass(frozen=True)
class QuestionRow:
    question_id: str
    title: str
    max_points: float
    bonus: bool
    mean: float | None  # over hand-ins with nothing waiting; None when every one waits
    full: int
    partial: int
    zero: int
    pending: int  # hand-ins with part of the question still waiting for a tutor


@dataclass(frozen=True)
class MistakeRow:
    question_id: str
    check_id: str
    kind: str  # "mistake" (a registered mistake's hint fired) or "failing case"
    what: str  # the mistake's dotted path, or the case's name
    detail: str  # the hint shown to students, or the check's description
    hand_ins: int
    graded: int  # hand-ins in which the check ran (its result is neither an error of the run nor pending)

    @property
    def share(self) -> float:
        return self.hand_ins / self.graded if self.graded else 0.0


def scored(results: list[StoredResult]) -> list[StoredResult]:
    """The hand-ins whose result stands (a grader failure is retried, not counted)."""
    return [r for r in results if r.record.status == "done"]


def question_table(results: list[StoredResult], rubric: Rubric) -> list[QuestionRow]:
    rows = []
    done = scored(results)
    for question in rubric.questions:
        full = partial = zero = pending = 0
        points: list[float] = []
        for result in done:
            score = next((q for q in result.record.questions if q.question_id == question.id), None)
            if score is None:
                continue
            if result.question_pending(score):
                pending += 1
                continue
            got = result.question_points(score)
            points.append(got)
            if got >= score.max_points - 1e-9 and score.max_points > 0:
                full += 1
            elif got > 1e-9:
                partial += 1
            else:
                zero += 1
        mean = round(sum(points) / len(points), 3) if points else None
        rows.append(QuestionRow(question.id, question.title, question.points, question.bonus, mean, full, partial,
                                zero, pending))
    return rows


def attention_reasons(result: StoredResult) -> list[tuple[str, str]]:
    """Why a graded hand-in needs a human although nothing is flagged, as (label, sentence): "template" or
    "early_error" (see the module's docstring)."""
    record = result.record
    if record.status != "done" or record.error:
        return []
    auto = [c for q in record.questions for c in q.checks if c.status != "pending"]
    auto_max = sum(c.max_points for c in auto)
    if not auto_max or record.auto_points > NEARLY_ALL_LOST * auto_max:
        return []
    errors = [c for c in record.failed_cells if c.status == "error"]
    failed = [c for c in auto if c.status in ("failed", "error")]
    unfilled = sum("NotImplementedError" in c.message for c in failed)
    if (errors and all("NotImplementedError" in c.error for c in errors)) or (failed and 2 * unfilled >= len(failed)):
        return [("template", f"looks like the unmodified template: its solutions still raise NotImplementedError ({unfilled} of "
                f"{len(failed)} failed checks, {len(errors)} failing cells); {record.auto_points:g} of {auto_max:g} "
                "automatic points")]
    if record.failed_cells:
        first = record.failed_cells[0]
        last_line = next((line.strip() for line in reversed(first.error.splitlines()) if line.strip()), first.status)
        later = len(record.failed_cells) - 1
        return [("early_error", f"lost nearly all automatic points ({record.auto_points:g} of {auto_max:g}) after an "
                 f"early error in cell {first.label}: {last_line[:200]}"
                 + (f" ({later} later cells failed too)" if later else ""))]
    return []


def mistake_rows(results: list[StoredResult], rubric: Rubric) -> list[MistakeRow]:
    rows: list[MistakeRow] = []
    done = [r for r in scored(results) if not r.record.error]  # a hand-in that could not run made no mistake
    for question in rubric.questions:
        for check in question.checks:
            ran = [c for r in done for q in r.record.questions if q.question_id == question.id for c in q.checks
                   if c.check_id == check.id and c.status in ("passed", "failed")]
            if not ran:
                continue
            for hint in check.hints:
                fired = sum(hint.message in c.hints for c in ran)
                rows.append(MistakeRow(question.id, check.id, "mistake", hint.mistake, hint.message, fired, len(ran)))
            cases = Counter(case for c in ran if c.status == "failed" for case in dict.fromkeys(_CASE.findall(c.message)))
            for case, count in cases.most_common(MAX_CASES):
                rows.append(MistakeRow(question.id, check.id, "failing case", case, check.description, count,
                                       len(ran)))
    return rows


def write_mistakes_csv(rows: list[MistakeRow], sheet: str, path: Path) -> Path:
    """mistakes.csv: one row per registered mistake and per common failing case (UTF-8, comma-separated)."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MISTAKE_COLUMNS)
        for row in rows:
            writer.writerow([spreadsheet_inert(str(value)) for value in (
                sheet, row.question_id, row.check_id, row.kind, row.what, row.detail, row.hand_ins, row.graded,
                f"{row.share:.3f}")])
    temporary.replace(path)
    return path

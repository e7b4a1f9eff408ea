"""Gradebooks to export: the bundled sheet02 examples graded once per session, and small made-up ones.

`examples_out` is `grader grade submissions/sheet02` (all seven bundled hand-ins, one of them late); `scored_out`
adds a tutor score for every open check: full points, except 0.25 of 0.5 for Fischer/Kowalski's 1c and 0.5
of 1 for Çelik/Novák/Okafor's 3d. So the expected final points are, by hand:

    Fischer, Kowalski (late, x 0.5): (7.5 + 12.25) x 0.5 = 9.875 -> 9.88 (the default rounding: 0.01, half up)
    Mustermann, Müller-Lüdenscheidt; Schneider; Haddad, García (script): 7.5 + 12.5 = 20 (18 + the 2-point bonus 3g)
    Nguyen, Rossi (PDF only); Weber, Yılmaz (broken notebook): 0 + 12.5 = 12.5
    Çelik, Novák, Okafor: 4.5 + 12 = 16.5
"""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from grader.commands.batch import BatchOptions, run_batch
from grader.store.layout import folder_name
from grader.checks.plan import CheckResult
from grader.intake.hand_in import HandInTiming
from grader.intake.team import StudentRecord
from grader.scoring.record import GradingRecord, IntakeFacts, RunFacts, SheetScore
from grader.store.gradebook import Gradebook, NewManualScore
from grader.scoring.sheet import QuestionScore
from tests.conftest import REPO

NOW = datetime(2025, 3, 1, tzinfo=UTC)  # after the deadline
EXPECTED = {"2301009": "9.88", "2301010": "9.88", "2301001": "20", "2301002": "20", "2301008": "20",
            "2301011": "12.5", "2301012": "12.5", "2301006": "12.5", "2301007": "12.5", "2301003": "16.5",
            "2301004": "16.5", "2301005": "16.5", "2301013": "20", "2301014": "20"}
FISCHER = "Fischer_2301009_Kowalski_2301010.zip"
CELIK = "Çelik_2301003_Novák_2301004_Okafor_2301005.zip"


@pytest.fixture(scope="session")
def examples_out(tmp_path_factory: pytest.TempPathFactory, sandbox) -> Path:
    """OUT of grading the bundled sheet02 examples (do not modify: tests copy its gradebook)."""
    root = tmp_path_factory.mktemp("export-examples")
    hand_ins = root / "hand-ins"
    shutil.copytree(REPO / "submissions" / "sheet02", hand_ins)
    out = root / "out"
    summary = run_batch(BatchOptions(hand_ins=hand_ins, sheet="sheet02", out=out, course=REPO, now=NOW,
                                     unsafe_no_sandbox=sandbox.name != "bubblewrap"))
    assert len(summary.graded) == len(list(hand_ins.glob("*.zip"))) and not summary.interrupted
    return out


def copy_gradebook(source: Path, target: Path) -> Path:
    """A private copy of OUT's gradebook (the export reads only that)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in source.glob("gradebook.db*"):
        shutil.copy2(path, target / path.name)
    return target


@pytest.fixture
def pending_out(examples_out: Path, tmp_path: Path) -> Path:
    return copy_gradebook(examples_out, tmp_path / "pending")


@pytest.fixture
def scored_out(examples_out: Path, tmp_path: Path) -> Path:
    out = copy_gradebook(examples_out, tmp_path / "scored")
    partial = {(FISCHER, "1c", "explanation"): 0.25, (CELIK, "3d", "explanation"): 0.5}
    with Gradebook.open(out / "gradebook.db") as book:
        scores = [NewManualScore(r.record.file_name, c.question_id, c.check_id,
                                 partial.get((r.record.file_name, c.question_id, c.check_id), c.max_points))
                  for r in book.results("sheet02") for q in r.record.questions for c in q.checks
                  if c.status == "pending"]
        book.add_manual_scores("sheet02", scores, tutor="kim")
    return out


def read_back(path: Path, *, bom: bool = True) -> list[list[str]]:
    """The file as the csv module reads it, after checking the byte-order mark."""
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") == bom
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


# --- made-up gradebooks ------------------------------------------------------------------------------

START = datetime(2025, 2, 3, 9, 0, tzinfo=UTC)


def hand_in(file_name: str, students: list[tuple[str | None, str | None, str | None]], *, auto: float = 3.0,
            open_check: bool = False, late_factor: float = 1.0, status: str = "done") -> GradingRecord:
    """A graded hand-in of sheet02 with question 1b (automatic, `auto` of 4 points, one hidden check) and 1a
    (a tutor check of 1 point, open when open_check, else scored later with `score`)."""
    hidden = CheckResult("1b", "delta-hidden", "function", "hidden", auto / 2, 2.0, "failed" if auto < 4 else "passed",
                         "SECRET expected 0.7310585786 for input net=1.0", [], "SECRET saturated gate case")
    public = CheckResult("1b", "delta-public", "function", "public", auto / 2, 2.0, "passed", "all 2 cases passed",
                         [], "small examples")
    manual = CheckResult("1a", "answer", "manual", "hidden", 0.0, 1.0, "pending", "", [], "")
    return GradingRecord(
        sheet="sheet02", file_name=file_name, folder=folder_name(file_name), content_sha256="c" * 64,
        rubric_sha256="r" * 64, engine_version="0", status=status, started_at=START,
        finished_at=START + timedelta(seconds=1),
        intake=IntakeFacts(main_file="sheet02.ipynb", main_file_reason="the only notebook",
                           students=[StudentRecord(sid, name, email, "file name") for sid, name, email in students]),
        timing=HandInTiming(
            submitted_at=START, time_source="manifest", time_explanation="from the manifest", late=late_factor < 1,
            minutes_late=0.0, days_late=0, late_factor=late_factor,
            lateness_message="handed in a day late: points × 0.5" if late_factor < 1 else "on time", deadline=None),
        score=SheetScore(questions=[QuestionScore("1a", "Counting", 0.0, 1.0, False, [manual]),
                                    QuestionScore("1b", "Forget gate", auto, 4.0, False, [public, hidden])],
                         auto_points=auto, pending_manual=1.0, max_points=18.0, error=None),
        run=RunFacts(sandbox="bubblewrap"))


def made_up_out(folder: Path, records: list[GradingRecord], *, score: float | None = 1.0) -> Path:
    """OUT with a gradebook holding these gradings; every open tutor check scored `score` (None: left open)."""
    folder.mkdir(parents=True, exist_ok=True)
    with Gradebook.open(folder / "gradebook.db") as book:
        run = book.start_run(sheet="sheet02", input_dir="x", rubric_sha256="r" * 64, engine_version="0",
                             sandbox="bubblewrap", jobs=1, forced=False)
        for record in records:
            book.record(run, record)
        if score is not None:
            book.add_manual_scores("sheet02", [NewManualScore(r.file_name, "1a", "answer", score) for r in records
                                               if r.status == "done"], tutor="kim")
    return folder


def write_csv(path: Path, rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return path

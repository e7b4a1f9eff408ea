"""A small graded sheet-02 output folder for the review page's tests, made without running any hand-in.

Each hand-in is the master notebook with its own 1a answer, stored in the gradebook as `grader grade` would
store it (a tutor check 1a/answer, an automatic check 1b/delta-public that failed), with the notebook unpacked
under OUT/<folder>/files/ and, optionally, a ran.ipynb with outputs of "the grader's run" (a figure for 1b).
Nothing here needs the sandbox, so the HTTP tests stay fast.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat

from grader.checks.plan import CheckResult
from grader.intake.hand_in import HandInTiming
from grader.intake.team import StudentRecord
from grader.scoring.record import GradingRecord, IntakeFacts, RunFacts, SheetScore
from grader.store.gradebook import Gradebook
from grader.scoring.sheet import QuestionScore
from submissions.make_examples import Member, as_hand_in, notebook_bytes
from tests.batch.conftest import master02

SCRIPT = "<script>alert('script')</script>"
IMG = "\"><img src=x onerror=alert('img')>"
HOSTILE = f"{SCRIPT} {IMG} $\\href{{javascript:alert('href')}}{{click me}}$"
LSTM = "The memory cell is updated additively, so it can count; the gates act like switches. {}"


@dataclass(frozen=True)
class Team:
    file_name: str
    members: list[Member]
    answer: str
    loose: str = ""  # a Markdown cell under the sheet's title: text no question owns


def teams(count: int, *, hostile: bool = False) -> list[Team]:
    made = []
    for i in range(count):
        name, sid = f"Studentin{i:03d}", f"{2401000 + i}"
        answer = LSTM.format("Shared wording." if i % 2 == 0 else f"Own remark number {i} about forget gates.")
        made.append(Team(f"{name}_{sid}.zip", [Member(f"Anna {name}", sid, f"s{sid}@example.org")], answer))
    if hostile:
        made.append(Team("Eve<script>alert(1)</script>_2409999.zip",
                         [Member("Eve \"><svg onload=alert('team')>", "2409999", "eve@example.org")],
                         f"{HOSTILE} The cell state is updated additively.",
                         loose=f"A remark of ours that belongs to no question. {HOSTILE}"))
    return made


def tiny_png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(2, 1.5), dpi=50)
    axes.plot([0, 1, 2], [0, 1, 0])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def build_out(out: Path, made: list[Team], *, ran: bool = True) -> Path:
    """OUT with gradebook.db and each hand-in's files (and ran.ipynb); returns OUT."""
    out.mkdir(parents=True, exist_ok=True)
    master = master02()
    figure = tiny_png() if ran else ""
    with Gradebook.open(out / "gradebook.db") as book:
        run = book.start_run(sheet="sheet02", input_dir="hand-ins", rubric_sha256="r", engine_version="test",
                             sandbox="test", jobs=1, forced=False)
        start = datetime(2025, 1, 28, 12, tzinfo=UTC)
        for team in made:
            notebook = as_hand_in(master, team.members)
            next(c for c in notebook.cells if c.get("id") == "answer1a").source = f"**Answer:**\n{team.answer}"
            if team.loose:  # under the title, before any question: no question owns it
                stray = nbformat.v4.new_markdown_cell(team.loose)
                stray.id = "strayremark"
                notebook.cells.insert(1, stray)
            folder = team.file_name.removesuffix(".zip")
            files = out / folder / "files"
            files.mkdir(parents=True, exist_ok=True)
            (files / "sheet02.ipynb").write_bytes(notebook_bytes(notebook))
            if ran:
                cell = next(c for c in notebook.cells if c.get("id") == "code1b")
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"printed: {SCRIPT}\n"),
                                nbformat.v4.new_output("display_data", data={"image/png": figure,
                                                                             "text/plain": "<Figure>"}),
                                nbformat.v4.new_output("display_data", data={"text/html": f"<b>bold</b>{IMG}{SCRIPT}",
                                                                             "text/plain": "html"})]
                nbformat.write(notebook, str(out / folder / "ran.ipynb"))
            questions = [
                QuestionScore("1a", "LSTM counting", 0.0, 1.0, False,
                              [CheckResult("1a", "answer", "manual", "hidden", 0.0, 1.0, "pending",
                                           description="written answer")]),
                QuestionScore("1b", "Forget gate", 0.0, 1.0, False,
                              [CheckResult("1b", "delta-public", "function", "public", 0.0, 1.0, "failed",
                                           message=f"0 of 2 cases passed. {SCRIPT}", hints=[f"hint {IMG}"])]),
            ]
            book.record(run, GradingRecord(
                sheet="sheet02", file_name=team.file_name, folder=folder, content_sha256=f"sha-{team.file_name}",
                rubric_sha256="r", engine_version="test", status="done", started_at=start,
                finished_at=start + timedelta(seconds=1),
                intake=IntakeFacts("sheet02.ipynb", "the notebook", [StudentRecord(m.student_id, m.name, m.email,
                                                                                   "file name") for m in team.members]),
                timing=HandInTiming(start, "manifest", "", False, 0.0, 0, 1.0, "", None),
                score=SheetScore(questions, auto_points=0.0, pending_manual=1.0, max_points=2.0),
                run=RunFacts("test")))
        book.finish_run(run, status="finished", graded=len(made), skipped=0, failed=0)
    return out

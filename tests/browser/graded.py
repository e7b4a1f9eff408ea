"""The pages of a graded sheet-02 batch for the browser tests (tests/browser/conftest.py builds them once).

Hand-ins: the course's full-marks and partial examples (tests/batch/conftest.py writes them), and one made
here whose file name, team, written answer, printed output, error message and answer value carry HTML and
KaTeX that would run if anything unescaped or typeset them. Graded after the deadline, so the feedback
shows the model answers with their LaTeX; then `grader manual export` writes the tutors' page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from grader.commands.batch import BatchOptions, run_batch
from grader.store.layout import folder_name
from grader.commands.manual.export import export_manual
from submissions.make_examples import Member, as_hand_in, make_zip, notebook_bytes
from tests.batch.conftest import append_manifest, examples, master02
from tests.conftest import REPO

NOW = datetime(2025, 3, 1, tzinfo=UTC)  # after sheet 02's deadline: the feedback shows the model answers
HANDED_IN = "2025-01-29T12:00:00+01:00"

# Every string a browser would run if it reached the page unescaped, or a typesetter with trust on.
SCRIPT = "<script>alert('script')</script>"
IMG = "\"><img src=x onerror=alert('img')>"
HREF = "$\\href{javascript:alert('href')}{click me}$"
HOSTILE = f"{SCRIPT} {IMG} {HREF}"

HOSTILE_FILE = "Eve\"><svg onload=alert('file')>_2309981_Mallory_2309982.zip"
HOSTILE_TEAM = [Member("Eve \"><svg onload=alert('team')>", "2309981", "eve@example.org"),
                Member("Mallory <script>alert('team')</script>", "2309982", "mallory@example.org")]


def hostile_zip() -> bytes:
    """The master with hostile text in the 1a answer, in 1c's answer value, and in a cell's output and error."""
    notebook = as_hand_in(master02(), HOSTILE_TEAM)
    answer = next(c for c in notebook.cells if c.get("id") == "answer1a")
    answer.source = f"**Answer:**\n{HOSTILE} The memory cell is updated additively, so it can count."
    choice = next(c for c in notebook.cells if c.get("id") == "code1c")
    choice.source = f"bidirectional_online_feasible = {HOSTILE!r}"
    notebook.cells.append(nbformat.v4.new_code_cell(
        f"print({SCRIPT!r})\nprint({IMG!r})\nprint({HREF!r})\nraise RuntimeError({HOSTILE!r})"))
    return make_zip({"sheet02.ipynb": notebook_bytes(notebook)})


@dataclass(frozen=True)
class GradedPages:
    out: Path
    summary: Path
    manual: Path
    full: Path  # feedback.html of the full-marks hand-in
    partial: Path  # feedback.html of the partial one (failed checks with hints)
    hostile: Path | None  # feedback.html of the hostile one, if it was graded

    def feedback_md(self, feedback_html: Path) -> str:
        return feedback_html.with_suffix(".md").read_text(encoding="utf-8")


def grade_pages(root: Path, *, keep: frozenset[str] | None = frozenset({"full", "partial"}), hostile: bool = True,
                unsafe_no_sandbox: bool) -> GradedPages:
    """Grade the course's examples (the cases in `keep`; None: all) and the hostile hand-in into ROOT/out, as
    `grader grade` does, then export the tutors' page as `grader manual export` does."""
    hand_ins = root / "hand-ins"
    by_case = examples(hand_ins, keep=keep)
    if hostile:
        (hand_ins / HOSTILE_FILE).write_bytes(hostile_zip())
        append_manifest(hand_ins, [(HOSTILE_FILE, HANDED_IN)])
    out = root / "out"
    summary = run_batch(BatchOptions(hand_ins=hand_ins, sheet="sheet02", out=out, course=REPO, now=NOW,
                                     unsafe_no_sandbox=unsafe_no_sandbox))
    assert len(summary.graded) == len(by_case) + hostile and not summary.interrupted, summary
    manual = export_manual("sheet02", out / "manual-sheet02.csv", results_dir=out, course=REPO)

    def feedback(zip_path_name: str) -> Path:
        return out / folder_name(zip_path_name) / "feedback.html"

    return GradedPages(out=out, summary=out / "summary.html", manual=manual.html_path,
                       full=feedback(by_case["full"].name), partial=feedback(by_case["partial"].name),
                       hostile=feedback(HOSTILE_FILE) if hostile else None)

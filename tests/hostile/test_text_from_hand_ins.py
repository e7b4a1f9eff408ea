"""Text a hand-in carries outside its code (team cell, answers) may hold lone surrogates: JSON can escape them,
UTF-8 cannot encode them. The batch must still record the hand-in.

The gradebook makes every text it stores printable (grader.text.safe), as the runner does for text from the
worker; before that, SQLite refused such text and stopped the whole batch.
"""

from __future__ import annotations

import csv
import json


from grader.commands.batch import BatchOptions, run_batch
from grader.store.gradebook import Gradebook
from submissions.make_examples import Member, make_zip
from tests.hostile.corpus import FULL, HANDED_IN, MAIN_FILE, master_notebook, write_course

TEAM = [Member("Imogen Halvorsen", "1000901", "imogen.halvorsen@example.org"),
        Member("Casimir Dufresne", "1000902", "casimir.dufresne@example.org")]


def test_lone_surrogates_in_the_team_cell_do_not_stop_the_batch(tmp_path, sandbox):
    notebook = master_notebook(TEAM)
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and "Name: Imogen Halvorsen" in cell.source:
            cell.source = cell.source.replace("Name: Imogen Halvorsen", "Name: Imogen Halvorsen\ud800")
    hand_ins = tmp_path / "hand-ins"
    hand_ins.mkdir()
    name = "Halvorsen_1000901_Dufresne_1000902.zip"
    # ensure_ascii writes the surrogate as the escape "\ud800", as a hand-edited notebook could
    (hand_ins / name).write_bytes(make_zip({MAIN_FILE: json.dumps(notebook, ensure_ascii=True).encode()}))
    with (hand_ins / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["file", "timestamp"], [name, HANDED_IN]])
    summary = run_batch(BatchOptions(hand_ins=hand_ins, sheet="sheet02", out=tmp_path / "out",
                                     course=write_course(tmp_path / "course"), jobs=1,
                                     unsafe_no_sandbox=sandbox.name != "bubblewrap"))
    with Gradebook.open(summary.db_path) as book:
        [result] = book.results("sheet02")
    assert {q.question_id: q.points for q in result.record.questions if q.question_id in FULL} == FULL

"""`grader grade` uses the warm pool by default and records the same results as with --no-warm."""

from __future__ import annotations

import shutil

from grader.commands.batch import BatchOptions, run_batch
from grader.store.gradebook import Gradebook
from tests.conftest import REPO


def graded(hand_ins, out, *, warm: bool) -> dict:
    summary = run_batch(BatchOptions(hand_ins=hand_ins, sheet="sheet02", out=out, course=REPO, jobs=2, warm=warm))
    with Gradebook.open(summary.db_path) as book:
        results = book.results("sheet02")
    return {r.record.file_name: {
        "points": r.record.auto_points, "error": r.record.error, "sandbox": r.record.sandbox,
        "protections_off": r.record.protections_off,
        "flags": sorted((f.code, f.message) for f in r.record.flags),
        "failed_cells": [(c.label, c.status, c.error) for c in r.record.failed_cells],
        "checks": [(q.question_id, c.check_id, c.status, c.points, c.message, tuple(c.hints))
                   for q in r.record.questions for c in q.checks],
    } for r in results}


def test_warm_and_cold_batches_record_the_same_results(bwrap, tmp_path):
    hand_ins = tmp_path / "hand-ins"
    shutil.copytree(REPO / "submissions" / "sheet02", hand_ins)
    warm = graded(hand_ins, tmp_path / "warm", warm=True)
    cold = graded(hand_ins, tmp_path / "cold", warm=False)
    assert set(warm) == set(cold) and len(warm) >= 5
    assert {r["sandbox"] for r in warm.values()} == {"bubblewrap-pool"}
    assert {r["sandbox"] for r in cold.values()} == {"bubblewrap"}
    assert all(r["protections_off"] == [] for r in warm.values())
    for result in (*warm.values(), *cold.values()):
        del result["sandbox"]
    assert warm == cold
    assert len({r["points"] for r in warm.values()}) > 1  # the hand-ins differ, so the comparison means something

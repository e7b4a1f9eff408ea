"""Every `grader grade` ends with the similarity report: flags for tutors (gradebook.csv, summary.html), never
for students (feedback, results.json), and a tutor's clearance survives the next run."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from grader.commands.batch import BatchOptions, run_batch
from grader.store.layout import folder_name
from grader.store.gradebook import Gradebook
from grader.commands.similarity.command import similarity_command
from tests.batch.conftest import append_manifest
from tests.conftest import REPO
from tests.similarity.corpus import write_corpus_zips

ON_TIME = "2025-01-29T20:00:00+01:00"


def csv_flags(out: Path) -> dict[str, set[str]]:
    with (out / "gradebook.csv").open(encoding="utf-8", newline="") as handle:
        return {row["hand_in"]: set(row["flags"].split()) for row in csv.DictReader(handle)}


def test_the_batch_flags_similar_hand_ins_for_tutors_and_keeps_a_clearance(tmp_path: Path, unsafe: bool,
                                                                            cached_plans) -> None:
    zips = write_corpus_zips(tmp_path / "corpus")
    hand_ins, out = tmp_path / "hand-ins", tmp_path / "out"
    hand_ins.mkdir()
    chosen = {case: Path(shutil.copy(zips[case], hand_ins)) for case in ("honest_1", "renamed", "template_a")}
    append_manifest(hand_ins, [(p.name, ON_TIME) for p in chosen.values()])
    options = BatchOptions(hand_ins=hand_ins, sheet="sheet02", out=out, course=REPO, jobs=2,
                           unsafe_no_sandbox=unsafe)
    summary = run_batch(options)
    assert len(summary.graded) == 3 and not summary.interrupted and summary.similar_pairs == 1
    original, copy, alone = (chosen[c].name for c in ("honest_1", "renamed", "template_a"))

    with Gradebook.open(out / "gradebook.db") as book:
        state = book.similarity("sheet02")
    assert state is not None and state.hand_ins == 3 and not state.note
    assert [(p.file_a, p.file_b) for p in state.pairs] == [tuple(sorted((original, copy)))]
    assert state.pairs[0].code_score > 0.9 and {"1b", "3c"} <= set(state.pairs[0].questions)
    flags = csv_flags(out)
    assert "similar_to" in flags[original] and "similar_to" in flags[copy] and "similar_to" not in flags[alone]
    summary_page = (out / "summary.html").read_text(encoding="utf-8")
    assert "Similar hand-ins" in summary_page and "similarity.html#pair-" in summary_page
    assert (out / "similarity.html").is_file() and (out / "similarity.csv").is_file()
    for name in (original, copy):  # the students' files say nothing about it
        folder = out / folder_name(name)
        for file in ("feedback.md", "feedback.html", "results.json"):
            text = (folder / file).read_text(encoding="utf-8")
            assert "similar_to" not in text and "similar to" not in text, file

    similarity_command(out, course=REPO, clear=(original, copy), tutor="Kim", comment="checked the drafts")
    assert "similar_to" not in csv_flags(out)[original]
    again = run_batch(options)
    assert sorted(again.skipped) == sorted(p.name for p in chosen.values()) and again.similar_pairs == 0
    with Gradebook.open(out / "gradebook.db") as book:
        state = book.similarity("sheet02")
    assert state.pairs[0].cleared and state.pairs[0].clearance.comment == "checked the drafts"
    assert "similar_to" not in csv_flags(out)[original]
    assert "cleared by Kim" in (out / "similarity.html").read_text(encoding="utf-8")

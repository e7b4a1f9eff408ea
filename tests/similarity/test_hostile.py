"""The hostile corpus (tests/hostile/corpus.py) through the similarity report: unpacked by the real intake (as
`grader grade` leaves it, without running anything), every hand-in is read, compared or noted, nothing stops
the report, and nothing from a hand-in reaches the page unescaped."""

from __future__ import annotations

from pathlib import Path

from grader.store.layout import folder_name
from grader.store.gradebook import Gradebook
from grader.intake.extract import IntakeError, extract_submission
from grader.commands.similarity.command import similarity_command
from tests.conftest import REPO
from tests.hostile.corpus import Targets, write_corpus
from tests.similarity.conftest import graded_record


def test_the_hostile_corpus_does_not_stop_the_report(tmp_path: Path) -> None:
    hand_ins, out = tmp_path / "hand-ins", tmp_path / "out"
    targets = Targets(repo=REPO, token="similarity", port=9, unix_name="\0grader-similarity-test",
                      decoy_gradebook=tmp_path / "decoy.db", hand_ins=hand_ins, out=out, work_tmp=tmp_path / "work",
                      secret="not-used")
    corpus = write_corpus(hand_ins, targets)
    with Gradebook.open(out / "gradebook.db") as book:
        run = book.start_run(sheet="sheet02", input_dir=str(hand_ins), rubric_sha256="r" * 64,
                             engine_version="test", sandbox="none", jobs=1, forced=False)
        for hand_in in corpus:
            files = out / folder_name(hand_in.file_name) / "files"
            try:
                extracted = extract_submission(hand_ins / hand_in.file_name, files, sheet_hint="02")
                record = graded_record(hand_in.file_name, main_file=extracted.main_file,
                                       written=list(extracted.written_answers))
            except IntakeError:
                record = graded_record(hand_in.file_name, main_file=None)
            book.record(run, record)
    outcome = similarity_command(out, course=REPO).outcome
    report, cases = outcome.report, {h.file_name: h.case for h in corpus}
    assert sorted(report.hand_ins) == sorted(cases)
    noted = {cases[name] for name in report.notes}
    assert {"not_json", "deep_json", "zip_bomb", "corrupt_zip"} <= noted
    assert any("nested too deeply" in note for name, notes in report.notes.items() if cases[name] == "deep_json"
               for note in notes)
    many = next(h for h in outcome.texts.values() if cases[h.id] == "many_cells")
    assert len(many.code) > 10_000  # the master's cells and 10,000 more: all read, compared within the caps
    page = (out / "similarity.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "\x00" not in page
    assert (out / "similarity.csv").is_file() and (out / "summary.html").is_file()

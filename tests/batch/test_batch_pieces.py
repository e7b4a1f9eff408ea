"""The batch's pieces on their own, without grading anything: which hand-ins a run grades or skips and retimes
(store.resume), which manifest it reads (intake.batch_manifest), and which sandbox it may use
(execution.local_sandbox)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime

import pytest

import grader.execution.sandbox as sandbox_module
from grader.execution.local_sandbox import batch_sandbox, early_pool
from grader.execution.runner import ExecutionSettings
from grader.execution.sandbox import SandboxUnavailable
from grader.intake.deadline import Deadline, LatePolicy, ManifestError
from grader.intake.hand_in import TimingRule, batch_manifest
from grader.store.gradebook import Gradebook
from grader.store.resume import resume
from tests.batch.conftest import append_manifest
from tests.batch.test_gradebook import make_record, new_run

NAMES = ["Berg_2302001_Demir_2302002.zip", "Kovac_2302003_Janssen_2302004.zip"]
ON_TIME = Deadline(local=datetime(2025, 2, 5, 23, 59))
PAST = Deadline(local=datetime(2025, 1, 1, 12, 0))


def write_hand_ins(folder):
    folder.mkdir()
    paths = []
    for name in NAMES:
        (folder / name).write_bytes(name.encode())
        paths.append(folder / name)
    append_manifest(folder, [(name, "2025-02-01T10:00:00+01:00") for name in NAMES])
    return paths


def timing_rule(folder, deadline):
    return TimingRule(batch_manifest(folder, None, deadline.time_zone), deadline,
                      LatePolicy(penalty_per_day=0.5, max_days=3))


@pytest.fixture
def stored(tmp_path):
    """Both hand-ins graded and stored, as this content, rubric and engine, with their manifest times."""
    paths = write_hand_ins(tmp_path / "in")
    rule = timing_rule(tmp_path / "in", ON_TIME)
    with Gradebook.open(tmp_path / "gradebook.db") as book:
        run = new_run(book)
        for path in paths:
            record = make_record(path.name, sha=hashlib.sha256(path.read_bytes()).hexdigest())
            book.record(run, replace(record, timing=rule.of(path)))
        yield book, paths


def test_current_hand_ins_are_skipped_and_changed_ones_graded(stored):
    book, paths = stored
    rule = timing_rule(paths[0].parent, ON_TIME)
    found = resume(book, "sheet02", paths, rule, rubric_sha256="r" * 64, engine_version="0.1.0")
    assert found.todo == [] and found.skipped == NAMES and found.retimed == []
    paths[1].write_bytes(b"a new upload")
    found = resume(book, "sheet02", paths, rule, rubric_sha256="r" * 64, engine_version="0.1.0")
    assert found.todo == [paths[1]] and found.skipped == NAMES[:1]
    assert resume(book, "sheet02", paths, rule, rubric_sha256="s" * 64, engine_version="0.1.0").todo == paths
    assert resume(book, "sheet02", paths, rule, rubric_sha256="r" * 64, engine_version="0.2.0").todo == paths
    forced = resume(book, "sheet02", paths, rule, rubric_sha256="r" * 64, engine_version="0.1.0", force=True)
    assert forced.todo == paths and forced.skipped == []


def test_a_later_deadline_retimes_a_skipped_hand_in_once_and_says_so(stored):
    book, paths = stored
    late = timing_rule(paths[0].parent, PAST)
    before = timing_rule(paths[0].parent, ON_TIME).of(paths[0]).lateness_message
    assert before.startswith("handed in 01.02.2025 10:00, before the deadline")
    found = resume(book, "sheet02", paths, late, rubric_sha256="r" * 64, engine_version="0.1.0")
    assert found.todo == [] and found.skipped == NAMES and found.retimed == NAMES
    results = {r.record.file_name: r.record for r in book.results("sheet02")}
    for path in paths:
        record = results[path.name]
        assert record.late and record.late_factor == 0.0 and record.lateness_message == late.of(path).lateness_message
        assert "late" in [flag.code for flag in record.flags]
        assert record.notes[-1].startswith("hand-in time and lateness updated on ")
        assert record.notes[-1].endswith(f" UTC without grading again; before: {before} (from manifest)")
    again = resume(book, "sheet02", paths, late, rubric_sha256="r" * 64, engine_version="0.1.0")
    assert again.retimed == [] and len(book.results("sheet02")[0].record.notes) == len(record.notes)


def test_the_manifest_is_the_given_one_else_the_one_beside_the_hand_ins(tmp_path):
    folder = tmp_path / "in"
    write_hand_ins(folder)
    beside = batch_manifest(folder, None, "Europe/Berlin")
    assert set(beside) == set(NAMES)
    assert batch_manifest(folder / NAMES[0], None, "Europe/Berlin") == beside  # one hand-in: its folder's
    other = tmp_path / "cms.csv"
    other.write_text(f"file,timestamp\n{NAMES[0]},2025-02-07T08:00:00+01:00\n", encoding="utf-8")
    assert list(batch_manifest(folder, other, "Europe/Berlin")) == [NAMES[0]]
    (folder / "manifest.csv").unlink()
    assert batch_manifest(folder, None, "Europe/Berlin") is None
    with pytest.raises(ManifestError, match="missing.csv"):
        batch_manifest(folder, tmp_path / "missing.csv", "Europe/Berlin")


def test_without_bubblewrap_the_batch_needs_permission_and_starts_no_pool(monkeypatch):
    monkeypatch.setattr(sandbox_module, "_found", {"result": "no bwrap executable on PATH"})
    with pytest.raises(SandboxUnavailable, match="no bwrap executable on PATH. Student code is only run inside "
                                                 "bubblewrap; pass --unsafe-no-sandbox"):
        batch_sandbox(allow_process=False)
    assert batch_sandbox(allow_process=True).name == "process"
    assert early_pool(slots=2, settings=ExecutionSettings()) is None

"""Resuming: a killed run loses nothing and regrades nothing; unchanged hand-ins are skipped; --force and a
changed rubric regrade; a grader failure on one hand-in is recorded and retried."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

import grader.commands.batch
import grader.execution.local_sandbox
import grader.scoring.grade
from grader.commands.batch import BatchOptions, run_batch
from grader.store.layout import folder_name
from grader.store.gradebook import Gradebook
from submissions.make_examples import Member
from tests.batch.conftest import append_manifest, examples, full_hand_in, grading_count, make_course
from tests.conftest import REPO

TEAMS = [[Member("Hanna Berg", "2302001", "hanna.berg@example.org"),
          Member("Yusuf Demir", "2302002", "yusuf.demir@example.org")],
         [Member("Mira Kovač", "2302003", "mira.kovac@example.org"),
          Member("Olaf Janssen", "2302004", "olaf.janssen@example.org")],
         [Member("Zoe Albrecht", "2302005", "zoe.albrecht@example.org"),
          Member("Ravi Menon", "2302006", "ravi.menon@example.org")]]
ON_TIME = "2025-01-29T20:00:00+01:00"


def gradings_per_file(db: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT s.file_name, COUNT(g.id) FROM submissions s"
                                  " JOIN gradings g ON g.submission_id = s.id GROUP BY s.file_name").fetchall()
    return dict(rows)


def stored_so_far(db: Path) -> dict[str, int]:
    try:
        return gradings_per_file(db)
    except sqlite3.OperationalError:  # the file exists, its tables are still being made
        return {}


def grade_command(hand_ins: Path, out: Path, unsafe: bool) -> list[str]:
    return [sys.executable, "-m", "grader.commands.cli", "grade", str(hand_ins), "--sheet", "sheet02", "--out", str(out),
            "--course", str(REPO), "--jobs", "1", *(["--unsafe-no-sandbox"] if unsafe else [])]


def test_a_killed_run_resumes_without_losing_or_regrading_anything(tmp_path, unsafe):
    hand_ins, out = tmp_path / "hand-ins", tmp_path / "out"
    hand_ins.mkdir()
    paths = [full_hand_in(hand_ins, team) for team in TEAMS]
    append_manifest(hand_ins, [(p.name, ON_TIME) for p in paths])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    db = out / "gradebook.db"

    # Killed like a crashed terminal: SIGKILL to the run and its sandboxes, once the first result is stored.
    run = subprocess.Popen(grade_command(hand_ins, out, unsafe), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not (db.exists() and sum(stored_so_far(db).values()) >= 1):
            assert run.poll() is None, run.stderr.read().decode(errors="replace")
            assert time.monotonic() < deadline, "no result stored within 240 s"
            time.sleep(0.2)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    before = gradings_per_file(db)
    assert 1 <= sum(before.values()) < len(paths) and set(before.values()) == {1}

    again = subprocess.run(grade_command(hand_ins, out, unsafe), cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    after = gradings_per_file(db)
    assert after == {p.name: 1 for p in paths}  # every hand-in graded exactly once over both runs
    with Gradebook.open(db) as book:
        runs = book.runs()
        assert [r["status"] for r in runs] == ["running", "finished"]  # the killed run never finished
        assert (runs[1]["skipped"], runs[1]["graded"]) == (sum(before.values()), len(paths) - sum(before.values()))
        results = book.results("sheet02")
    assert len({r.record.auto_points for r in results}) == 1 and results[0].record.auto_points > 0
    for path in paths:
        assert (out / folder_name(path.name) / "results.json").exists()


def fast_folder(tmp_path: Path) -> Path:
    """Hand-ins that never reach the sandbox (a broken notebook, a PDF): cheap to grade many times."""
    folder = tmp_path / "hand-ins"
    examples(folder, keep={"broken", "pdf_only"})
    return folder


def test_unchanged_hand_ins_are_skipped_force_and_a_changed_rubric_regrade(tmp_path, cached_plans, unsafe):
    course = make_course(tmp_path / "course")
    hand_ins = fast_folder(tmp_path)
    options = BatchOptions(hand_ins=hand_ins, sheet="sheet02", out=tmp_path / "out", course=course,
                           unsafe_no_sandbox=unsafe)
    first = run_batch(options)
    assert len(first.graded) == 2 and not first.skipped
    second = run_batch(options)
    assert not second.graded and sorted(second.skipped) == sorted(first.graded)
    forced = run_batch(replace(options, force=True))
    assert sorted(forced.graded) == sorted(first.graded)
    make_course(course, extra_comment="\n# a tutor's note changes the rubric file\n")
    changed = run_batch(options)
    assert sorted(changed.graded) == sorted(first.graded)
    (hand_ins / first.graded[0]).write_bytes((hand_ins / first.graded[0]).read_bytes() + b"\0")
    one_changed = run_batch(options)
    assert one_changed.graded == [first.graded[0]] and one_changed.skipped == [first.graded[1]]
    with Gradebook.open(first.db_path) as book:
        assert grading_count(book, "sheet02") == 2 + 2 + 2 + 1


def test_a_grader_failure_is_that_hand_ins_error_and_is_retried(tmp_path, cached_plans, unsafe, monkeypatch):
    hand_ins = fast_folder(tmp_path)
    victim = full_hand_in(hand_ins, TEAMS[0])
    append_manifest(hand_ins, [(victim.name, ON_TIME)])
    real_grade_file = grader.scoring.grade.grade_file

    def failing(path, *args, **kwargs):
        if folder_name(victim.name) in Path(path).parts:
            raise RuntimeError("simulated grader bug")
        return real_grade_file(path, *args, **kwargs)

    monkeypatch.setattr(grader.scoring.grade, "grade_file", failing)
    options = BatchOptions(hand_ins=hand_ins, sheet="sheet02", out=tmp_path / "out", course=REPO, jobs=2,
                           unsafe_no_sandbox=unsafe)
    first = run_batch(options)
    assert len(first.graded) == 3 and victim.name in first.failed
    with Gradebook.open(first.db_path) as book:
        stored = {r.record.file_name: r.record for r in book.results("sheet02")}
    assert stored[victim.name].status == "error" and "simulated grader bug" in stored[victim.name].error
    assert [f.code for f in stored[victim.name].flags] == ["grading_error"]
    assert all(r.status == "done" for name, r in stored.items() if name != victim.name)

    monkeypatch.setattr(grader.scoring.grade, "grade_file", real_grade_file)
    second = run_batch(options)
    assert second.graded == [victim.name] and len(second.skipped) == 2
    with Gradebook.open(first.db_path) as book:
        fixed = next(r.record for r in book.results("sheet02") if r.record.file_name == victim.name)
    assert fixed.status == "done" and fixed.error is None and fixed.auto_points > 0


def test_ctrl_c_keeps_what_is_stored_and_marks_the_run_interrupted(tmp_path, cached_plans, unsafe, monkeypatch):
    hand_ins = fast_folder(tmp_path)
    real_record = Gradebook.record
    calls = []

    def interrupted_on_second(self, run_id, record):
        calls.append(record.file_name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_record(self, run_id, record)

    monkeypatch.setattr(Gradebook, "record", interrupted_on_second)
    options = BatchOptions(hand_ins=hand_ins, sheet="sheet02", out=tmp_path / "out", course=REPO, jobs=1,
                           unsafe_no_sandbox=unsafe)
    summary = run_batch(options)
    assert summary.interrupted and summary.graded == calls[:1]
    assert (tmp_path / "out" / folder_name(calls[0]) / "results.json").exists()
    with Gradebook.open(summary.db_path) as book:
        assert [r["status"] for r in book.runs()] == ["interrupted"]
    monkeypatch.setattr(Gradebook, "record", real_record)
    rest = run_batch(options)
    assert rest.graded == [calls[1]] and rest.skipped == calls[:1]


def test_grading_refuses_to_run_without_bubblewrap_unless_allowed(tmp_path, cached_plans, monkeypatch):
    from grader.execution.sandbox import ProcessSandbox, SandboxUnavailable

    def no_bubblewrap(*, require):
        if require:
            raise SandboxUnavailable("bubblewrap cannot run here: simulated")
        return ProcessSandbox()

    monkeypatch.setattr(grader.execution.local_sandbox, "find_sandbox", no_bubblewrap)
    hand_ins = fast_folder(tmp_path)
    options = BatchOptions(hand_ins=hand_ins, sheet="sheet02", out=tmp_path / "out", course=REPO)
    with pytest.raises(grader.commands.batch.BatchError, match="--unsafe-no-sandbox"):
        run_batch(options)
    assert not (tmp_path / "out" / "gradebook.db").exists()
    summary = run_batch(replace(options, unsafe_no_sandbox=True))
    assert summary.protections_off
    for name in summary.graded:
        folder = tmp_path / "out" / folder_name(name)
        assert "without bubblewrap" in (folder / "feedback.md").read_text("utf-8")
        assert "without bubblewrap" in (folder / "results.json").read_text("utf-8")
    assert "without bubblewrap" in (tmp_path / "out" / "summary.html").read_text("utf-8")

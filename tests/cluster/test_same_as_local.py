"""The bundled examples graded on the cluster: the same gradebook, results, feedback and summary as a local run.

Local and cluster runs share one grading function and differ only in scheduling, so everything a student or a
tutor reads must be byte-for-byte the same, up to the run's timings and the output folder's own path.
"""

from __future__ import annotations

import re
from pathlib import Path

from grader.store.gradebook import Gradebook
from tests.batch.conftest import grading_count
from tests.cluster.conftest import copy_hand_ins, grade
from tests.conftest import REPO

# Timings and dates that differ between any two runs, local or not.
VOLATILE = [
    (re.compile(r'"execution_time": \d+'), '"execution_time": T'),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"), "DATE UTC"),
    (re.compile(r"in \d+\.\d s"), "in T s"),
    (re.compile(r'"id": "[0-9a-f]{8}"'), '"id": ID'),  # ran.ipynb's cell ids are made afresh on every run
]


def reports(out: Path) -> dict[str, str]:
    """Every report file of a run (not the gradebook's SQLite file), with timings and OUT's path masked."""
    texts = {}
    for path in sorted(out.rglob("*")):
        relative = path.relative_to(out)
        if path.is_dir() or relative.parts[0] == "_assets" or "files" in relative.parts[1:2] \
                or path.suffix not in (".csv", ".json", ".md", ".html", ".ipynb", ".png"):
            continue
        if path.suffix == ".png":
            texts[relative.as_posix()] = path.read_bytes().hex()
            continue
        text = path.read_text(encoding="utf-8").replace(str(out), "OUT")
        for pattern, replacement in VOLATILE:
            text = pattern.sub(replacement, text)
        texts[relative.as_posix()] = text
    return texts


def test_sheet02_examples_give_the_same_reports_as_the_local_pool(address, tmp_path):
    """The cluster run comes in two parts, as after a stopped coordinator: the gradebook (one writer, on the
    coordinator) grades only what is not stored yet, and the reports in the end are a local run's."""
    examples = REPO / "submissions" / "sheet02"
    hand_ins = copy_hand_ins(examples, tmp_path / "hand-ins")
    local, local_records = grade(hand_ins, tmp_path / "local", course=REPO)
    later = "Weber_2301006_Yılmaz_2301007.zip"
    first_part = copy_hand_ins(examples, tmp_path / "first-part",
                               [p.name for p in hand_ins.iterdir() if p.name != later])
    first, _ = grade(first_part, tmp_path / "cluster", course=REPO, address=address)
    (first_part / later).write_bytes((examples / later).read_bytes())
    remote, remote_records = grade(first_part, tmp_path / "cluster", course=REPO, address=address)
    assert len(first.graded) == 6 and remote.graded == [later] and len(remote.skipped) == 6
    with Gradebook.open(tmp_path / "cluster" / "gradebook.db") as book:
        assert {grading_count(book, "sheet02", name) for name in remote_records} == {1}
    assert workers_plugins(address) == []  # each batch's teardown removed its plugin (and stopped its pools)

    assert remote.sandbox == local.sandbox == "bubblewrap" and remote.lost is None
    assert {r.sandbox for r in remote_records.values()} == {"bubblewrap-pool"}  # warm on the workers too
    local_reports, remote_reports = reports(tmp_path / "local"), reports(tmp_path / "cluster")
    assert {"gradebook.csv", "summary.html", "similarity.csv"} <= set(local_reports)
    assert sum(name.endswith("/results.json") for name in local_reports) == 7
    assert sum(name.endswith("/feedback.md") for name in local_reports) == 7
    assert sum(name.endswith("/ran.ipynb") for name in local_reports) == 7  # the grader's own run, shipped back
    assert remote_reports.keys() == local_reports.keys()
    for name, text in local_reports.items():
        assert remote_reports[name] == text, name
    # The files tutors and the similarity report read were unpacked on the coordinator as in a local run.
    local_files = sorted(p.relative_to(tmp_path / "local").as_posix() for p in (tmp_path / "local").rglob("files/**/*"))
    remote_files = sorted(p.relative_to(tmp_path / "cluster").as_posix()
                          for p in (tmp_path / "cluster").rglob("files/**/*"))
    assert remote_files == local_files and local_files
    # The examples differ, so the comparison means something.
    assert len({r.auto_points for r in local_records.values()}) > 2


def workers_plugins(address: str) -> list[str]:
    """The grader's plugins still registered on any worker."""
    from distributed import Client

    def names(dask_worker):
        return [name for name in dask_worker.plugins if name.startswith("grader-course-")]

    with Client(address, set_as_default=False) as client:
        return sorted(name for found in client.run(names).values() for name in found)


def test_a_sheet11_hand_in_gets_the_same_grade_on_the_cluster(address, tmp_path):
    """Sheet 11 trains a model (torch in the sandbox): the cheapest of its examples, local and on the cluster."""
    hand_ins = copy_hand_ins(REPO / "submissions" / "sheet11", tmp_path / "hand-ins",
                             ["Novák_2301004_Okafor_2301005.zip"])
    _, local = grade(hand_ins, tmp_path / "local", sheet="sheet11", course=REPO)
    _, remote = grade(hand_ins, tmp_path / "cluster", sheet="sheet11", course=REPO, address=address)
    assert list(remote) == list(local) == ["Novák_2301004_Okafor_2301005.zip"]
    record, expected = next(iter(remote.values())), next(iter(local.values()))
    assert record.auto_points == expected.auto_points > 0 and record.error is None
    assert [(c.check_id, c.status, c.points, c.message) for q in record.questions for c in q.checks] == \
        [(c.check_id, c.status, c.points, c.message) for q in expected.questions for c in q.checks]

"""Faults on the cluster: a worker killed mid-hand-in, a hand-in whose workers keep dying, the scheduler
unreachable at the start or lost midway. Toy hand-ins (numpy only) keep these cheap."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.batch import BatchError
from grader.cli import app
from grader.gradebook import Gradebook
from tests.cluster.conftest import grade
from tests.conftest import REPO, write_notebook

TOY = REPO / "tests" / "engine" / "toycourse"
RIGHT = ["import numpy as np\ndef scale(x, factor):\n    return x * factor", "answer = 42", "is_it_true = 'Yes'"]
WRONG = ["def scale(x, factor):\n    return x", "answer = 41", "is_it_true = 'No'"]


def toy_hand_ins(folder: Path, count: int, *, seconds: float = 2.0) -> list[Path]:
    """Hand-ins that sleep in their first cell (so a worker can be killed while it grades one), half right."""
    return [write_notebook(folder / f"toy_{number}.ipynb",
                           [f"import time\ntime.sleep({seconds})", *(RIGHT if number % 2 else WRONG)])
            for number in range(count)]


def executing(client) -> dict[str, list[str]]:
    """The keys each worker is running right now (not just queued)."""
    def keys(dask_worker):
        return [str(key) for key in dask_worker.state.executing]

    return client.run(keys, on_error="return")


class WorkerKiller(threading.Thread):
    """SIGKILLs the process of a worker while it runs a task whose key contains `key_part`, `times` times
    (each time on another worker process)."""

    def __init__(self, address: str, key_part: str, times: int) -> None:
        super().__init__(daemon=True)
        self.address, self.key_part, self.times = address, key_part, times
        self.killed: list[int] = []

    def run(self) -> None:
        from distributed import Client

        with Client(self.address, timeout=20, set_as_default=False) as client:
            deadline = time.monotonic() + 120
            while len(self.killed) < self.times and time.monotonic() < deadline:
                for worker, keys in executing(client).items():
                    if not isinstance(keys, list) or not any(self.key_part in key for key in keys):
                        continue
                    try:
                        pid = client.run(os.getpid, workers=[worker])[worker]
                    except Exception:  # noqa: BLE001 - it died meanwhile
                        continue
                    if pid not in self.killed:
                        os.kill(pid, signal.SIGKILL)
                        self.killed.append(pid)
                    break
                time.sleep(0.05)
            client.wait_for_workers(2, timeout=60)  # the nannies restart the killed workers for the next test


@pytest.fixture
def local_toy(tmp_path):
    def graded(folder: Path) -> dict:
        _, records = grade(folder, tmp_path / "local", sheet="toy", course=TOY)
        return {name: (r.auto_points, r.error, sorted(f.code for f in r.flags)) for name, r in records.items()}
    return graded


def test_a_worker_killed_mid_hand_in_loses_nothing_and_duplicates_nothing(address, tmp_path, local_toy):
    hand_ins = tmp_path / "hand-ins"
    toy_hand_ins(hand_ins, 4)
    killer = WorkerKiller(address, "grade-", times=1)
    killer.start()
    summary, records = grade(hand_ins, tmp_path / "out", sheet="toy", course=TOY, address=address)
    killer.join(90)
    assert len(killer.killed) == 1, "no worker was killed while it graded: the test proves nothing"
    assert sorted(summary.graded) == [f"toy_{n}.ipynb" for n in range(4)] and summary.lost is None
    with Gradebook.open(summary.db_path) as book:
        assert [book.grading_count("toy", f"toy_{n}.ipynb") for n in range(4)] == [1, 1, 1, 1]
    # Graded again elsewhere, and the record says nothing of it: the same as a local run's.
    got = {name: (r.auto_points, r.error, sorted(f.code for f in r.flags)) for name, r in records.items()}
    assert got == local_toy(hand_ins)
    assert {points for points, _, _ in got.values()} == {0.0, 3.0} or len({p for p, _, _ in got.values()}) == 2


def test_a_hand_in_whose_worker_dies_twice_is_reported_and_the_batch_goes_on(address, tmp_path):
    hand_ins = tmp_path / "hand-ins"
    paths = toy_hand_ins(hand_ins, 3, seconds=3)
    victim = paths[1]
    digest = hashlib.sha256(victim.read_bytes()).hexdigest()
    killer = WorkerKiller(address, f"grade-{digest[:10]}", times=2)
    killer.start()
    summary, records = grade(hand_ins, tmp_path / "out", sheet="toy", course=TOY, address=address)
    killer.join(90)
    assert len(killer.killed) == 2
    assert sorted(summary.graded) == sorted(p.name for p in paths)
    record = records[victim.name]
    assert record.status == "done" and "died 2 times" in record.error and "--force" in record.error
    assert "crash" in {f.code for f in record.flags}
    assert record.auto_points == 0 and all(c.message.startswith("not graded") for c in record.questions[0].checks)
    others = [records[p.name] for p in paths if p != victim]
    assert all(r.error is None and "crash" not in {f.code for f in r.flags} for r in others)
    # Stored once; a rerun does not try again (the hand-in's failure), --force does.
    again, _ = grade(hand_ins, tmp_path / "out", sheet="toy", course=TOY, address=address)
    assert again.graded == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_scheduler_is_one_line_naming_the_address(tmp_path):
    hand_ins = tmp_path / "hand-ins"
    toy_hand_ins(hand_ins, 1, seconds=0)
    address = f"tcp://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["grade", str(hand_ins), "--sheet", "toy", "--course", str(TOY), "--out",
                                      str(tmp_path / "out"), "--scheduler", address, "--scheduler-timeout", "1"],
                                env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot reach the Dask scheduler at {address}: ")
    assert not (tmp_path / "out" / "gradebook.db").exists() or _runs(tmp_path / "out") == 0


def _runs(out: Path) -> int:
    with Gradebook.open(out / "gradebook.db") as book:
        return len(book.runs())


def test_grader_scheduler_variable_chooses_the_cluster(tmp_path):
    hand_ins = tmp_path / "hand-ins"
    toy_hand_ins(hand_ins, 1, seconds=0)
    result = CliRunner().invoke(app, ["grade", str(hand_ins), "--sheet", "toy", "--course", str(TOY), "--out",
                                      str(tmp_path / "out")],
                                env={"COLUMNS": "300", "GRADER_SCHEDULER": "tcp://192.0.2.1:8786"})
    assert result.exit_code == 2 and "refusing plain tcp:// to a host other than" in result.output


def test_losing_the_scheduler_midway_keeps_what_is_stored_and_says_what_is_left(tmp_path):
    """A scheduler of its own (this test stops it), with one worker process."""
    import logging

    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.ERROR)
    try:
        hand_ins = tmp_path / "hand-ins"
        toy_hand_ins(hand_ins, 4, seconds=1.5)

        def stop_after_one_stored() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                tasks = list(cluster.scheduler.tasks.values())
                if any(str(t.key).startswith("grade-") and t.state in ("memory", "released", "forgotten")
                       for t in tasks) or _stored(tmp_path / "out") >= 1:
                    break
                time.sleep(0.05)
            cluster.sync(cluster.scheduler.close)

        stopper = threading.Thread(target=stop_after_one_stored, daemon=True)
        stopper.start()
        result = CliRunner().invoke(app, ["grade", str(hand_ins), "--sheet", "toy", "--course", str(TOY), "--out",
                                          str(tmp_path / "out"), "--scheduler", cluster.scheduler_address,
                                          "--scheduler-timeout", "2"], env={"COLUMNS": "300"})
        stopper.join(60)
    finally:
        cluster.close(timeout=20)
    assert result.exit_code == 1, result.output
    stored = _stored(tmp_path / "out")
    assert 1 <= stored < 4
    assert f"cluster lost: lost the Dask scheduler at {cluster.scheduler_address}; {stored} hand-in(s) graded and " \
           f"stored in this run, {4 - stored} left" in " ".join(result.output.split())
    assert (tmp_path / "out" / "gradebook.csv").exists()  # the reports were written from what is stored


def _stored(out: Path) -> int:
    if not (out / "gradebook.db").exists():
        return 0
    try:
        with Gradebook.open(out / "gradebook.db") as book:
            return len(book.results("toy"))
    except Exception:  # noqa: BLE001 - being created
        return 0

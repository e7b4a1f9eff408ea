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

from typer.testing import CliRunner

from grader.commands.cli import app
from grader.store.gradebook import Gradebook
from tests.batch.conftest import grading_count
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


def executing(client, workers: list[str]) -> dict[str, list[str]]:
    """The keys each of these workers is running right now (not just holding in its queue)."""
    def keys(dask_worker):
        return [str(task.key) for task in dask_worker.state.executing]

    return client.run(keys, workers=workers, on_error="return")


class WorkerKiller(threading.Thread):
    """SIGKILLs the process of a worker while it runs a task whose key starts with `prefix`, `times` times (each
    time another worker process: the nanny starts a new one). Only workers the scheduler still lists are asked
    what they run, so a dead one never holds the watch up."""

    def __init__(self, cluster, prefix: str, times: int) -> None:
        super().__init__(daemon=True)
        self.scheduler = cluster.scheduler
        self.address, self.prefix, self.times = cluster.scheduler_address, prefix, times
        self.killed: list[int] = []

    def alive(self) -> list[str]:
        try:
            return list(self.scheduler.workers)
        except RuntimeError:  # changed while read
            return []

    def run(self) -> None:
        from distributed import Client

        with Client(self.address, timeout=20, set_as_default=False) as client:
            deadline = time.monotonic() + 120
            while len(self.killed) < self.times and time.monotonic() < deadline:
                workers = self.alive()
                running = executing(client, workers) if workers else {}
                for worker, keys in running.items():
                    if not isinstance(keys, list) or not any(key.startswith(self.prefix) for key in keys):
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


def key_prefix(path: Path) -> str:
    return f"grade-{hashlib.sha256(path.read_bytes()).hexdigest()[:10]}"


def seen(record) -> tuple:
    """What a student or tutor reads of a record, minus timings."""
    return (record.auto_points, record.error, sorted(f.code for f in record.flags),
            [(c.check_id, c.status, c.message) for q in record.questions for c in q.checks])


def test_a_worker_killed_mid_hand_in_loses_nothing_and_duplicates_nothing(cluster, address, tmp_path):
    hand_ins = tmp_path / "hand-ins"
    paths = toy_hand_ins(hand_ins, 4, seconds=1.5)
    killer = WorkerKiller(cluster[0], "grade-", times=1)
    killer.start()
    summary, records = grade(hand_ins, tmp_path / "out", sheet="toy", course=TOY, address=address)
    killer.join(90)
    assert len(killer.killed) == 1, "no worker was killed while it graded: the test proves nothing"
    assert sorted(summary.graded) == sorted(p.name for p in paths) and summary.lost is None
    with Gradebook.open(summary.db_path) as book:
        assert [grading_count(book, "toy", p.name) for p in paths] == [1] * len(paths)
    # Graded again elsewhere, and the record says nothing of it: exactly what a local run gives.
    _, local = grade(hand_ins, tmp_path / "local", sheet="toy", course=TOY)
    assert {name: seen(r) for name, r in records.items()} == {name: seen(r) for name, r in local.items()}
    assert {r.auto_points for r in records.values()} == {0.0, 3.0}


def test_a_hand_in_whose_workers_die_twice_is_reported_and_the_batch_goes_on(cluster, address, tmp_path):
    hand_ins = tmp_path / "hand-ins"
    paths = toy_hand_ins(hand_ins, 2, seconds=1.5)
    victim, other = paths[1], paths[0]
    killer = WorkerKiller(cluster[0], key_prefix(victim), times=2)
    killer.start()
    summary, records = grade(hand_ins, tmp_path / "out", sheet="toy", course=TOY, address=address)
    killer.join(90)
    assert len(killer.killed) == 2
    assert sorted(summary.graded) == sorted(p.name for p in paths)
    record = records[victim.name]
    assert record.status == "done" and "died 2 times" in record.error and "--force" in record.error
    assert "crash" in {f.code for f in record.flags}
    assert record.auto_points == 0
    assert all(c.message.startswith("not graded") for q in record.questions for c in q.checks if c.status != "pending")
    assert records[other.name].error is None and "crash" not in {f.code for f in records[other.name].flags}
    # Stored once, as the hand-in's failure: a rerun does not try again (--force would), and needs no cluster.
    again, _ = grade(hand_ins, tmp_path / "out", sheet="toy", course=TOY, address="tcp://127.0.0.1:9")
    assert again.graded == [] and sorted(again.skipped) == sorted(p.name for p in paths)


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
                           dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
    cluster.worker_pids = [worker.pid for worker in cluster.scheduler.workers.values()]
    try:
        hand_ins = tmp_path / "hand-ins"
        toy_hand_ins(hand_ins, 4, seconds=1.5)

        def stop_after_one_stored() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and _stored(tmp_path / "out") < 1:  # one stored, three to go
                time.sleep(0.05)
            cluster.sync(cluster.scheduler.close)

        stopper = threading.Thread(target=stop_after_one_stored, daemon=True)
        stopper.start()
        result = CliRunner().invoke(app, ["grade", str(hand_ins), "--sheet", "toy", "--course", str(TOY), "--out",
                                          str(tmp_path / "out"), "--scheduler", cluster.scheduler_address,
                                          "--scheduler-timeout", "2"], env={"COLUMNS": "300"})
        stopper.join(60)
    finally:
        _close_without_scheduler(cluster)
    assert result.exit_code == 1, result.output
    stored = _stored(tmp_path / "out")
    assert 1 <= stored < 4
    assert f"cluster lost: lost the Dask scheduler at {cluster.scheduler_address}; {stored} hand-in(s) graded and " \
           f"stored in this run, {4 - stored} left" in " ".join(result.output.split())
    assert (tmp_path / "out" / "gradebook.csv").exists()  # the reports were written from what is stored
    # The same command again (here without the cluster, which is gone) grades exactly the rest.
    again, _ = grade(hand_ins, tmp_path / "out", sheet="toy", course=TOY)
    assert len(again.graded) == 4 - stored and len(again.skipped) == stored


def _close_without_scheduler(cluster) -> None:
    """Close a LocalCluster whose scheduler this test stopped; its worker processes must not outlive the test."""
    try:
        cluster.close(timeout=10)
    except Exception:  # noqa: BLE001 - closing talks to the stopped scheduler and may time out
        pass
    for pid in cluster.worker_pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _stored(out: Path) -> int:
    if not (out / "gradebook.db").exists():
        return 0
    try:
        with Gradebook.open(out / "gradebook.db") as book:
            return len(book.results("toy"))
    except Exception:  # noqa: BLE001 - being created
        return 0

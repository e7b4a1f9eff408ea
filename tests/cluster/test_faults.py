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
    """SIGKILLs the process of a worker while it runs a task whose key starts with a given prefix, as many times
    as asked for that prefix (each time another worker process: the nanny starts a new one)."""

    def __init__(self, address: str, plan: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.address, self.plan = address, dict(plan)
        self.killed: dict[str, list[int]] = {prefix: [] for prefix in plan}

    def run(self) -> None:
        from distributed import Client

        with Client(self.address, timeout=20, set_as_default=False) as client:
            deadline = time.monotonic() + 120
            while any(len(self.killed[p]) < n for p, n in self.plan.items()) and time.monotonic() < deadline:
                for worker, keys in executing(client).items():
                    wanted = [p for p, n in self.plan.items() if len(self.killed[p]) < n
                              and isinstance(keys, list) and any(key.startswith(p) for key in keys)]
                    if not wanted:
                        continue
                    try:
                        pid = client.run(os.getpid, workers=[worker])[worker]
                    except Exception:  # noqa: BLE001 - it died meanwhile
                        continue
                    if all(pid not in pids for pids in self.killed.values()):
                        os.kill(pid, signal.SIGKILL)
                        self.killed[wanted[0]].append(pid)
                    break
                time.sleep(0.05)
            client.wait_for_workers(2, timeout=60)  # the nannies restart the killed workers for the next test


def key_prefix(path: Path) -> str:
    return f"grade-{hashlib.sha256(path.read_bytes()).hexdigest()[:10]}"


def seen(record) -> tuple:
    """What a student or tutor reads of a record, minus timings."""
    return (record.auto_points, record.error, sorted(f.code for f in record.flags),
            [(c.check_id, c.status, c.message) for q in record.questions for c in q.checks])


def test_killed_workers_lose_nothing_duplicate_nothing_and_a_hand_in_killing_twice_is_reported(address, tmp_path):
    """One batch: the worker grading `once` is SIGKILLed once (it is graded again elsewhere and its record says
    nothing of it), the workers grading `twice` die twice (then it is reported, and the batch goes on)."""
    hand_ins = tmp_path / "hand-ins"
    paths = toy_hand_ins(hand_ins, 5, seconds=1.5)
    once, twice = paths[1], paths[2]
    killer = WorkerKiller(address, {key_prefix(once): 1, key_prefix(twice): 2})
    killer.start()
    summary, records = grade(hand_ins, tmp_path / "out", sheet="toy", course=TOY, address=address)
    killer.join(90)
    assert killer.killed[key_prefix(once)] and len(killer.killed[key_prefix(twice)]) == 2, \
        "the workers were not killed while they graded: the test proves nothing"
    assert sorted(summary.graded) == sorted(p.name for p in paths) and summary.lost is None
    with Gradebook.open(summary.db_path) as book:
        assert [book.grading_count("toy", p.name) for p in paths] == [1] * len(paths)

    _, local = grade(hand_ins, tmp_path / "local", sheet="toy", course=TOY)
    for path in paths:
        if path != twice:  # graded once, or again elsewhere: exactly what a local run gives
            assert seen(records[path.name]) == seen(local[path.name]), path.name
    assert {records[p.name].auto_points for p in paths if p != twice} == {0.0, 3.0}

    record = records[twice.name]
    assert record.status == "done" and "died 2 times" in record.error and "--force" in record.error
    assert "crash" in {f.code for f in record.flags}
    assert record.auto_points == 0
    assert all(c.message.startswith("not graded") for q in record.questions for c in q.checks if c.status != "pending")
    # Stored once, as the hand-in's failure: a rerun does not try again (--force would), and needs no cluster.
    again, _ = grade(hand_ins, tmp_path / "out", sheet="toy", course=TOY, address="tcp://127.0.0.1:9")
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
    # The same command again (here without the cluster, which is gone) grades exactly the rest.
    again, _ = grade(hand_ins, tmp_path / "out", sheet="toy", course=TOY)
    assert len(again.graded) == 4 - stored and len(again.skipped) == stored


def _stored(out: Path) -> int:
    if not (out / "gradebook.db").exists():
        return 0
    try:
        with Gradebook.open(out / "gradebook.db") as book:
            return len(book.results("toy"))
    except Exception:  # noqa: BLE001 - being created
        return 0

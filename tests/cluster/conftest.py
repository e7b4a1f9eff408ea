"""One real Dask cluster for the cluster tests: a scheduler and two worker processes (nannies) on the loopback.

Built once for this folder (starting workers and their warm pools costs seconds) and closed after its last test,
so that its processes do not use the machine while the rest of the suite runs: a plain worker and one that
declares the made-up resource FAKE_GPU, so that the routing test needs no cluster of its own. The scheduler runs
in this process, so tests can watch where tasks went (`TaskLog`). `allowed-failures` is 1, as docs/cluster.md
tells a course to start its scheduler: a hand-in whose worker dies twice is reported, not retried again.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import uuid
from pathlib import Path

import pytest

from grader.commands.batch import BatchOptions, run_batch
from grader.store.gradebook import Gradebook

try:
    import distributed  # noqa: F401
except ImportError:  # CI installs the `test` extra, which holds `cluster`: there a missing Dask is a failure
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("the cluster tests need the `cluster` extra (dask[distributed])", allow_module_level=True)

FAKE_RESOURCE = "FAKE_GPU"


class TaskLog:
    """A scheduler plugin that remembers which worker finished each task and how often a task's worker died."""

    name = "grader-test-task-log"

    def __init__(self) -> None:
        self.finished_on: dict[str, str] = {}

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if finish == "memory" and kwargs.get("worker"):
            self.finished_on[str(key)] = kwargs["worker"]


@pytest.fixture(scope="package")
def fake_devices():
    """(the device file the FAKE_GPU worker maps, another one nobody maps): character devices that behave like
    /dev/null, made in the host's /dev for these tests (needs root), or (None, None)."""
    token = uuid.uuid4().hex[:8]
    made = [Path(f"/dev/grader-fake-gpu-{token}"), Path(f"/dev/grader-fake-other-{token}")]
    try:
        for path in made:
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except OSError:
        for path in made:
            path.unlink(missing_ok=True)
        yield None, None
        return
    try:
        yield str(made[0]), str(made[1])
    finally:
        for path in made:
            path.unlink(missing_ok=True)


@pytest.fixture(scope="package")
def cluster(sandbox, fake_devices):
    """(the SpecCluster, a TaskLog); two single-threaded worker processes, one with FAKE_GPU=1 (and, as root,
    a fake device file standing for it in GRADER_DEVICES)."""
    if sandbox.name != "bubblewrap":
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the cluster tests with bubblewrap on the workers")
        pytest.skip("the cluster tests need bubblewrap (the workers grade in the same sandbox as the local batch)")
    import dask
    from distributed import Nanny, Scheduler, SpecCluster
    from distributed.scheduler import SchedulerPlugin

    log = type("Log", (TaskLog, SchedulerPlugin), {})()
    worker = {"cls": Nanny, "options": {"nthreads": 1, "host": "127.0.0.1", "dashboard": False,
                                        "silence_logs": logging.ERROR}}
    special = {"cls": Nanny, "options": {**worker["options"], "resources": {FAKE_RESOURCE: 1}}}
    if fake_devices[0]:
        special["options"]["env"] = {"GRADER_DEVICES": f"{FAKE_RESOURCE}={fake_devices[0]}"}
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        spec = SpecCluster(workers={"plain": worker, "special": special},
                           scheduler={"cls": Scheduler, "options": {"host": "127.0.0.1", "dashboard": False}},
                           silence_logs=logging.ERROR)
    spec.scheduler.add_plugin(log)
    try:
        yield spec, log
    finally:
        spec.close(timeout=30)


@pytest.fixture(scope="package")
def address(cluster) -> str:
    return cluster[0].scheduler_address


def grade(hand_ins: Path, out: Path, *, sheet: str = "sheet02", course: Path, address: str | None = None,
          **options):
    """run_batch on the cluster at `address` (or locally with two jobs); (summary, {file name: record})."""
    from grader.cluster.address import ClusterOptions

    cluster = ClusterOptions(address, **options.pop("cluster_options", {})) if address else None
    summary = run_batch(BatchOptions(hand_ins=hand_ins, sheet=sheet, out=out, course=course, jobs=2, cluster=cluster,
                                     **options))
    with Gradebook.open(summary.db_path) as book:
        records = {r.record.file_name: r.record for r in book.results(sheet)}
    return summary, records


def copy_hand_ins(source: Path, target: Path, names: list[str] | None = None) -> Path:
    target.mkdir(parents=True)
    for path in source.iterdir():
        if names is None or path.name in names or path.name == "manifest.csv":
            shutil.copy2(path, target / path.name)
    return target

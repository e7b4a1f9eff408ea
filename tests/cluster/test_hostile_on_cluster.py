"""The hostile corpus graded on the cluster: every hand-in gets the verdict it gets from the local pool, nothing
reaches the host, the fork and memory bombs leave the Dask workers as they were, and a hand-in cannot connect
to the scheduler's or a worker's port.

The corpus's verdicts are the local pool's (tests/hostile/test_hostile_corpus.py checks the local batch against
the same ones), so the cluster is held to exactly the local grades without grading the corpus twice here.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit

import pytest

from submissions.make_examples import Member, zip_name
from tests.cluster.conftest import grade
from tests.conftest import REPO
from tests.hostile.corpus import FULL, Targets, _escape_cell, _zip_of, master_notebook, write_corpus, write_course
from tests.hostile.test_hostile_corpus import Listeners, require_protections, verdict_problems

PORT_TEAM = [Member("Ada Portscan", "1099001", "ada.portscan@example.org"),
             Member("Bo Portscan", "1099002", "bo.portscan@example.org")]


def cluster_ports(cluster) -> list[int]:
    """The scheduler's port and every worker's and nanny's listening port."""
    from distributed import Client

    spec = cluster[0]
    ports = {urlsplit(spec.scheduler_address).port}
    with Client(spec.scheduler_address, set_as_default=False) as client:
        for address, worker in client.scheduler_info()["workers"].items():
            ports.add(urlsplit(address).port)
            if worker.get("nanny"):
                ports.add(urlsplit(worker["nanny"]).port)
    return sorted(ports)


def port_scan_hand_in(ports: list[int]) -> bytes:
    connect = (
        "import socket\n"
        "def tcp(port):\n"
        "    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:\n"
        "        s.settimeout(2)\n"
        "        s.connect(('127.0.0.1', port))\n"
        "        s.sendall(b'op: run_function')\n"
        "        return 'connected'\n")
    attempts = "".join(f'attempt("tcp 127.0.0.1:{port}", lambda: tcp({port}))\n' for port in ports)
    return _zip_of(master_notebook(PORT_TEAM, after={"1c": [_escape_cell(connect + attempts)]}))


@pytest.fixture(scope="module")
def hostile_batch(cluster, address, sandbox, tmp_path_factory):
    from distributed import Client

    require_protections(sandbox)
    base = tmp_path_factory.mktemp("hostile-cluster")
    token = uuid.uuid4().hex[:12]
    listeners = Listeners(token)
    hand_ins, out = base / "hand-ins", base / "out"
    (base / "work").mkdir()
    targets = Targets(repo=REPO, token=token, port=listeners.port, unix_name=listeners.unix_name,
                      decoy_gradebook=base / "gradebook.db", hand_ins=hand_ins, out=out, work_tmp=base / "work",
                      secret=f"secret-{uuid.uuid4().hex}")
    corpus = write_corpus(hand_ins, targets)
    ports = cluster_ports(cluster)
    port_scan = zip_name(PORT_TEAM)
    (hand_ins / port_scan).write_bytes(port_scan_hand_in(ports))
    course = write_course(base / "course")
    with Client(address, set_as_default=False) as client:
        before = client.run(os.getpid)
    try:
        summary, records = grade(hand_ins, out, course=course, address=address)
    finally:
        arrivals = listeners.arrivals()
        listeners.close()
    with Client(address, set_as_default=False) as client:
        after = client.run(os.getpid)
    return {"summary": summary, "records": records, "corpus": corpus, "arrivals": arrivals, "ports": ports,
            "port_scan": port_scan, "before": before, "after": after, "targets": targets}


def test_every_hand_in_gets_the_local_pools_verdict_on_the_cluster(hostile_batch):
    summary, records = hostile_batch["summary"], hostile_batch["records"]
    assert summary.lost is None and not summary.interrupted
    assert sorted(summary.graded) == sorted([h.file_name for h in hostile_batch["corpus"]]
                                            + [hostile_batch["port_scan"]])
    assert {r.sandbox for r in records.values()} == {"bubblewrap-pool"}
    problems = {f"{h.case} ({h.attack})": verdict_problems(h, records[h.file_name]) for h in hostile_batch["corpus"]}
    problems = {case: found for case, found in problems.items() if found}
    assert not problems, "\n".join(f"{case}:\n  " + "\n  ".join(p) for case, p in problems.items())
    assert hostile_batch["arrivals"] == []
    assert [p for p in hostile_batch["targets"].forbidden_paths() if os.path.lexists(p)] == []


def test_fork_and_memory_bombs_leave_the_workers_healthy(hostile_batch, address, tmp_path):
    cases = {h.case: h for h in hostile_batch["corpus"]}
    for case in ("fork_bomb", "fork_bomb_spinning", "memory_bomb", "memory_bomb_touched", "memory_bomb_children"):
        assert not verdict_problems(cases[case], hostile_batch["records"][cases[case].file_name]), case
    # The same worker processes before and after the batch: none died or was restarted ...
    assert hostile_batch["after"] == hostile_batch["before"]
    # ... and they still grade: the bundled example that scores full marks, right after the bombs.
    summary, records = grade(REPO / "submissions" / "sheet02" / "Mustermann_2301001_Müller-Lüdenscheidt_2301002.zip",
                             tmp_path / "out", course=REPO, address=address)
    assert summary.graded and next(iter(records.values())).error is None


def test_a_hand_in_cannot_connect_to_the_scheduler_or_a_worker(hostile_batch):
    record = hostile_batch["records"][hostile_batch["port_scan"]]
    assert len(hostile_batch["ports"]) >= 3  # the scheduler and at least two workers
    points = {q.question_id: round(q.points, 6) for q in record.questions if q.question_id in FULL}
    assert points == dict(FULL)  # the rest of the hand-in was graded as usual
    [cell] = [c for c in record.failed_cells if c.status != "not run"]
    assert "end of attempts" in cell.error
    for port in hostile_batch["ports"]:
        outcome = next(part for part in cell.error.split(" | ") if f"127.0.0.1:{port}:" in part)
        assert "connected" not in outcome and ("ConnectionRefusedError" in outcome or "OSError" in outcome
                                               or "timeout" in outcome), outcome

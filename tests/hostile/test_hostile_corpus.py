"""The hostile corpus graded in one batch, in the real sandbox: every hand-in gets its verdict, the host is unchanged.

The whole corpus is graded with the batch's default (warm workers forked from sandboxed zygotes); the cases
whose outcome depends on the worker's parent and process tree are graded again with cold workers.

The test watches the host while the batch runs: a TCP listener, a UDP socket and an abstract unix socket on the
loopback (nothing may arrive), a decoy gradebook and the rubric/reference files (their bytes may not change),
files the attacks try to create (none may exist), a secret in the grader's environment (no hand-in may see it),
and the processes and folders of the run (none may be left).
"""

from __future__ import annotations

import hashlib
import os
import resource
import socket
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from grader.commands.batch import BatchOptions, run_batch
from grader.store.layout import folder_name
from grader.store.gradebook import Gradebook
from tests.conftest import REPO
from tests.hostile.corpus import FULL, HandIn, Targets, write_corpus, write_course

SECRET_VARIABLE = "GRADER_HOSTILE_SECRET"
# Extracted files are never allowed near the 2 GB of a zip bomb; the biggest honest hand-in is a few MB.
MAX_EXTRACTED_BYTES = 20 * 2**20
# What grading the corpus may add to the grader's own peak memory. Parsing the 60 MB frame of twenty
# million empty lists alone would add more than a gigabyte.
MAX_GRADER_GROWTH_BYTES = 600 * 2**20


def tree_hashes(*roots: Path) -> dict[str, str]:
    hashes = {}
    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            if "__pycache__" not in path.parts:
                hashes[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def peak_memory_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports kilobytes


def processes_mentioning(text: str) -> list[str]:
    """Processes whose command line or working folder contains `text` (this test's own folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if text in cmdline or text in cwd:
            found.append(f"{entry.name}: {cmdline[:200]} (cwd {cwd})")
    return found


class Listeners:
    """Loopback endpoints of the host that no hand-in may reach."""

    def __init__(self, token: str) -> None:
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.unix_name = f"\0grader-hostile-{token}"
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(self.unix_name)
        self.unix.listen(16)

    def arrivals(self) -> list[str]:
        got = []
        for name, sock in (("tcp", self.tcp), ("udp", self.udp), ("unix", self.unix)):
            sock.setblocking(False)
            try:
                if sock.type == socket.SOCK_DGRAM:
                    got.append(f"{name}: {sock.recv(100)!r}")
                else:
                    connection, address = sock.accept()
                    got.append(f"{name}: a connection from {address!r}")
                    connection.close()
            except BlockingIOError:
                pass
        return got

    def close(self) -> None:
        for sock in (self.tcp, self.udp, self.unix):
            sock.close()


# Without these the corpus would do real harm: kill the grader, write to the host, fork or fill memory or
# disk without bound.
REQUIRED_PROTECTIONS = ("network", "filesystem", "pid_namespace", "process_limit", "disk_quota", "file_size_rlimit")


# Graded once more with cold workers (one fresh sandbox per hand-in, as without the warm pool): the cases
# whose outcome depends on what the worker's parent and process tree are.
COLD_CASES = frozenset({
    "control_full", "control_partial", "infinite_loop", "alarm_ignored", "uninterruptible", "stop_self",
    "sys_exit", "os_exit", "exit_in_call", "fork_bomb", "fork_bomb_spinning", "memory_bomb", "kill_parent",
    "kill_group", "segfault", "protocol_junk", "protocol_closed", "write_outside", "network", "steal_reference",
})


def require_protections(sandbox) -> None:
    protections = sandbox.protections()
    missing = [name for name in REQUIRED_PROTECTIONS if not protections.get(name)]
    if not (protections.get("memory_cgroup") or protections.get("memory_rlimit")):
        missing.append("memory_cgroup or memory_rlimit")
    if missing:
        reason = f"the hostile corpus needs the {sandbox.name} sandbox to have {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def grade_corpus(base: Path, *, warm: bool, only: frozenset[str] | None = None) -> dict:
    """Write the corpus under `base`, grade it in one batch while watching the host, and collect the results."""
    token = uuid.uuid4().hex[:12]
    listeners = Listeners(token)
    decoy = base / "gradebook.db"  # next to the folder of hand-ins, where a tutor's gradebook might lie
    with sqlite3.connect(decoy) as db:
        db.execute("CREATE TABLE grades (student TEXT, points REAL)")
        db.execute("INSERT INTO grades VALUES ('Mallory Quist', 0.5)")
    db.close()
    hand_ins, out, work = base / "hand-ins", base / "out", base / "work"
    work.mkdir()
    targets = Targets(repo=REPO, token=token, port=listeners.port, unix_name=listeners.unix_name,
                      decoy_gradebook=decoy, hand_ins=hand_ins, out=out, work_tmp=work,
                      secret=f"secret-{uuid.uuid4().hex}")
    corpus = write_corpus(hand_ins, targets, only=only)
    course = write_course(base / "course")
    watched = [REPO / "rubrics", REPO / "reference", course / "rubrics", decoy, hand_ins]
    before = tree_hashes(*watched)

    started, peak_before = time.monotonic(), peak_memory_bytes()
    try:
        with pytest.MonkeyPatch.context() as patch:
            # The workers' folders go to a place this test can inspect afterwards.
            patch.setattr(tempfile, "tempdir", str(work))
            patch.setenv(SECRET_VARIABLE, targets.secret)
            summary = run_batch(BatchOptions(hand_ins=hand_ins, sheet="sheet02", out=out, course=course, jobs=2,
                                             warm=warm))
    finally:
        arrivals = listeners.arrivals()
        listeners.close()
    seconds, peak_after = time.monotonic() - started, peak_memory_bytes()
    with Gradebook.open(summary.db_path) as book:
        results = {r.record.file_name: r.record for r in book.results("sheet02")}
    graded_in = sorted({record.sandbox for record in results.values()})
    print(f"\nhostile corpus: {len(corpus)} hand-ins graded in {seconds:.0f} s by {', '.join(graded_in)}")
    return {"summary": summary, "corpus": corpus, "records": results, "targets": targets, "base": base,
            "out": out, "work": work, "watched": watched, "before": before, "arrivals": arrivals,
            "seconds": seconds, "growth": peak_after - peak_before, "graded_in": graded_in, "warm": warm}


@pytest.fixture(scope="module")
def warm_batch(tmp_path_factory, sandbox):
    require_protections(sandbox)
    return grade_corpus(tmp_path_factory.mktemp("hostile"), warm=True)


@pytest.fixture(scope="module")
def cold_batch(tmp_path_factory, sandbox):
    require_protections(sandbox)
    return grade_corpus(tmp_path_factory.mktemp("hostile-cold"), warm=False, only=COLD_CASES)


@pytest.fixture(params=["warm", "cold"])
def batch(request):
    """The whole corpus with the batch's default warm workers, and the process-tree cases with cold ones."""
    return request.getfixturevalue(f"{request.param}_batch")


def record_of(batch, hand_in: HandIn):
    return batch["records"][hand_in.file_name]


def verdict_problems(hand_in: HandIn, record) -> list[str]:
    """How the record differs from the hand-in's verdict, in words; empty when it matches."""
    verdict, problems = hand_in.verdict, []
    points = {q.question_id: round(q.points, 6) for q in record.questions if q.question_id in FULL}
    if points != dict(verdict.points):
        problems.append(f"points {points}, expected {dict(verdict.points)}")
    flags = {f.code for f in record.flags}
    if not verdict.flags <= flags or not flags <= verdict.flags | verdict.maybe_flags:
        problems.append(f"flags {sorted(flags)}, expected {sorted(verdict.flags)}"
                        + (f" (and maybe {sorted(verdict.maybe_flags)})" if verdict.maybe_flags else ""))
    if verdict.error is None and record.error:
        problems.append(f"unexpected error: {record.error}")
    if verdict.error is not None and verdict.error not in (record.error or ""):
        problems.append(f"error {record.error!r} does not say {verdict.error!r}")
    # Cells after an exit are "not run"; every other failed cell must be the one the verdict names.
    cells = [(c.label, c.status, c.error) for c in record.failed_cells if c.status != "not run"]
    if verdict.cell is None:
        if cells and not verdict.cells_may_fail:
            problems.append(f"no cell should fail, but {cells}")
    else:
        statuses, fragment = verdict.cell
        if len(cells) != 1 or not any(s in statuses and fragment in (e or "") for _, s, e in cells):
            problems.append(f"one failed cell with status {sorted(statuses)} saying {fragment!r} expected: {cells}")
    if verdict.note is not None and not any(verdict.note in note for note in record.notes):
        problems.append(f"no note mentions {verdict.note!r}: {record.notes}")
    if any("ESCAPED" in (error or "") for _, _, error in cells):
        problems.append("an attack reports that it got out")
    return problems


def test_the_batch_finishes_and_grades_every_hand_in(batch):
    summary = batch["summary"]
    assert not summary.interrupted and summary.sandbox == "bubblewrap"
    # Issue 13 tightened this (it allowed either): a "warm" batch whose pool had silently gone cold passed it.
    assert batch["graded_in"] == (["bubblewrap-pool"] if batch["warm"] else ["bubblewrap"])
    assert sorted(summary.graded) == sorted(h.file_name for h in batch["corpus"])
    assert sorted(batch["records"]) == sorted(h.file_name for h in batch["corpus"])


def test_every_hand_in_gets_its_verdict(batch):
    problems = {}
    for hand_in in batch["corpus"]:
        found = verdict_problems(hand_in, record_of(batch, hand_in))
        if found:
            problems[f"{hand_in.case} ({hand_in.attack})"] = found
    assert not problems, "\n".join(f"{case}:\n  " + "\n  ".join(p) for case, p in problems.items())


def test_nothing_reached_the_host_listeners(batch):
    assert batch["arrivals"] == []


def test_no_file_was_written_outside_the_sandbox(batch):
    targets: Targets = batch["targets"]
    assert [p for p in targets.forbidden_paths() if os.path.lexists(p)] == []
    stray = [p for p in (REPO, REPO / "reference", REPO / "rubrics", targets.hand_ins, targets.out, Path("/tmp"),
                         Path.home(), batch["base"])
             for p in p.glob(f"*{targets.token}*")]
    assert stray == []
    by_case = {h.case: h for h in batch["corpus"]}
    own_files = targets.out / folder_name(by_case["write_outside"].file_name) / "files"
    assert list(own_files.rglob(f"pwned-local-{targets.token}")) == [], "a write inside the sandbox reached the host"


def test_no_link_and_no_bomb_was_unpacked(batch):
    for files in batch["out"].glob("*/files"):
        links = [p for p in files.rglob("*") if p.is_symlink()]
        assert links == [], f"{files}: links were created"
        size = sum(p.stat().st_size for p in files.rglob("*") if p.is_file())
        assert size < MAX_EXTRACTED_BYTES, f"{files}: {size} bytes were unpacked"


def test_the_rubric_the_reference_and_the_gradebook_are_unchanged(batch):
    assert tree_hashes(*batch["watched"]) == batch["before"]


def test_no_process_or_worker_folder_is_left(batch):
    deadline = time.monotonic() + 10
    while (left := processes_mentioning(str(batch["base"]))) and time.monotonic() < deadline:
        time.sleep(0.5)  # a killed sandbox takes a moment to be reaped
    assert left == []
    assert list(batch["work"].iterdir()) == []


def test_the_grader_secret_never_reached_a_hand_in(batch):
    secret = batch["targets"].secret
    for record in batch["records"].values():
        texts = [c.error or "" for c in record.failed_cells] + list(record.notes) + [record.error or ""]
        assert not any(secret in text for text in texts), record.file_name


def test_the_grader_memory_stays_small(warm_batch):
    growth = warm_batch["growth"]
    assert growth < MAX_GRADER_GROWTH_BYTES, f"the grader's peak memory grew by {growth >> 20} MB"


def test_the_similarity_report_covers_the_whole_corpus(warm_batch):
    """The batch's similarity step reads every hostile hand-in back (bounded, in reader children) and finishes."""
    out = warm_batch["out"]
    with Gradebook.open(out / "gradebook.db") as book:
        state = book.similarity("sheet02")
    assert state is not None and state.note == "", state.note if state else "no similarity report"
    assert state.hand_ins == len(warm_batch["corpus"])
    page = (out / "similarity.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert "Similar hand-ins" in (out / "summary.html").read_text(encoding="utf-8")

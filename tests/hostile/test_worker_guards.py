"""The execution side's guards, one by one, on the toy course (fast, and harmless outside bubblewrap too).

The corpus test proves them together in the real sandbox; these pin each one down where it fails alone.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from grader.execution.program import ProgramError, load_program
from grader.execution.runner import DEATHS_PER_TARGET
from grader.scoring.sheet import execution_settings, grade_file
from grader.rubric.plans import plan_checks
from grader.rubric.load import load_rubric
from tests.conftest import REPO, write_notebook

TOY = REPO / "tests" / "engine" / "toycourse"
RIGHT = ["import numpy as np\ndef scale(x, factor):\n    return x * factor", "answer = 42", "is_it_true = 'Yes'"]
FULL = {"1": 2.0, "2": 1.0}
TO_EVERY_FD = """
import os, struct
def to_every_fd(data):
    for fd in range(3, 64):
        try:
            os.write(fd, data)
        except OSError:
            pass
"""


@pytest.fixture(scope="module")
def toy():
    loaded = load_rubric(TOY / "rubrics" / "toy.yaml")
    return loaded, plan_checks(loaded)


def grade(toy, sandbox, tmp_path: Path, cells: list[str], **limits):
    loaded, plans = toy
    settings = dataclasses.replace(execution_settings(loaded.rubric.execution),
                                   **{"cell_timeout": 2, "call_timeout": 2, **limits})
    notebook = write_notebook(tmp_path / "hand-in.ipynb", cells)
    return grade_file(notebook, loaded.rubric.questions, plans, sheet="toy", sandbox=sandbox, settings=settings)


def points(result) -> dict[str, float]:
    return {q.question_id: q.points for q in result.questions if q.question_id in FULL}


def failed(result) -> list[tuple[str, str, str]]:
    return [(c.label, c.status, c.error or "") for c in result.failed_cells]


def test_builtins_a_hand_in_replaces_are_not_the_workers(toy, sandbox, tmp_path):
    liars = """
import builtins
real_import = builtins.__import__
def refuse(name, *args, **kwargs):
    if name.split(".")[0] in ("numpy", "json", "base64", "struct", "grader"):
        raise ImportError(name)
    return real_import(name, *args, **kwargs)
builtins.__import__ = refuse
builtins.isinstance = builtins.callable = builtins.hasattr = lambda *args: False
builtins.type = builtins.len = builtins.int = lambda *args: 0
builtins.list = builtins.tuple = builtins.dict = builtins.getattr = lambda *args: None
builtins.str = builtins.repr = builtins.float = lambda *args: "All tests passed"
"""
    result = grade(toy, sandbox, tmp_path, [*RIGHT, liars, "still_mine = callable(print)"])
    assert points(result) == FULL and failed(result) == []
    assert result.run.restarts == 0


def test_a_broken_traceback_module_still_reports_the_error(toy, sandbox, tmp_path):
    breaker = ("import traceback\ndef explode(*args, **kwargs):\n    raise RuntimeError('no traceback')\n"
               "traceback.extract_tb = traceback.format_list = traceback.format_exception_only = explode\n"
               "traceback.format_exception = traceback.format_tb = traceback.print_exc = explode")
    result = grade(toy, sandbox, tmp_path, [*RIGHT, breaker, "raise ValueError('seen by the tutor')"])
    assert points(result) == FULL
    assert [(label, status) for label, status, _ in failed(result)] == [("5", "error")]
    assert "ValueError: seen by the tutor" in failed(result)[0][2]


def test_junk_on_the_channel_skips_that_cell_only(toy, sandbox, tmp_path):
    junk = TO_EVERY_FD + "to_every_fd(b'\\x00\\x00\\x00\\x05hello')"
    result = grade(toy, sandbox, tmp_path, [junk, *RIGHT])
    assert points(result) == FULL
    assert failed(result)[0][:2] == ("1", "crashed") and "channel" in failed(result)[0][2]


def test_a_closed_channel_skips_that_cell_only(toy, sandbox, tmp_path):
    result = grade(toy, sandbox, tmp_path, [RIGHT[0], "import os\nos.closerange(3, 4096)", *RIGHT[1:]])
    assert points(result) == FULL
    assert failed(result)[0][:2] == ("2", "crashed") and "closed or broke" in failed(result)[0][2]


def test_frames_larger_than_any_honest_reply_are_refused_before_parsing(toy, sandbox, tmp_path):
    bomb = TO_EVERY_FD + "payload = b'[' + b'[],' * 2_000_000 + b'[]]'\n" \
                         "to_every_fd(struct.pack('>I', len(payload)) + payload)"
    result = grade(toy, sandbox, tmp_path, [bomb, *RIGHT])
    assert points(result) == FULL
    assert "larger than any honest reply" in failed(result)[0][2]


def test_a_process_forked_in_a_cell_never_speaks_for_the_worker(toy, sandbox, tmp_path):
    fork = "import os\npid = os.fork()\nif pid:\n    os.waitpid(pid, 0)"
    result = grade(toy, sandbox, tmp_path, [fork, *RIGHT])
    assert points(result) == FULL and failed(result) == []
    assert result.run.restarts == 0


def test_os_exit_ends_the_run_with_the_answers_so_far(toy, sandbox, tmp_path):
    result = grade(toy, sandbox, tmp_path, [RIGHT[0], "import os\nos._exit(0)", *RIGHT[1:]])
    assert points(result) == {"1": 2.0, "2": 0.0}
    assert failed(result)[0][:2] == ("2", "exit")


def test_a_function_that_ends_the_worker_is_given_up_after_two_deaths(toy, sandbox, tmp_path):
    dies = "import os\ndef scale(x, factor):\n    os._exit(0)"
    result = grade(toy, sandbox, tmp_path, [dies, *RIGHT[1:]])
    assert points(result) == {"1": 0.0, "2": 1.0}
    assert result.run.restarts == DEATHS_PER_TARGET
    errors = [r.error for r in result.run.replies.values() if not r.ok]
    assert sum("died during this call" in e for e in errors) == DEATHS_PER_TARGET
    assert any("not run: calls to `scale`" in e for e in errors)


def test_the_hand_in_cannot_take_the_call_timer_away(toy, sandbox, tmp_path):
    """Its own SIGALRM handler, a blocked signal: the call still times out inside the worker, no kill needed."""
    thief = """
import signal, time
signal.signal(signal.SIGALRM, lambda *args: None)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
def scale(x, factor):
    while True:
        time.sleep(0.05)
"""
    result = grade(toy, sandbox, tmp_path, [*RIGHT, thief], call_timeout=1)
    assert points(result) == {"1": 0.0, "2": 1.0}
    assert result.run.restarts == 0
    assert all("timed out after" in r.error for r in result.run.replies.values() if not r.ok)


def test_a_finalizer_that_never_returns_is_stopped_with_its_call(toy, sandbox, tmp_path):
    sticky = """
class Sticky:
    def __del__(self):
        while True:
            pass
def scale(x, factor):
    leftover = Sticky()
    leftover.me = leftover  # a cycle: freed by the garbage collector, whenever it runs
    return x * factor
"""
    result = grade(toy, sandbox, tmp_path, [RIGHT[0], sticky, *RIGHT[1:]])
    assert points(result) == FULL
    assert result.run.restarts == 0


def test_text_from_the_worker_can_always_be_stored(toy, sandbox, tmp_path):
    """Lone surrogates (JSON carries them, UTF-8 cannot encode them) and NULs in errors, output and answers."""
    junk = "'\\ud800 \\x00 \\udfff'"
    cells = [*RIGHT[:2], f"is_it_true = {junk}", f"print({junk})\nraise RuntimeError({junk} + ' tail')"]
    result = grade(toy, sandbox, tmp_path, cells)
    texts = [c.error or "" for c in result.run.cells.values()] + [c.output for c in result.run.cells.values()]
    texts += [r.error or "" for r in result.run.replies.values()] + [c.message for c in result.checks]
    for text in texts:
        text.encode("utf-8")  # raises on a lone surrogate
        assert "\x00" not in text
    assert "? \\x00 ? tail" in failed(result)[0][2]
    assert points(result) == {"1": 2.0, "2": 0.5}


def test_a_notebook_nested_too_deeply_is_a_program_error(tmp_path):
    path = tmp_path / "deep.ipynb"
    path.write_text('{"nbformat": 4, "nbformat_minor": 5, "metadata": {"x": ' + "[" * 100_000 + "]" * 100_000
                    + '}, "cells": []}')
    with pytest.raises(ProgramError, match="deep.ipynb: not a notebook, the JSON is nested too deeply"):
        load_program(path)


def test_a_cell_source_that_is_not_text_is_a_program_error(tmp_path):
    path = tmp_path / "odd.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                "cells": [{"cell_type": "code", "source": [1, 2], "metadata": {}, "outputs": [],
                                           "execution_count": None}]}))
    with pytest.raises(ProgramError, match="odd.ipynb"):
        load_program(path)

"""Reading hand-ins back for the report: long-lived bounded reader children, code and answers from OUT/."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

import grader.commands.manual.reading as reading
from grader.commands.manual.reading import FileRequest, ReadLimits, read_files
from grader.prose.extract import HandInReadError, ProseQuestion
from grader.commands.similarity.collect import code_files, collect_hand_ins
from grader.store.gradebook import Gradebook
from tests.similarity.conftest import unpack_as_graded
from tests.similarity.corpus import write_corpus_zips

QUESTION = [ProseQuestion("1a", "1", "a", "")]


def _notebook(path: Path, number: int) -> Path:
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(f"def f(x):\n    return x * {number}\n")
    cell.metadata["grader"] = {"id": "code1", "question": "1b", "role": "solution"}
    notebook.cells = [nbformat.v4.new_markdown_cell("### Task 1 (a)\n**Answer:** The gates count."), cell,
                      nbformat.v4.new_code_cell("   "), nbformat.v4.new_code_cell("print(f(2))")]
    nbformat.write(notebook, str(path))
    return path


def test_one_child_reads_many_files_with_their_code_and_answers(tmp_path: Path, monkeypatch) -> None:
    starts = []
    original = reading._ReaderChild._start
    monkeypatch.setattr(reading._ReaderChild, "_start", lambda self: (starts.append(1), original(self))[1])
    paths = [_notebook(tmp_path / f"n{i}.ipynb", i) for i in range(6)]
    replies = read_files([FileRequest(p, QUESTION, 10_000) for p in paths], workers=1)
    assert len(starts) == 1, "every file started its own reader"
    for number, reply in enumerate(replies):
        assert not isinstance(reply, HandInReadError)
        assert reply.answers["1a"].text == "The gates count."
        assert [(u["label"], u["question"]) for u in reply.code] == [("cell 2", "1b"), ("cell 4", None)]
        assert f"x * {number}" in reply.code[0]["text"]
    only_code = read_files([FileRequest(paths[0], None, 10_000)], workers=1)[0]
    assert only_code.answers is None and only_code.code


@pytest.fixture(scope="module")
def slow_and_quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 20 MB answer file that takes seconds of CPU to read, and a tiny one."""
    folder = tmp_path_factory.mktemp("slow")
    slow = folder / "slow.md"
    slow.write_text("### Task 1 (a)\n**Answer:** " + ("The gates count the symbols of the sequence. " * 8 + "\n")
                    * 60_000, encoding="utf-8")
    quick = folder / "quick.md"
    quick.write_text("### Task 1 (a)\n**Answer:** Counting.\n", encoding="utf-8")
    return slow, quick


@pytest.mark.parametrize("limits", [ReadLimits(cpu_seconds=1), ReadLimits(wall_seconds=0.5)], ids=["cpu", "wall"])
def test_a_file_over_its_time_is_refused_and_the_next_one_is_read(slow_and_quick, limits: ReadLimits) -> None:
    slow, quick = slow_and_quick
    slow_reply, quick_reply = read_files([FileRequest(slow, QUESTION), FileRequest(quick, QUESTION)], workers=1,
                                         limits=limits)
    said = "CPU time limit" if limits.cpu_seconds == 1 else "longer than 0.5 s"
    assert isinstance(slow_reply, HandInReadError) and said in str(slow_reply)
    assert not isinstance(quick_reply, HandInReadError) and quick_reply.answers["1a"].text == "Counting."


@pytest.mark.parametrize(("content", "says"), [
    (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    (b"this is not JSON", "JSON is broken"),
    (b'{"nbformat": 4, "cells": "no list"}', "no list of cells"),
], ids=["deep", "not-json", "no-cells"])
def test_broken_notebooks_give_a_reason_not_a_crash(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "broken.ipynb"
    path.write_bytes(content)
    reply = read_files([FileRequest(path, None, 10_000)], workers=1)[0]
    assert not isinstance(reply, HandInReadError) and says in reply.code_error


def test_an_old_notebook_and_a_script_with_bad_bytes_are_read(tmp_path: Path) -> None:
    v3 = tmp_path / "old.ipynb"
    v3.write_text(json.dumps({"nbformat": 3, "worksheets": [{"cells": [
        {"cell_type": "code", "input": ["x = 1\n", "y = 2\n"]}, {"cell_type": "markdown", "source": "# t"}]}]}))
    script = tmp_path / "solution.py"
    script.write_bytes(b"def f(x):\n    return x  # caf\xe9\n" + b"y = 1\n" * 50_000)
    old_reply, script_reply = read_files([FileRequest(v3, None, 10_000), FileRequest(script, None, 1_000)])
    assert [u["text"] for u in old_reply.code] == ["x = 1\ny = 2\n"]
    assert script_reply.code[0]["text"].startswith("def f(x):") and len(script_reply.code[0]["text"]) == 1_000
    assert any("cut off after 1,000 characters" in note for note in script_reply.code_notes)


def test_code_files_are_the_main_file_then_other_scripts_never_checkpoints(tmp_path: Path) -> None:
    for name in ("sheet02.ipynb", "b/helpers.py", "a.py", ".ipynb_checkpoints/sheet02-checkpoint.ipynb",
                 "notes.md", ".hidden.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n", encoding="utf-8")
    assert code_files(tmp_path, "sheet02.ipynb") == ["sheet02.ipynb", "a.py", "b/helpers.py"]
    assert code_files(tmp_path, None) == ["a.py", "sheet02.ipynb", "b/helpers.py"]


def test_collecting_a_graded_output_folder(tmp_path: Path, corpus, sheet02_questions) -> None:
    zips = write_corpus_zips(tmp_path / "hand-ins")
    out = unpack_as_graded(tmp_path / "out", list(zips.values()))
    (out / "gone" / "files").mkdir(parents=True)  # a hand-in whose files are gone is noted, not skipped
    with Gradebook.open(out / "gradebook.db") as book:
        results = book.results("sheet02")
    collected = {h.id: h for h in collect_hand_ins(results, out, sheet02_questions, max_code_chars=500_000,
                                                   workers=2)}
    in_process = {h.id: h for h in corpus}
    for case, path in zips.items():
        read, expected = collected[path.name], in_process[case]
        assert [u.text for u in read.code] == [u.text for u in expected.code]
        assert all(u.label.startswith("sheet02.ipynb, cell ") for u in read.code)
        assert read.answers == expected.answers and not read.notes
    missing = next(iter(zips.values()))
    import shutil

    shutil.rmtree(out / missing.name.removesuffix(".zip") / "files")
    again = collect_hand_ins(results, out, sheet02_questions, max_code_chars=500_000)
    assert next(h for h in again if h.id == missing.name).notes == ("its unpacked files are missing",)


def test_what_a_batch_keeps_of_a_hand_in_is_capped(tmp_path: Path, sheet02_questions) -> None:
    """Three 300,000-character scripts and a 90,000-character answer: kept within the caps, with notes."""
    import zipfile

    hand_in = tmp_path / "Big_2399001_Code_2399002.zip"
    with zipfile.ZipFile(hand_in, "w") as archive:
        for name in ("a.py", "b.py", "c.py"):
            archive.writestr(name, "value = 1\n" * 30_000)
        archive.writestr("answers.md", "### Task 1 (a)\n**Answer:** " + "The gates count. " * 5_300)
    out = unpack_as_graded(tmp_path / "out", [hand_in])
    with Gradebook.open(out / "gradebook.db") as book:
        results = book.results("sheet02")
    [read] = collect_hand_ins(results, out, sheet02_questions, max_code_chars=500_000, max_answer_chars=50_000)
    assert sum(len(u.text) for u in read.code) == 500_000 and [u.label for u in read.code] == ["a.py", "b.py"]
    assert len(read.answers["1a"]) == 50_000
    assert any("b.py: only the first 200,000 characters" in n for n in read.notes)
    assert any("answer to 1a" in n for n in read.notes)

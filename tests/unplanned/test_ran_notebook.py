"""ran.ipynb and figures.json from a run report (no sandbox needed): outputs of the grader's run replace stored
ones, failed cells show as errors or status lines, a script becomes a notebook, figures go to their question."""

from __future__ import annotations

import json

import nbformat

from grader.execution.protocol import CellOutcome, RunReport
from grader.execution.ran_notebook import cell_questions, read_figures, write_run_files

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def report(cells: dict[int, CellOutcome]) -> RunReport:
    return RunReport(cells=cells, replies={}, sandbox="bubblewrap", protections={})


def test_a_notebooks_outputs_come_from_the_run_and_figures_from_their_question(tmp_path):
    book = nbformat.v4.new_notebook()
    stale = nbformat.v4.new_code_cell("print('hi')")
    stale.outputs = [nbformat.v4.new_output("stream", name="stdout", text="STORED OUTPUT")]
    book.cells = [nbformat.v4.new_markdown_cell("## Task 2 (b)\nExplain the shift."), stale,
                  nbformat.v4.new_code_cell("plot()"), nbformat.v4.new_markdown_cell("### Task 3"),
                  nbformat.v4.new_code_cell("1/0"), nbformat.v4.new_code_cell("while True: pass")]
    path = tmp_path / "files" / "sheet.ipynb"
    path.parent.mkdir()
    nbformat.write(book, str(path))
    run = report({1: CellOutcome(1, "2", "ok", None, "hi\n"),
                  2: CellOutcome(2, "3", "ok", figures=[PNG, PNG]),
                  4: CellOutcome(4, "5", "error", "Traceback (most recent call last):\nZeroDivisionError: division by zero"),
                  5: CellOutcome(5, "6", "timeout", "cell killed after 30 s")})
    figures = write_run_files(tmp_path, path, run, ["2a", "2b", "3a"])
    ran = nbformat.read(str(tmp_path / "ran.ipynb"), as_version=4)
    nbformat.validate(ran)
    assert "STORED OUTPUT" not in json.dumps(ran)
    assert ran.cells[1].outputs[0].text == "hi\n" and ran.cells[1].execution_count == 1
    assert [o.output_type for o in ran.cells[2].outputs] == ["display_data", "display_data"]
    assert ran.cells[4].outputs[0].ename == "ZeroDivisionError" and ran.cells[4].outputs[0].evalue == "division by zero"
    assert ran.cells[5].outputs[0].name == "stderr" and "stopped at the time limit" in ran.cells[5].outputs[0].text
    assert [(f.question, f.cell, f.file) for f in figures] == [("2b", "3", "figures/cell-3-1.png"),
                                                               ("2b", "3", "figures/cell-3-2.png")]
    assert read_figures(tmp_path) == figures and (tmp_path / figures[0].file).read_bytes() == PNG
    # A later grading without figures leaves none of the old ones behind.
    write_run_files(tmp_path, path, report({}), ["2b"])
    assert read_figures(tmp_path) == [] and not (tmp_path / "figures").exists()


def test_the_question_of_a_cell_is_its_metadata_or_the_last_heading(tmp_path):
    book = nbformat.v4.new_notebook()
    tagged = nbformat.v4.new_code_cell("x = 1")
    tagged.metadata["grader"] = {"question": "3c"}
    book.cells = [nbformat.v4.new_code_cell("import numpy"), nbformat.v4.new_markdown_cell("**1b)** derive it"),
                  nbformat.v4.new_code_cell("def f(): pass"), tagged]
    path = tmp_path / "nb.ipynb"
    nbformat.write(book, str(path))
    assert cell_questions(path, nbformat.read(str(path), as_version=4), ["1a", "1b", "3c"]) == {2: "1b", 3: "3c"}


def test_a_script_becomes_a_notebook_and_a_hand_in_not_run_says_why(tmp_path):
    script = tmp_path / "files" / "sheet.py"
    script.parent.mkdir()
    script.write_text("# %%\nimport numpy as np\n\n# %% 1b\nprint(np.ones(2))\n", encoding="utf-8")
    write_run_files(tmp_path, script, report({0: CellOutcome(0, "line 2", "ok"),
                                              1: CellOutcome(1, "1b (line 5)", "ok", None, "[1. 1.]\n")}), ["1b"])
    ran = nbformat.read(str(tmp_path / "ran.ipynb"), as_version=4)
    assert [c.source for c in ran.cells] == ["import numpy as np\n\n", "print(np.ones(2))\n"]
    assert ran.cells[1].outputs[0].text == "[1. 1.]\n"
    write_run_files(tmp_path / "other", None, None, [], why_not_run="no notebook in the hand-in")
    ran = nbformat.read(str(tmp_path / "other" / "ran.ipynb"), as_version=4)
    assert ran.cells[0].source == "**Not run by the grader.** no notebook in the hand-in"


def test_the_runner_keeps_only_checked_pngs_within_the_caps():
    import base64

    from grader.execution.runner import MAX_FIGURE_BYTES, MAX_FIGURES, checked_figures

    run = report({})
    png = base64.b64encode(PNG).decode()
    sent = [png, base64.b64encode(b"GIF89a" + b"\x00" * 10).decode(), "not base64 !!",
            base64.b64encode(PNG + b"\x00" * MAX_FIGURE_BYTES).decode(), 12345, png, png, png, png]
    kept = checked_figures(sent, 2, run, "7")
    assert kept == [PNG] * 4  # four a cell; the GIF, the broken text, the oversized one and the number left out
    # 2 the worker left out, 4 not PNGs within the size, 1 over four a cell
    assert [(p.code.value, p.message) for p in run.problems] == [("figures_left_out", "cell 7: 7 figure(s) left out (more than 4 per cell or 16 per hand-in, over 512 kB, "
                            "or not a PNG)")]
    for _ in range(10):
        checked_figures([png] * 4, 0, run, "8")
    assert run.figures_kept == MAX_FIGURES
    assert checked_figures("everything", None, report({}), "9") == []


def test_cell_ids_nbformat_refuses_are_repaired_and_the_question_still_found(tmp_path):
    """Sheet 11's own notebooks have cell ids like 'q11.1.1' (dots): ran.ipynb must still be valid."""
    raw = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "id": "q11.3c", "metadata": {}, "source": "### 11.3 c) Plot the gradient norms."},
        {"cell_type": "code", "id": "code 11.3c", "metadata": {}, "source": "plot()", "outputs": [],
         "execution_count": None},
        {"cell_type": "code", "id": "code 11.3c", "metadata": {}, "source": "again()", "outputs": [],
         "execution_count": None}]}
    path = tmp_path / "files" / "sheet11.ipynb"
    path.parent.mkdir()
    path.write_text(json.dumps(raw), encoding="utf-8")
    figures = write_run_files(tmp_path, path, report({1: CellOutcome(1, "2", "ok", figures=[PNG])}), ["11.3c"])
    ran = nbformat.read(str(tmp_path / "ran.ipynb"), as_version=4)
    nbformat.validate(ran)
    assert len({c.id for c in ran.cells}) == 3 and [f.question for f in figures] == ["11.3c"]

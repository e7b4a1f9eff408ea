"""Issue 19 items 3 and 4 without a run: a notebook's language from its metadata, skipped lines per cell, and
`grader check` listing them."""

from __future__ import annotations

import nbformat
import pytest

from grader.execution.ipython_lines import skipped_lines
from grader.execution.kernels import notebook_language
from grader.execution.program import OtherLanguageError, load_program, to_python


@pytest.mark.parametrize("metadata, python, named", [
    ({"kernelspec": {"name": "ir", "display_name": "R", "language": "R"}, "language_info": {"name": "R"}}, False, "R"),
    ({"kernelspec": {"name": "julia-1.10", "display_name": "Julia 1.10.2", "language": "julia"}}, False, "Julia 1.10.2"),
    ({"kernelspec": {"name": "ir"}}, False, "ir"),
    ({"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
      "language_info": {"name": "python", "version": "3.11.4"}}, True, ""),
    ({}, True, ""),  # nothing said: Python, as Jupyter assumes
])
def test_the_language_comes_from_the_notebooks_metadata(metadata, python, named):
    language = notebook_language({"nbformat": 4, "metadata": metadata})
    assert language.is_python is python
    if not python:
        assert named in language.describe()


def test_a_julia_notebook_is_not_loaded_for_running(tmp_path):
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "julia-1.10", "display_name": "Julia 1.10.2", "language": "julia"}
    book.cells = [nbformat.v4.new_code_cell("x = [1, 2, 3]\nprintln(sum(x))")]
    nbformat.write(book, str(tmp_path / "sheet.ipynb"))
    with pytest.raises(OtherLanguageError, match="written for the Julia 1.10.2 kernel, not Python"):
        load_program(tmp_path / "sheet.ipynb")


@pytest.mark.parametrize("source, skipped", [
    ("!pip install pyro-ppl\nimport numpy as np", ["!pip install pyro-ppl"]),
    ("%matplotlib inline\nx = 5 % 2", ["%matplotlib inline"]),
    ("files = !ls data\nprint(files)", ["files = !ls data"]),
    ("def f():\n    !nvidia-smi\n    return 1", ["!nvidia-smi"]),
    ("%%bash\necho hi\nls", ["%%bash (the whole cell, 3 lines)"]),
    ("%%time\nx = 1", []),  # run: it only times the code
    ('s = """\n%not a magic\n"""', []),
])
def test_skipped_lines_are_read_off_the_translation(source, skipped):
    assert skipped_lines(source, to_python(source)) == skipped


def test_percent_scripts_list_skipped_lines_too(tmp_path):
    script = tmp_path / "sheet.py"
    script.write_text("# %%\nimport numpy as np\n\n# %% setup\n!pip install einops\nx = 1\n", encoding="utf-8")
    notes = load_program(script).notes
    assert len(notes) == 1 and notes[0].startswith("cell setup (line 5): not run by the grader")
    assert "`!pip install einops`" in notes[0]

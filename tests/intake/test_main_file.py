import json
from pathlib import Path

from grader.intake.flags import Flag
from grader.intake.main_file import SELECTION_RULE, choose_main_file


def write(root: Path, files: dict[str, str]) -> list[str]:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return list(files)


def nb(*code: str, markdown: int = 0) -> str:
    cells = [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [], "execution_count": None} for c in code]
    cells += [{"cell_type": "markdown", "source": "text", "metadata": {}}] * markdown
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_the_only_notebook_is_graded_and_scripts_beside_it_are_helpers(tmp_path):
    files = write(tmp_path, {"work.ipynb": nb("x"), "helpers.py": "def f(): pass\n", "answers.pdf": "%PDF"})
    choice = choose_main_file(tmp_path, files)
    assert choice.path == "work.ipynb"
    assert choice.reason == "'work.ipynb' is the only notebook in the hand-in, so it was graded."
    assert choice.flags == ()
    assert choice.written_answers == ("answers.pdf",)


def test_a_script_is_graded_when_there_is_no_notebook(tmp_path):
    choice = choose_main_file(tmp_path, write(tmp_path, {"rnn.py": "x = 1\n", "notes.md": "# notes"}))
    assert choice.path == "rnn.py"
    assert "no notebook" in choice.reason
    assert choice.written_answers == ("notes.md",)


def test_nothing_to_grade_is_flagged_and_lists_written_answers(tmp_path):
    choice = choose_main_file(tmp_path, write(tmp_path, {"answers.pdf": "%PDF", "data.csv": "1"}))
    assert choice.path is None
    assert choice.flags == (
        Flag(
            "no_notebook",
            "No notebook (.ipynb) or Python script (.py) was found in the hand-in, so there is no code to grade. "
            "Written answers found: 'answers.pdf'.",
        ),
    )


def test_a_name_that_says_solution_beats_more_code(tmp_path):
    files = write(tmp_path, {"scratch.ipynb": nb("a", "b", "c"), "my_solution.ipynb": nb("a")})
    choice = choose_main_file(tmp_path, files)
    assert choice.path == "my_solution.ipynb"
    assert choice.reason == (
        "2 notebooks were found ('my_solution.ipynb', 'scratch.ipynb'); 'my_solution.ipynb' was graded because "
        f"its name mentions 'solution'. {SELECTION_RULE}"
    )
    assert choice.flags == (
        Flag(
            "several_notebooks",
            "2 notebooks were found ('my_solution.ipynb', 'scratch.ipynb'); 'my_solution.ipynb' was graded "
            "because its name mentions 'solution'",
        ),
    )


def test_the_sheet_number_counts_as_a_hand_in_name(tmp_path):
    files = write(tmp_path, {"sheet_11.ipynb": nb("a"), "sheet_110_draft.ipynb": nb("a", "b")})
    choice = choose_main_file(tmp_path, files, sheet_hint="11")
    assert choice.path == "sheet_11.ipynb"
    assert "its name mentions the sheet (11)" in choice.reason


def test_templates_copies_and_untitled_lose(tmp_path):
    files = write(
        tmp_path,
        {"Untitled.ipynb": nb("a", "b", "c"), "rnn-Copy1.ipynb": nb("a", "b", "c"), "rnn.ipynb": nb("a")},
    )
    choice = choose_main_file(tmp_path, files)
    assert choice.path == "rnn.ipynb"
    assert "does not look like a template, a copy or a draft, unlike 'Untitled.ipynb', 'rnn-Copy1.ipynb'" in (
        choice.reason
    )


def test_words_inside_other_words_do_not_count(tmp_path):
    # "bold" is not "old", "domain" is not "main": both stay neutral, code decides.
    files = write(tmp_path, {"bold.ipynb": nb("a", "b"), "domain.ipynb": nb("a")})
    assert choose_main_file(tmp_path, files).path == "bold.ipynb"


def test_most_non_empty_code_cells_then_depth_then_alphabet(tmp_path):
    files = write(
        tmp_path,
        {"b.ipynb": nb("x", "y", "  ", markdown=5), "a.ipynb": nb("x"), "c.ipynb": nb("x", "", "")},
    )
    choice = choose_main_file(tmp_path, files)
    assert choice.path == "b.ipynb"
    assert "it has the most non-empty code cells (2, the next has 1)" in choice.reason

    files = write(tmp_path / "d", {"sub/z.ipynb": nb("x"), "y.ipynb": nb("x")})
    assert choose_main_file(tmp_path / "d", files).path == "y.ipynb"

    files = write(tmp_path / "e", {"Zeta.ipynb": nb("x"), "alpha.ipynb": nb("x")})
    choice = choose_main_file(tmp_path / "e", files)
    assert choice.path == "alpha.ipynb"
    assert "tie on every other rule and it comes first in alphabetical order" in choice.reason


def test_broken_notebook_ranks_last_but_does_not_crash(tmp_path):
    files = write(tmp_path, {"a.ipynb": "{not json", "b.ipynb": nb("x")})
    assert choose_main_file(tmp_path, files).path == "b.ipynb"


def test_several_scripts_are_ranked_by_lines_of_code(tmp_path):
    files = write(tmp_path, {"a.py": "# only a comment\n", "b.py": "import torch\nx = 1\n"})
    choice = choose_main_file(tmp_path, files)
    assert choice.path == "b.py"
    assert "2 scripts were found" in choice.reason and "lines of code (2, the next has 0)" in choice.reason
    assert [f.code for f in choice.flags] == ["several_notebooks"]


def test_a_script_that_another_script_imports_is_a_helper_not_the_hand_in(tmp_path):
    """More code and a hand-in word do not make an imported module the main file."""
    files = write(tmp_path, {
        "kl_solution_utils.py": "import numpy as np\n" + "x = 1\n" * 20,
        "work.py": "from kl_solution_utils import x\nimport numpy\ny = x\n",
    })
    choice = choose_main_file(tmp_path, files)
    assert choice.path == "work.py" and choice.flags == ()  # nothing ambiguous: no flag for the tutors
    assert choice.reason == ("There is no notebook in the hand-in; 'work.py' was graded, and it imports "
                             "'kl_solution_utils.py'.")
    write(tmp_path, {"other.py": "z = 2\n"})  # an unrelated second script: the rule decides, and it is flagged
    choice = choose_main_file(tmp_path, [*files, "other.py"])
    assert choice.path == "work.py" and [f.code for f in choice.flags] == ["several_notebooks"]


def test_a_script_imported_through_its_package_counts_as_a_helper(tmp_path):
    files = write(tmp_path, {"main_part.py": "from .tools import f\n", "tools.py": "def f(): pass\n" * 3})
    assert choose_main_file(tmp_path, files).path == "main_part.py"

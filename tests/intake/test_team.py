import nbformat
import pytest

from grader.intake.flags import Flag
from grader.intake.naming import Student
from grader.intake.team import TeamMember, compare_team, names_match, parse_team_text, read_team_info

LENA = TeamMember("Lena Strüber", "7012345", "lena.strueber@uni.example")
DENIZ = TeamMember("Deniz Çelik", "7034567", "deniz.celik@uni.example")
JONAS = TeamMember("Jonas Müller-Lüdenscheidt", "7023456", "jonas@uni.example")


def write_notebook(path, markdown: list[str] = (), code: list[str] = ()):
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_markdown_cell(m) for m in markdown] + [nbformat.v4.new_code_cell(c) for c in code]
    nbformat.write(book, str(path))
    return path


def test_notebook_markdown_cell_in_the_sheets_layout(tmp_path):
    path = write_notebook(
        tmp_path / "sheet11.ipynb",
        markdown=[
            "# Exercise 11.3\n"
            "**Name:** Lena Strüber  \n**Student ID (matriculation number):** 7012345  \n"
            "**Email:** lena.strueber@uni.example\n\n"
            "**Name:** Deniz Çelik  \n**Student ID (matriculation number):** 7034567  \n"
            "**Email:** deniz.celik@uni.example\n",
            "## Task 1\nName the model: an LSTM with hidden size 10.",
        ],
        code=["import torch\nname = 'lstm'\nprint(name)"],
    )
    assert read_team_info(path) == [LENA, DENIZ]


def test_notebook_markdown_table(tmp_path):
    path = write_notebook(
        tmp_path / "nb.ipynb",
        markdown=[
            "Team:\n\n| Name | Matrikelnummer | E-Mail |\n|:---|---:|---|\n"
            "| Lena Strüber | 7012345 | lena.strueber@uni.example |\n"
            "| Jonas Müller-Lüdenscheidt | 7023456 | jonas@uni.example |\n"
            "| Deniz Çelik | 7034567 | deniz.celik@uni.example |\n\nSome text | with a pipe."
        ],
    )
    assert read_team_info(path) == [LENA, JONAS, DENIZ]


def test_notebook_code_cell_comments_and_string_assignments(tmp_path):
    path = write_notebook(
        tmp_path / "nb.ipynb",
        code=[
            "# Name: Lena Strüber, Student ID: 7012345, Email: lena.strueber@uni.example\n"
            "NAME_2 = 'Deniz Çelik'\nSTUDENT_ID_2 = '7034567'\nEMAIL_2 = \"deniz.celik@uni.example\"\n"
            "model_name = 'gru'  # not a person\n",
            "%matplotlib inline\nx = {'name': 'foo'",  # magic and broken code: comments still read
        ],
    )
    assert read_team_info(path) == [LENA, DENIZ]


def test_script_docstring_and_comments(tmp_path):
    path = tmp_path / "rnn.py"
    path.write_text(
        '"""Sheet 11, practical part.\n\n'
        "Name: Lena Strüber | Matr.-Nr.: 7012345 | E-Mail: lena.strueber@uni.example\n"
        '"""\n'
        "# Name: Jonas Müller-Lüdenscheidt; Matriculation number: 7023456; Email: jonas@uni.example\n"
        "import torch\n"
        "def f(name='x'):\n    return name\n",
        encoding="utf-8",
    )
    assert read_team_info(path) == [LENA, JONAS]


def test_template_with_answers_on_the_next_line(tmp_path):
    path = tmp_path / "answers.md"
    path.write_text(
        "Name:\n\nLena Strüber\n\nStudent ID (matriculation number):\n\n7012345\n\nEmail:\n\n"
        "lena.strueber@uni.example\n"
    )
    assert read_team_info(path) == [LENA]


def test_name_id_email_on_one_line(tmp_path):
    path = tmp_path / "team.txt"
    path.write_text(
        "Our team\nLena Strüber, 7012345, lena.strueber@uni.example\n"
        "Deniz Çelik <deniz.celik@uni.example> (7034567)\n"
        "See Hochreiter, 1997 and Graves (2013).\n"
    )
    assert read_team_info(path) == [LENA, DENIZ]


def test_values_side_by_side():
    text = (
        "Names: Lena Strüber, Deniz Çelik\n"
        "Student IDs: 7012345, 7034567\n"
        "Emails: lena.strueber@uni.example, deniz.celik@uni.example\n"
    )
    assert parse_team_text(text) == [LENA, DENIZ]


def test_placeholders_of_the_template_are_not_members():
    assert parse_team_text("Name: <your name>\nStudent ID: \nEmail: <your email>\nName: ...\n") == []


def test_partial_members_and_repeats_merge():
    text = "Name: Lena Strüber\nStudent ID: 7012345\n\n...\n# Email: lena.strueber@uni.example, ID: 7012345"
    assert parse_team_text(text) == [LENA]


def test_unreadable_files_name_the_file(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{ not a notebook")
    with pytest.raises(ValueError, match="broken.ipynb.*not a valid notebook"):
        read_team_info(broken)
    with pytest.raises(ValueError, match="only .ipynb, .py, .md and .txt"):
        read_team_info(tmp_path / "x.pdf")


@pytest.mark.parametrize(
    "a, b",
    [
        ("Müller", "Jonas Müller-Lüdenscheidt"),
        ("Mueller", "Müller"),
        ("Muller", "Müller"),
        ("Celik", "Deniz Çelik"),
        ("Strüber Lena", "lena strüber"),
        ("Strueber", "Lena STRÜBER"),
    ],
)
def test_names_match_tolerantly(a, b):
    assert names_match(a, b) and names_match(b, a)


@pytest.mark.parametrize("a, b", [("Müller", "Möller"), ("Lena Strüber", "Lena Weber"), ("", "Lena")])
def test_different_names_do_not_match(a, b):
    assert not names_match(a, b)


def test_compare_team_accepts_matching_team():
    students = [Student("Strueber", "7012345"), Student("Çelik", "7034567")]
    assert compare_team(students, [DENIZ, LENA], "'nb.ipynb'") == []


def test_compare_team_flags_every_difference():
    students = [Student("Strüber", "7012345"), Student("Weber", "7034567"), Student("Ong", "7099999")]
    declared = [LENA, DENIZ, TeamMember("Kim Ong", "7088888", None), TeamMember("Bo Li", "7077777", "bo@x.example")]
    assert compare_team(students, declared, "'nb.ipynb'") == [
        Flag("team_mismatch", "student id 7034567 is 'Weber' in the file name but 'Deniz Çelik' in 'nb.ipynb'"),
        Flag("team_mismatch", "'Ong' has student id 7099999 in the file name but 7088888 in 'nb.ipynb'"),
        Flag("team_mismatch", "'Bo Li' (7077777) is listed in 'nb.ipynb' but not in the file name"),
        Flag("team_mismatch", "no email is given for 'Kim Ong' in 'nb.ipynb'"),
    ]


def test_compare_team_flags_a_member_missing_from_the_hand_in():
    flags = compare_team([Student("Strüber", "7012345"), Student("Weber", None)], [LENA])
    assert flags == [Flag("team_mismatch", "'Weber' is named in the file name but not in the hand-in")]


def test_compare_team_without_declared_team():
    assert compare_team([Student("Strüber", "7012345")], [], "'rnn.py'") == [
        Flag("team_mismatch", "no team information (name, student id, email) was found in 'rnn.py'")
    ]


def test_big_notebook_with_image_outputs_is_read_whole(tmp_path):
    book = nbformat.v4.new_notebook()
    plot = nbformat.v4.new_code_cell("plot()")
    plot.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBOR" + "A" * 3_000_000})]
    book.cells = [plot, nbformat.v4.new_markdown_cell("Name: Lena Strüber\nStudent ID: 7012345\nEmail: lena.strueber@uni.example")]
    nbformat.write(book, str(tmp_path / "big.ipynb"))
    assert (tmp_path / "big.ipynb").stat().st_size > 2_000_000
    assert read_team_info(tmp_path / "big.ipynb") == [LENA]


def test_numbered_keys_and_id_and_email_after_the_name():
    text = (
        "1. Name 1: Lena Strüber\n   Matrikelnummer 1: 7012345\n   E-Mail 1: lena.strueber@uni.example\n"
        "* **Name**: Deniz Çelik (7034567), deniz.celik@uni.example\n"
    )
    assert parse_team_text(text) == [LENA, DENIZ]

"""Issue 19 item 1: a team member is a name with a student id or e-mail inside a block that says it lists the
team; everything else is ignored, and what a team block says doubtfully is a doubt (a flag), never a member."""

from __future__ import annotations

import nbformat
import pytest

from grader.intake.team import TeamMember, parse_team_blocks, read_team, read_team_info

LENA = TeamMember("Lena Strüber", "7012345", "lena.strueber@uni.example")
DENIZ = TeamMember("Deniz Çelik", "7034567", "deniz.celik@uni.example")


def otter_notebook(path, questions: int = 26, team: str | None = None):
    """A notebook laid out as Otter-Grader writes its assignments: raw BEGIN/END QUESTION cells with
    `name:` and `points:` lines around every question."""
    book = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_markdown_cell("# Homework 3\nInitialize Otter first.")]
    if team is not None:
        cells.append(nbformat.v4.new_markdown_cell(team))
    cells.append(nbformat.v4.new_code_cell("import otter\ngrader = otter.Notebook()"))
    for number in range(1, questions + 1):
        cells += [nbformat.v4.new_raw_cell(f"# BEGIN QUESTION\nname: q{number}\npoints: 2\nmanual: false"),
                  nbformat.v4.new_markdown_cell(f"**Question {number}.** Name the function that does it."),
                  nbformat.v4.new_code_cell(f"# name: answer {number}\nanswer_{number} = ...  # SOLUTION"),
                  nbformat.v4.new_raw_cell("# BEGIN TESTS"),
                  nbformat.v4.new_code_cell(f"assert answer_{number} is not None"),
                  nbformat.v4.new_raw_cell("# END TESTS\n# END QUESTION")]
    book.cells = cells
    nbformat.write(book, str(path))
    return path


def test_otter_question_cells_add_no_one(tmp_path):
    reading = read_team(otter_notebook(tmp_path / "hw03.ipynb"))
    assert reading.members == [] and reading.doubts == []


def test_otter_notebook_with_a_team_cell_yields_exactly_the_team(tmp_path):
    team = ("## Team members\n| Name | Student ID | Email |\n|---|---|---|\n"
            "| Lena Strüber | 7012345 | lena.strueber@uni.example |\n"
            "| Deniz Çelik | 7034567 | deniz.celik@uni.example |\n")
    reading = read_team(otter_notebook(tmp_path / "hw03.ipynb", team=team))
    assert reading.members == [LENA, DENIZ] and reading.doubts == []


def test_key_value_lines_outside_a_team_block_are_ignored():
    blocks = ["Name: q1\npoints: 2", "Name the model: an LSTM", "name = 'resnet'  # the model's name",
              "Author: Hochreiter, 1997 (LSTM paper)"]
    reading = parse_team_blocks(blocks)
    assert reading.members == [] and reading.doubts == []


def test_a_heading_alone_in_its_cell_opens_the_next_block():
    reading = parse_team_blocks(["## Our group", "Lena Strüber, 7012345, lena.strueber@uni.example"])
    assert reading.members == [TeamMember("Lena Strüber", "7012345", "lena.strueber@uni.example")]


def test_one_line_records_need_a_block_that_says_it_lists_the_team():
    line = "Lena Strüber, 7012345, lena.strueber@uni.example"
    assert parse_team_blocks([f"# Results\n{line}"]).members == []
    assert parse_team_blocks([f"# Authors\n{line}"]).members == [LENA]


def test_doubtful_reads_are_doubts_never_members():
    text = ("## Team\n"
            "Name: Lena Strüber\nStudent ID: 7012345\nEmail: lena.strueber@uni.example\n\n"
            "Name: Mallory <script>alert(1)</script>\nStudent ID: 7099999\n\n"
            "Name: Jonas Weber\n"
            "Name: Kim Ong\nStudent ID: none given\n"
            "## Team, continued\nStudent ID: 7055555\n")
    reading = parse_team_blocks([text])
    assert reading.members == [LENA]
    doubts = " | ".join(reading.doubts)
    assert "does not look like a person's name" in doubts and "Mallory" in doubts
    assert "'Jonas Weber' is listed without a student id or e-mail" in doubts
    assert "student id 7055555 is listed without a name" in doubts
    assert "'none given' given as the student id of 'Kim Ong' has no digits" in doubts
    assert len(reading.doubts) == 5  # the <script> "name" is cut at its slash into two doubtful pieces


def test_a_name_with_an_email_only_is_a_member_and_the_code_cells_team_is_found(tmp_path):
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell("# Team\n# Lena Strüber <lena.strueber@uni.example>\nimport numpy")]
    nbformat.write(book, str(tmp_path / "nb.ipynb"))
    assert read_team_info(tmp_path / "nb.ipynb") == [TeamMember("Lena Strüber", None, "lena.strueber@uni.example")]


def test_a_file_named_for_the_team_says_so_by_its_name(tmp_path):
    line = "Lena Strüber, 7012345, lena.strueber@uni.example\n"
    (tmp_path / "team.txt").write_text(line, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(line, encoding="utf-8")
    assert read_team_info(tmp_path / "team.txt") == [LENA]
    assert read_team_info(tmp_path / "notes.txt") == []


LENA_ID, DENIZ_ID = TeamMember("Lena Strüber", "7012345", None), TeamMember("Deniz Çelik", "7034567", None)


@pytest.mark.parametrize("line", [
    "Team: Lena Strüber (7012345), Deniz Çelik (7034567)",
    "Authors: Lena Strüber 7012345 and Deniz Çelik 7034567",
    "Gruppe = Lena Strüber 7012345; Deniz Çelik 7034567",
    "Submitted by Lena Strüber (7012345) & Deniz Çelik (7034567)",
    "Group members (name, id): Lena Strüber - 7012345 / Deniz Çelik - 7034567",
])
def test_several_members_on_one_line_after_a_team_key(line):
    assert parse_team_blocks([line]).members == [LENA_ID, DENIZ_ID]


def test_several_members_on_one_line_keep_their_own_emails():
    line = "Team: Lena Strüber (7012345, lena.strueber@uni.example), Deniz Çelik (deniz.celik@uni.example, 7034567)"
    assert parse_team_blocks([line]).members == [LENA, DENIZ]


@pytest.mark.parametrize("line", [
    "Team: Lena Strüber, Deniz Çelik",  # no ids: names alone are not members
    "Team: 7012345 Lena Strüber, Deniz Çelik 7034567",  # an id before the first of several names: whose is it?
    "Team: Lena Strüber (7012345, 7012346), Deniz Çelik (7034567)",  # two ids for one member
    "Team: see Hochreiter, 1997 and Graves (2013).",  # a citation in a team block
])
def test_a_line_that_is_not_clean_records_gives_no_members(line):
    assert parse_team_blocks([line]).members == []


def test_a_script_declares_its_team_in_a_comment_line(tmp_path):
    script = tmp_path / "solution.py"
    script.write_text("# Team: Lena Strüber (7012345), Deniz Çelik (7034567)\n# %%\nimport torch\n", encoding="utf-8")
    assert read_team(script).members == [LENA_ID, DENIZ_ID]

"""Who gets a gradebook row: the file name's students, completed from the team the hand-in declares."""

from __future__ import annotations

from grader.store.layout import BATCH_FILES, assign_folders
from grader.intake.team import reconcile_team
from grader.intake.naming import NamingRule, parse_submission_name
from grader.intake.team import TeamMember

DIGITS = NamingRule().id_pattern


def students(file_name, declared):
    return [(s.student_id, s.name, s.email, s.source)
            for s in reconcile_team(parse_submission_name(file_name).students, declared, DIGITS)]


def test_named_students_take_full_names_and_emails_from_the_declared_team():
    declared = [TeamMember("Jürgen Müller-Lüdenscheidt", "2301002", "jm@example.org"),
                TeamMember("Erika Mustermann", None, "em@example.org")]
    assert students("Mustermann_2301001_Müller-Lüdenscheidt_2301002.zip", declared) == [
        ("2301001", "Erika Mustermann", "em@example.org", "file name and hand-in"),  # paired by name
        ("2301002", "Jürgen Müller-Lüdenscheidt", "jm@example.org", "file name and hand-in"),  # paired by id
    ]


def test_declared_members_missing_from_the_file_name_still_get_a_row():
    declared = [TeamMember("Ayşe Çelik", "2301003", "ac@example.org"),
                TeamMember("Petr Novák", "2301004", "pn@example.org")]
    assert students("Çelik_2301003.zip", declared) == [
        ("2301003", "Ayşe Çelik", "ac@example.org", "file name and hand-in"),
        ("2301004", "Petr Novák", "pn@example.org", "hand-in only"),
    ]


def test_a_malformed_file_name_id_gives_way_to_the_declared_one():
    declared = [TeamMember("Lena Weber", "2301006", "lw@example.org")]
    assert students("Lena_Weber_sheet11.ipynb", declared) == [
        ("2301006", "Lena Weber", "lw@example.org", "file name and hand-in")]
    assert students("Weber_2301099.zip", declared)[0][0] == "2301099"  # a well-formed id stays (and is flagged)


def test_without_a_declared_team_the_file_name_is_all_there_is():
    assert students("Weber_2301006_Yılmaz_2301007.zip", []) == [
        ("2301006", "Weber", None, "file name"), ("2301007", "Yılmaz", None, "file name")]


def test_hand_ins_whose_folders_would_collide_get_folders_of_their_own_and_a_flag():
    # Issue 13 changed this: "X.zip" beside "X.ZIP" used to refuse the whole batch.
    moved = assign_folders(["Berg_2302001.zip", "Berg_2302001.ZIP", "gradebook.db.zip", "Summary.HTML.zip",
                            "Berg_2302001__2.zip", "Lund_2302002.zip"], reserved=BATCH_FILES)
    assert {name: folder for name, (folder, _) in moved.items()} == {
        "Berg_2302001.zip": "Berg_2302001__2", "Berg_2302001__2.zip": "Berg_2302001__2__2",
        "Summary.HTML.zip": "Summary.HTML__2", "gradebook.db.zip": "gradebook.db__2"}
    assert "the hand-in 'Berg_2302001.ZIP' already takes" in moved["Berg_2302001.zip"][1]
    assert "the batch's own file 'gradebook.db'" in moved["gradebook.db.zip"][1]

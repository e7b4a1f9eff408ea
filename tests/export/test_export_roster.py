"""The roster: the course system's participant list matched against the hand-ins' students."""

from __future__ import annotations

import unicodedata

import pytest

from grader.commands.export import ExportError, export_grades
from grader.commands.export.identity import normalise_student_id
from grader.commands.export.roster import RosterError, read_roster
from tests.conftest import REPO
from tests.export.conftest import hand_in, made_up_out, read_back, write_csv

MOODLE_HEADER = ["First name", "Last name", "ID number", "Email address"]


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


@pytest.fixture
def out(tmp_path):
    """Three hand-ins: ids without leading zeros, a name with umlauts, a student the roster does not list."""
    return made_up_out(tmp_path / "out", [
        hand_in("Berg_2302001_Demir_2302002.zip", [("2302001", "Hanna Berg", "hanna.berg@example.org"),
                                                  ("2302002", "Yusuf Demir", "yusuf.demir@example.org")], auto=3),
        hand_in("Müller_2302003_Strauß.zip", [("2302003", "Jürgen Müller", None), (None, "Lena Strauß", None)],
                auto=4, late_factor=0.5),
        hand_in("Unknown_2309999.zip", [("2309999", "Nora Unbekannt", None)], auto=1),
    ])


def moodle_roster(path):
    return write_csv(path, [MOODLE_HEADER,
                            ["Hanna", "Berg", "02302001", "HANNA.BERG@EXAMPLE.ORG"],  # leading zero, upper case
                            ["Yusuf", "Demir", "", "Yusuf.Demir@example.org"],  # no id: found by e-mail
                            [nfd("Jürgen"), "MUELLER", "", ""],  # NFD, umlaut spelled out, upper case
                            ["Lena", "Strauss", "", ""],  # ß written ss
                            ["Zoë", "Ångström", "2302010", "zoe@example.org"]])  # no hand-in


def test_moodle_roster_matches_ids_emails_and_names_and_keeps_what_moodle_stores(out, tmp_path):
    summary = export_grades(out, tmp_path / "m.csv", fmt="moodle", course=REPO, assignment="Blatt 2",
                            roster=moodle_roster(tmp_path / "participants.csv"))
    rows = read_back(tmp_path / "m.csv")
    # More roster rows have an e-mail than an ID number, so the e-mail identifies; it is written exactly as
    # Moodle has it (its import compares it as it is), in roster order.
    assert rows[0] == ["First name", "Last name", "Email address", "Blatt 2 (Real)", "Blatt 2 (Feedback)"]
    assert [row[:4] for row in rows[1:]] == [["Hanna", "Berg", "HANNA.BERG@EXAMPLE.ORG", "4"],  # 3 + 1 (tutor)
                                             ["Yusuf", "Demir", "Yusuf.Demir@example.org", "4"],
                                             ["Zoë", "Ångström", "zoe@example.org", ""]]  # no hand-in: empty
    assert rows[3][4] == "No hand-in for RGANN sheet 02: LSTMs, regularisation, VAEs, GANs."
    # Jürgen and Lena have no e-mail on this roster: Moodle could not find them (an empty cell would even give
    # their points to the row above), so they are left out with a warning.
    assert [w for w in summary.warnings if "Moodle could not find" in w] == [
        f"{nfd('Jürgen')} MUELLER: no email address, Moodle could not find the student: not exported",
        "Lena Strauss: no email address, Moodle could not find the student: not exported"]
    unknown = [w for w in summary.warnings if "not on the roster" in w]
    assert unknown == ["2309999 'Nora Unbekannt' (hand-in Unknown_2309999.zip) is not on the roster: not exported"]
    assert summary.roster_kind == "moodle" and summary.without_hand_in == 1 and summary.rows == 3


def test_with_a_roster_only_moodles_own_values_identify(out, tmp_path):
    """A participants download without ID numbers: the e-mail identifies, never an id from a file name."""
    roster = write_csv(tmp_path / "r.csv", [["First name", "Last name", "Email address"],
                                            ["Hanna", "Berg", "hanna.berg@example.org"],
                                            ["Jürgen", "Müller", "jm@example.org"]])
    export_grades(out, tmp_path / "m.csv", fmt="moodle", course=REPO, roster=roster)
    assert [row[:4] for row in read_back(tmp_path / "m.csv")] == [
        ["First name", "Last name", "Email address", "RGANN sheet 02: LSTMs, regularisation, VAEs, GANs (Real)"],
        ["Hanna", "Berg", "hanna.berg@example.org", "4"], ["Jürgen", "Müller", "jm@example.org", "2.5"]]


def test_names_match_across_case_umlauts_sharp_s_and_nfd(out, tmp_path):
    export_grades(out, tmp_path / "p.csv", fmt="csv", course=REPO, roster=moodle_roster(tmp_path / "r.csv"))
    rows = {row[1]: row for row in read_back(tmp_path / "p.csv")[1:]}
    assert rows["Jürgen MUELLER"][4] == "2.5"  # (4 + 1) x 0.5, found by name (written in NFC)
    assert rows["Lena Strauss"][4] == "2.5" and rows["Lena Strauss"][3] == "Müller_2302003_Strauß.zip"
    assert rows["Zoë Ångström"][4] == "" and rows["Zoë Ångström"][8] == "no hand-in"


def test_missing_students_get_zero_when_asked(out, tmp_path):
    summary = export_grades(out, tmp_path / "c.csv", fmt="canvas", course=REPO, missing="zero",
                            roster=moodle_roster(tmp_path / "r.csv"))
    rows = {row[0]: row for row in read_back(tmp_path / "c.csv")[2:]}
    assert rows["Zoë Ångström"][5] == "0" and rows["Hanna Berg"][5] == "4"
    assert summary.without_hand_in == 1
    with pytest.raises(ExportError, match="--missing 'maybe'"):
        export_grades(out, tmp_path / "x.csv", fmt="csv", course=REPO, missing="maybe")


def test_a_student_in_two_hand_ins_is_an_error_naming_both(tmp_path):
    out = made_up_out(tmp_path / "out", [hand_in("A_02302001.zip", [("02302001", "Hanna Berg", None)]),
                                         hand_in("Berg_Demir.zip", [("2302001", "Hanna Berg", None),
                                                                    ("2302002", "Yusuf Demir", None)])])
    with pytest.raises(ExportError) as error:
        export_grades(out, tmp_path / "x.csv", fmt="csv", course=REPO)
    assert "student id 2302001 (Hanna Berg) is in 2 hand-ins: A_02302001.zip and Berg_Demir.zip" in str(error.value)
    assert "--exclude" in str(error.value) and not (tmp_path / "x.csv").exists()
    export_grades(out, tmp_path / "x.csv", fmt="csv", course=REPO, exclude=["A_02302001.zip"])
    assert [row[3] for row in read_back(tmp_path / "x.csv")[1:]] == ["Berg_Demir.zip"] * 2
    with pytest.raises(ExportError, match="no hand-in named Nope.zip"):
        export_grades(out, tmp_path / "x.csv", fmt="csv", course=REPO, exclude=["Nope.zip"])


def test_the_same_roster_student_found_by_name_in_two_hand_ins_is_an_error(tmp_path):
    out = made_up_out(tmp_path / "out", [hand_in("Strauß.zip", [(None, "Lena Strauß", None)]),
                                         hand_in("Strauss_Team.zip", [(None, "lena strauss", None)])])
    roster = write_csv(tmp_path / "r.csv", [["student_id", "name", "email"], ["2302020", "Lena Strauss", ""]])
    with pytest.raises(ExportError) as error:
        export_grades(out, tmp_path / "x.csv", fmt="csv", course=REPO, roster=roster)
    assert "'Lena Strauss' (2302020) (roster line 2) is in 2 hand-ins: Strauss_Team.zip and Strauß.zip" \
        in str(error.value)


def test_the_same_email_in_two_hand_ins_is_an_error(tmp_path):
    out = made_up_out(tmp_path / "out", [hand_in("A.zip", [(None, "Hanna Berg", "hanna@example.org")]),
                                         hand_in("B.zip", [(None, "H. Berg", "HANNA@example.org ")])])
    with pytest.raises(ExportError, match="e-mail hanna@example.org .* is in 2 hand-ins: A.zip and B.zip"):
        export_grades(out, tmp_path / "x.csv", fmt="csv", course=REPO)


def test_an_ambiguous_name_is_not_guessed(tmp_path):
    out = made_up_out(tmp_path / "out", [hand_in("Weber.zip", [(None, "Weber", None)])])
    roster = write_csv(tmp_path / "r.csv", [["name"], ["Max Weber"], ["Lena Weber"]])
    summary = export_grades(out, tmp_path / "x.csv", fmt="csv", course=REPO, roster=roster)
    assert summary.warnings == ["'Weber' (hand-in Weber.zip) fits several roster rows (lines 2, 3): not exported; "
                                "give the student id in the hand-in or the roster"]
    assert [row[4] for row in read_back(tmp_path / "x.csv")[1:]] == ["", ""]


def test_a_match_by_part_of_the_name_is_pointed_out(tmp_path):
    out = made_up_out(tmp_path / "out", [hand_in("Weber_2302030.zip", [("2302030", "Weber", None)])])
    roster = write_csv(tmp_path / "r.csv", [["usr_id", "login", "lastname", "firstname"],
                                            ["6199", "lweber", "Weber", "Lena"], ["6200", "mberg", "Berg", "Max"]])
    summary = export_grades(out, tmp_path / "x.csv", fmt="ilias", course=REPO, roster=roster)
    assert "2302030 'Weber' (hand-in Weber_2302030.zip) taken to be 'Lena Weber' (roster line 2): only part of the " \
           "name matches (no id or e-mail to compare), check it" in summary.warnings
    assert read_back(tmp_path / "x.csv")[1][:7] == ["1", "6199", "lweber", "Weber", "Lena", "notgraded", "4"]


def test_an_id_on_the_roster_is_never_overruled_by_a_name(tmp_path):
    out = made_up_out(tmp_path / "out", [hand_in("Berg_2302099.zip", [("2302099", "Hanna Berg", None)])])
    roster = write_csv(tmp_path / "r.csv", [["name", "matrikelnummer"], ["Hanna Berg", "2302001"]])
    summary = export_grades(out, tmp_path / "x.csv", fmt="csv", course=REPO, roster=roster)
    assert "2302099 'Hanna Berg' (hand-in Berg_2302099.zip) is not on the roster: not exported" in summary.warnings


def test_canvas_gradebook_export_as_roster(out, tmp_path):
    roster = write_csv(tmp_path / "canvas-export.csv", [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Blatt 1 (811)", "Current Score"],
        ["    Points Possible", "", "", "", "", "10", "(read only)"],
        ["Berg, Hanna", "4711", "02302001", "hberg", "Übung A", "8", "80"],
        ["Demir, Yusuf", "4712", "2302002", "ydemir", "Übung B", "", ""],
        ["Student, Test", "4799", "", "", "Übung A", "", ""]])
    summary = export_grades(out, tmp_path / "c.csv", fmt="canvas", course=REPO, assignment="Blatt 2 (812)",
                            roster=roster)
    rows = read_back(tmp_path / "c.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Blatt 2 (812)"]
    assert rows[1:] == [["Points Possible", "", "", "", "", "18"],
                        ["Berg, Hanna", "4711", "02302001", "hberg", "Übung A", "4"],
                        ["Demir, Yusuf", "4712", "2302002", "ydemir", "Übung B", "4"],
                        ["Student, Test", "4799", "", "", "Übung A", ""]]
    assert summary.roster_kind == "canvas"


def test_ilias_status_file_as_roster_is_written_back_with_its_ids_and_tutor_fields(out, tmp_path):
    header = ["update", "usr_id", "login", "lastname", "firstname", "status", "mark", "notice", "comment",
              "plagiarism", "plag_comment"]
    roster = write_csv(tmp_path / "status.csv", [
        header,
        ["0", "311", "hberg", "Berg", "Hanna", "notgraded", "", "checked by Kim", "", "suspicion", "like team 4"],
        ["0", "312", "ydemir", "Demir", "Yusuf", "passed", "", "", "", "", ""],
        ["0", "313", "zoe", "Ångström", "Zoë", "notgraded", "", "", "", "", ""]], delimiter=";")
    export_grades(out, tmp_path / "s.csv", fmt="ilias", course=REPO, roster=roster)
    rows = [dict(zip(header, row)) for row in read_back(tmp_path / "s.csv")[1:]]
    assert [(r["update"], r["usr_id"], r["login"], r["lastname"], r["firstname"], r["status"], r["mark"])
            for r in rows] == [("1", "311", "hberg", "Berg", "Hanna", "notgraded", "4"),
                               ("1", "312", "ydemir", "Demir", "Yusuf", "passed", "4"),
                               ("0", "313", "zoe", "Ångström", "Zoë", "notgraded", "")]
    assert (rows[0]["notice"], rows[0]["plagiarism"], rows[0]["plag_comment"]) == ("checked by Kim", "suspicion",
                                                                                    "like team 4")
    assert rows[1]["notice"] == "grader: Berg_2302001_Demir_2302002.zip"
    export_grades(out, tmp_path / "s.csv", fmt="ilias", course=REPO, roster=roster, missing="zero", pass_points=4)
    rows = [dict(zip(header, row)) for row in read_back(tmp_path / "s.csv")[1:]]
    assert [(r["update"], r["status"], r["mark"]) for r in rows] == [("1", "passed", "4"), ("1", "passed", "4"),
                                                                      ("1", "failed", "0")]


def test_a_generic_roster_with_semicolons_and_german_headers(out, tmp_path):
    roster = write_csv(tmp_path / "r.csv", [["Matrikelnummer", "Vorname", "Nachname", "E-Mail"],
                                            ["2302001", "Hanna", "Berg", ""], ["2309999", "Nora", "Unbekannt", ""]],
                       delimiter=";")
    summary = export_grades(out, tmp_path / "m.csv", fmt="moodle", course=REPO, roster=roster)
    assert [row[:4] for row in read_back(tmp_path / "m.csv")[1:]] == [["Hanna", "Berg", "2302001", "4"],
                                                                       ["Nora", "Unbekannt", "2309999", "2"]]
    assert summary.roster_kind == "generic"


@pytest.mark.parametrize("content, problem", [
    ("Name,Matrikelnummer\nMüller,2302001\n".encode("latin-1"), "not UTF-8"),
    (b"Punkte,Bemerkung\n3,gut\n", "no column names a student"),
    (b"", "the roster is empty"),
    (b"student_id,name\n02302001,Hanna\n2302001,Hanna B.\n", "lines 2 and 3 have the same student id"),
])
def test_a_bad_roster_is_refused_with_the_file_and_the_problem(out, tmp_path, content, problem):
    path = tmp_path / "roster.csv"
    path.write_bytes(content)
    with pytest.raises(RosterError, match=problem):
        read_roster(path)
    with pytest.raises(ExportError, match=f"roster.csv: .*{problem}"):
        export_grades(out, tmp_path / "x.csv", fmt="csv", course=REPO, roster=path)
    assert not (tmp_path / "x.csv").exists()


def test_cells_a_spreadsheet_would_run_are_guarded(tmp_path):
    out = made_up_out(tmp_path / "out", [hand_in("x.zip", [("2302001", "=HYPERLINK(\"http://evil\")", "@x.org"),
                                                           ("2302002", "Tab\tin\nname", "-1+1@x.org")])])
    export_grades(out, tmp_path / "p.csv", fmt="csv", course=REPO, allow_pending=True)
    rows = read_back(tmp_path / "p.csv")[1:]
    assert rows[0][1] == "'=HYPERLINK(\"http://evil\")" and rows[0][2] == "'@x.org"
    assert rows[1][1] == "Tab in name" and rows[1][2] == "'-1+1@x.org"


@pytest.mark.parametrize("raw, normal", [("02301002", "2301002"), (" 2301 002 ", "2301002"), ("AB12", "ab12"),
                                         ("００１２", "12"), ("0", None), ("", None), (None, None)])
def test_student_ids_are_normalised_in_one_place(raw, normal):
    assert normalise_student_id(raw) == normal

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from grader.intake.flags import Flag
from grader.intake.naming import NamingRule, Student, find_duplicate_students, parse_submission_name


def codes(parsed) -> list[str]:
    return [flag.code for flag in parsed.problems]


def test_names_with_umlauts_accents_hyphens_and_spaces_parse_cleanly():
    parsed = parse_submission_name("Lena Strüber_7012345_Jonas Müller-Lüdenscheidt_7023456_Deniz Çelik_7034567.zip")
    assert parsed.students == (
        Student("Lena Strüber", "7012345"),
        Student("Jonas Müller-Lüdenscheidt", "7023456"),
        Student("Deniz Çelik", "7034567"),
    )
    assert parsed.problems == ()
    assert parsed.extension == ".zip"


@pytest.mark.parametrize("ending", [".ZIP", ".Zip", ".ipynb", ".IPYNB", ".py"])
def test_allowed_endings_in_any_case(ending):
    parsed = parse_submission_name(f"Strüber_111_Çelik_222{ending}")
    assert parsed.problems == ()
    assert parsed.extension == ending.lower()
    assert [s.student_id for s in parsed.students] == ["111", "222"]


def test_directory_part_of_a_path_is_not_part_of_the_name():
    assert parse_submission_name("/data/hand-ins/Strüber_111_Çelik_222.zip").students[0] == Student("Strüber", "111")
    assert parse_submission_name("C:\\hand-ins\\Strüber_111_Çelik_222.zip").students[1] == Student("Çelik", "222")


def test_one_student_is_flagged_as_team_size():
    parsed = parse_submission_name("Strüber_7012345.zip")
    assert parsed.problems == (Flag("team_size", "1 student named, the rule allows 2–3"),)
    assert parsed.students == (Student("Strüber", "7012345"),)


def test_four_students_are_flagged_with_the_exact_count():
    parsed = parse_submission_name("Aa_1_Bb_2_Cc_3_Dd_4.zip")
    assert parsed.problems == (Flag("team_size", "4 students named, the rule allows 2–3"),)
    assert len(parsed.students) == 4


def test_missing_id_at_the_end_names_the_student():
    parsed = parse_submission_name("Müller_111_Schmidt.zip")
    assert parsed.problems == (Flag("naming", "no student id after 'Schmidt'"),)
    assert parsed.students == (Student("Müller", "111"), Student("Schmidt", None))


def test_missing_id_in_the_middle_reads_the_names_as_one_and_says_so():
    parsed = parse_submission_name("Müller_Schmidt_222_Weber_333.zip")
    assert parsed.problems == (
        Flag("naming", "no student id after 'Müller'; 'Müller_Schmidt' is read as one student, 'Müller Schmidt'"),
    )
    assert parsed.students == (Student("Müller Schmidt", "222"), Student("Weber", "333"))


def test_id_without_a_name_and_empty_parts_are_flagged():
    parsed = parse_submission_name("111__Müller_222.zip")
    assert Flag("naming", "student id '111' has no name before it") in parsed.problems
    assert Flag(
        "naming", "the file name has an empty part (two underscores in a row, or one at the start or end)"
    ) in parsed.problems
    assert parsed.students == (Student(None, "111"), Student("Müller", "222"))


def test_id_that_is_not_digits_is_kept_and_flagged():
    parsed = parse_submission_name("Müller_s7012345_Weber_333.zip")
    assert parsed.problems == (
        Flag("naming", "student id 's7012345' after 'Müller' does not have the expected form (digits only)"),
    )
    assert parsed.students[0] == Student("Müller", "s7012345")


def test_wrong_ending_is_flagged():
    parsed = parse_submission_name("Müller_111_Weber_222.rar")
    assert parsed.problems == (Flag("naming", "the file ends in '.rar', the rule expects .zip, .ipynb or .py"),)
    assert codes(parse_submission_name("Müller_111_Weber_222")) == ["naming"]


def test_nfd_names_from_macos_come_out_nfc():
    decomposed = unicodedata.normalize("NFD", "Strüber_111_Çelik_222.zip")
    assert decomposed != "Strüber_111_Çelik_222.zip"
    parsed = parse_submission_name(decomposed)
    assert [s.name for s in parsed.students] == ["Strüber", "Çelik"]
    assert parsed.filename == "Strüber_111_Çelik_222.zip"


def test_rule_changes_bounds_and_id_form():
    rule = NamingRule(min_team=1, max_team=1, id_pattern=r"s\d{7}", id_description="'s' and 7 digits")
    assert parse_submission_name("Strüber_s7012345.py", rule).problems == ()
    parsed = parse_submission_name("Strüber_7012345_Weber_s7023456.py", rule)
    assert parsed.problems == (
        Flag("naming", "student id '7012345' after 'Strüber' does not have the expected form ('s' and 7 digits)"),
        Flag("team_size", "2 students named, the rule allows 1"),
    )


@pytest.mark.parametrize(
    "fields, complaint",
    [
        ({"min_team": 3, "max_team": 2}, "max_team (2) is smaller than min_team (3)"),
        ({"id_pattern": "(\\d+"}, "not a valid regular expression"),
        ({"id_pattern": "\\d*"}, "matches an empty id"),
        ({"extensions": ["zip"]}, "must be lower case and start with '.'"),
        ({"maximum": 3}, "Extra inputs are not permitted"),
        ({"min_team": "2"}, "Input should be a valid integer"),
    ],
)
def test_rule_rejects_bad_settings(fields, complaint):
    with pytest.raises(ValidationError, match=complaint.replace("(", "\\(").replace(")", "\\)")):
        NamingRule(**fields)


def test_duplicate_student_across_teams_is_flagged_on_both():
    flags = find_duplicate_students(
        [
            ("Strüber_111_Çelik_222.zip", (Student("Strüber", "111"), Student("Çelik", "222"))),
            ("Weber_333_Strüber_111.zip", (Student("Weber", "333"), Student("Strüber", "111"))),
            ("Li_444_Ong_555.zip", (Student("Li", "444"), Student("Ong", "555"))),
        ]
    )
    assert flags["Strüber_111_Çelik_222.zip"] == [
        Flag("duplicate_student", "student id 111 ('Strüber') also appears in 'Weber_333_Strüber_111.zip'")
    ]
    assert flags["Weber_333_Strüber_111.zip"] == [
        Flag("duplicate_student", "student id 111 ('Strüber') also appears in 'Strüber_111_Çelik_222.zip'")
    ]
    assert flags["Li_444_Ong_555.zip"] == []


def test_same_student_twice_in_one_name_and_in_two_other_teams():
    flags = find_duplicate_students(
        [
            ("a.zip", (Student("Ong", "5"), Student("Ong", "5"))),
            ("b.zip", (Student("Ong", "5"),)),
            ("c.zip", (Student("Ong", "5"), Student(None, None))),
        ]
    )
    assert flags["a.zip"] == [
        Flag("duplicate_student", "student id 5 ('Ong') is named twice in this file name"),
        Flag("duplicate_student", "student id 5 ('Ong') also appears in 'b.zip' and 'c.zip'"),
    ]
    assert len(flags["b.zip"]) == 1 and len(flags["c.zip"]) == 1


def test_same_name_with_different_ids_is_not_a_duplicate():
    flags = find_duplicate_students([("a.zip", (Student("Müller", "1"),)), ("b.zip", (Student("Müller", "2"),))])
    assert flags == {"a.zip": [], "b.zip": []}


# Letters of several scripts, joined into words by spaces, hyphens and apostrophes.
_letters = st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZäöüÄÖÜßçÇéèêñøåłŁşğıİ"))
_word = st.lists(_letters, min_size=1, max_size=8).map("".join)
_name = st.builds(
    lambda first, rest: first + "".join(sep + word for sep, word in rest),
    _word,
    st.lists(st.tuples(st.sampled_from([" ", "-", "'"]), _word), max_size=3),
)
_student = st.tuples(_name, st.from_regex(r"[0-9]{1,9}", fullmatch=True))


@settings(max_examples=150, deadline=None)
@given(
    team=st.lists(_student, min_size=2, max_size=3),
    ending=st.sampled_from([".zip", ".ZIP", ".Zip", ".ipynb", ".py"]),
    form=st.sampled_from(["NFC", "NFD"]),
)
def test_any_valid_team_round_trips(team, ending, form):
    filename = unicodedata.normalize(form, "_".join(f"{name}_{sid}" for name, sid in team) + ending)
    parsed = parse_submission_name(filename)
    assert parsed.problems == ()
    assert parsed.students == tuple(Student(unicodedata.normalize("NFC", n), sid) for n, sid in team)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_any_file_name_parses_without_error_and_flags_are_known(text):
    parsed = parse_submission_name(text + ".zip")
    for flag in parsed.problems:
        assert flag.code in {"naming", "team_size"} and flag.message
    if not parsed.problems:
        assert 2 <= len(parsed.students) <= 3
        assert all(s.name and s.student_id for s in parsed.students)

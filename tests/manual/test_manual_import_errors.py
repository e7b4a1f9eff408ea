"""A malformed import names every problem with its line and changes nothing at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.commands.cli import app
from grader.commands.manual import ManualImportError, import_manual
from tests.conftest import REPO
from tests.manual.conftest import FULL, NEAR_COPY, PDF_ONLY, db_state, read_rows, write_rows


@pytest.fixture
def exported(out: Path) -> tuple[Path, list[dict[str, str]]]:
    sheet = out / "manual.csv"
    result = CliRunner().invoke(app, ["manual", "export", "--sheet", "sheet02", "--out", str(sheet),
                                      "--course", str(REPO)])
    assert result.exit_code == 0, result.output
    return sheet, read_rows(sheet)


def _row(rows: list[dict[str, str]], hand_in: str, question: str) -> dict[str, str]:
    return next(r for r in rows if r["hand_in"] == hand_in and r["question"] == question)


def _lines_of(path: Path, row: dict[str, str]) -> list[int]:
    """The file lines rows like this one start on, found by their leading cells (which hold no line break)."""
    start = ",".join([row["sheet"], row["question"], row["check"], row["max_points"], row["hand_in"]]) + ","
    lines = path.read_text(encoding="utf-8-sig").split("\n")  # universal newlines: one per file line
    return [number for number, line in enumerate(lines, start=1) if line.startswith(start)]


def _first_line_of(path: Path, row: dict[str, str]) -> int:
    return _lines_of(path, row)[0]


def _outputs(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.suffix in (".csv", ".json", ".md", ".html") and "files" not in p.parts}


def test_every_problem_is_named_with_its_line_and_nothing_changes(out: Path, exported) -> None:
    sheet, rows = exported
    valid = _row(rows, FULL, "2a")
    valid["points"] = "1"  # a good row: still not stored, since the file as a whole is refused
    bad = {
        "unknown hand-in": _row(rows, PDF_ONLY, "2b"),
        "outside 0…1": _row(rows, FULL, "2c"),
        "is not a number": _row(rows, FULL, "2d"),
        "unknown question": _row(rows, FULL, "3a"),
        "graded automatically": _row(rows, FULL, "3b"),
        "has no check": _row(rows, FULL, "3e"),
        "a comment without points": _row(rows, NEAR_COPY, "3f"),
    }
    bad["unknown hand-in"].update(hand_in="Nobody_2399999.zip", points="1")
    bad["outside 0…1"]["points"] = "1.5"
    bad["is not a number"]["points"] = "eins"
    bad["unknown question"].update(question="9z", points="1")
    bad["graded automatically"].update(question="1c", check="yes-no", max_points="0.5", points="0.5")
    bad["has no check"].update(check="essay", points="1")
    bad["a comment without points"]["comment"] = "Gut!"
    write_rows(sheet, rows)
    db = out / "gradebook.db"
    before_db, before_outputs = db_state(db), _outputs(out)

    result = CliRunner().invoke(app, ["manual", "import", str(sheet), "--course", str(REPO)])
    assert result.exit_code == 2
    said = result.output
    assert "7 problem(s), nothing was imported" in " ".join(said.split())
    problems = [line.strip() for line in said.splitlines() if line.strip().startswith("line ")]
    assert len(problems) == len(bad)
    shifted = 0
    for what, row in bad.items():
        line, spreadsheet_row = _first_line_of(sheet, row), rows.index(row) + 2
        where = f"line {line}" if line == spreadsheet_row else f"line {line} (spreadsheet row {spreadsheet_row})"
        shifted += line != spreadsheet_row
        named = [p for p in problems if what in p]
        assert len(named) == 1, (what, problems)
        assert named[0].startswith(f"{where}: "), named[0]
    assert shifted, "no answer above the bad rows spans several lines; the row numbers went untested"
    assert db_state(db) == before_db
    assert _outputs(out) == before_outputs


def test_a_row_given_twice_names_both_lines(out: Path, exported) -> None:
    sheet, rows = exported
    first = _row(rows, FULL, "4a")
    first["points"] = "1"
    rows.append(dict(first, points="0"))
    write_rows(sheet, rows)
    with pytest.raises(ManualImportError) as raised:
        import_manual(sheet, course=REPO)
    (problem,) = raised.value.problems
    first_line, second_line = _lines_of(sheet, first)
    assert problem.startswith(f"line {second_line} (spreadsheet row {len(rows) + 1}): 4a/answer of {FULL!r}")
    assert problem.endswith(f"is already on line {first_line} (spreadsheet row {rows.index(first) + 2})")


def test_a_file_that_is_not_the_export(out: Path, exported, tmp_path: Path) -> None:
    sheet, rows = exported
    before = db_state(out / "gradebook.db")
    latin1 = out / "latin1.csv"  # as an old spreadsheet saves it: the team names' umlauts in cp1252
    latin1.write_bytes(sheet.read_text(encoding="utf-8-sig").encode("cp1252", errors="replace"))
    with pytest.raises(ManualImportError, match="not UTF-8"):
        import_manual(latin1, course=REPO)
    no_points = write_rows(out / "cut.csv", [{k: v for k, v in r.items() if k != "points"} for r in rows])
    with pytest.raises(ManualImportError, match="line 1: the header lacks the column.s. points"):
        import_manual(no_points, course=REPO)
    mixed = [dict(r) for r in rows]
    mixed[3]["sheet"] = "sheet11"
    with pytest.raises(ManualImportError, match="line .*sheet 'sheet11', but the file is for 'sheet02'"):
        import_manual(write_rows(out / "mixed.csv", mixed), course=REPO)
    (out / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(ManualImportError, match="empty"):
        import_manual(out / "empty.csv", course=REPO)
    assert db_state(out / "gradebook.db") == before

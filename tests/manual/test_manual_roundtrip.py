"""export → fill in → import: the tutors' scores reach the gradebook and every output, exactly once."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from grader.commands.cli import app
from tests.conftest import REPO
from tests.manual.conftest import FULL, NEAR_COPY, PDF_ONLY, manual_row_count, read_rows, write_rows


def flat(text: str) -> str:
    return " ".join(text.split())


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--course", str(REPO)])
    return result.exit_code, flat(result.output)


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    """gradebook.csv by hand-in (team members share one row's numbers)."""
    with (out / "gradebook.csv").open(encoding="utf-8", newline="") as handle:
        return {row["hand_in"]: row for row in csv.DictReader(handle)}


def results_json(out: Path, hand_in: str) -> dict:
    return json.loads((out / hand_in.removesuffix(".zip") / "results.json").read_text(encoding="utf-8"))


def feedback(out: Path, hand_in: str) -> str:
    return (out / hand_in.removesuffix(".zip") / "feedback.md").read_text(encoding="utf-8")


def test_export_fill_import_updates_totals_and_feedback_once(out: Path) -> None:
    sheet = out / "manual-sheet02.csv"
    code, said = run("manual", "export", "--sheet", "sheet02", "--out", str(sheet))
    assert code == 0, said
    assert sheet.is_file() and sheet.with_suffix(".html").is_file()
    rows = read_rows(sheet)
    assert rows and all(row["points"] == "" and row["comment"] == "" for row in rows)
    before = gradebook(out)

    # The tutor scores every check of FULL (1a with a deduction) and NEAR_COPY's 3d explanation.
    filled: dict[tuple[str, str, str], tuple[float, str]] = {}
    for row in rows:
        key = (row["hand_in"], row["question"], row["check"])
        if row["hand_in"] == FULL:
            points = 0.5 if row["question"] == "1a" else float(row["max_points"])
            comment = "-0.5: gate saturation is missing" if row["question"] == "1a" else ""
        elif row["hand_in"] == NEAR_COPY and row["question"] == "3d":
            points, comment = 0.75, "Kurz, aber richtig: ε ~ N(0, I)."
        else:
            continue
        # What a spreadsheet shows is what the tutor types; the export's guard apostrophe stays off.
        row["points"], row["comment"] = f"{points:g}", ("'" + comment if comment.startswith("-") else comment)
        filled[key] = (points, comment)
    write_rows(sheet, rows)
    full_sum = sum(p for (name, _, _), (p, _) in filled.items() if name == FULL)
    assert full_sum > 1

    code, said = run("manual", "import", str(sheet), "--tutor", "Tutor Kim")
    assert code == 0, said
    assert f"scored {len(filled)}, unchanged 0, not scored yet {len(rows) - len(filled)}" in said

    after = gradebook(out)
    for name, added in ((FULL, full_sum), (NEAR_COPY, 0.75)):
        factor = float(before[name]["late_factor"])
        assert float(after[name]["manual_points"]) == float(before[name]["manual_points"]) + added
        assert float(after[name]["manual_pending"]) == float(before[name]["manual_pending"]) - (
            full_sum + 0.5 if name == FULL else 1)
        assert abs(float(after[name]["total"]) - (float(before[name]["total"]) + added * factor)) < 1e-9
        assert abs(results_json(out, name)["score"] - float(after[name]["total"])) < 1e-9
    # Waiting for a tutor is empty, not 0; once scored the question shows its points.
    assert before[FULL]["1a"] == "" and "1a:1" in before[FULL]["waiting_for_tutor"].split()
    assert float(after[FULL]["1a"]) == 0.5 and "1a:1" not in after[FULL]["waiting_for_tutor"].split()
    assert float(after[NEAR_COPY]["3d"]) == float(before[NEAR_COPY]["3d"]) + 0.75
    assert after[PDF_ONLY] == before[PDF_ONLY]  # no points given: nothing changes there
    tests = {t["name"]: t for t in results_json(out, FULL)["tests"]}
    assert tests["1a"]["score"] == 0.5
    assert "answer: 0.5/1 from your tutor. -0.5: gate saturation is missing" in feedback(out, FULL)
    assert "explanation: 0.75/1 from your tutor. Kurz, aber richtig: ε ~ N(0, I)." in feedback(out, NEAR_COPY)
    assert "## 1a How gated units learn to count: waiting for a tutor (1 point)" in feedback(out, PDF_ONLY)

    # The same file again: nothing new, not even a row in the gradebook, and no output is rewritten.
    db = out / "gradebook.db"
    count, csv_bytes = manual_row_count(db), (out / "gradebook.csv").read_bytes()
    code, said = run("manual", "import", str(sheet), "--tutor", "Someone Else")
    assert code == 0 and f"scored 0, unchanged {len(filled)}" in said
    assert manual_row_count(db) == count == len(filled)
    assert (out / "gradebook.csv").read_bytes() == csv_bytes

    # A fresh export shows the stored scores; importing it changes nothing either.
    again = out / "again.csv"
    assert run("manual", "export", "--sheet", "sheet02", "--out", str(again))[0] == 0
    exported = {(r["hand_in"], r["question"], r["check"]): r for r in read_rows(again)}
    for key, (points, comment) in filled.items():
        assert float(exported[key]["points"]) == points
        assert exported[key]["comment"] == ("'" + comment if comment.startswith("-") else comment)
    code, said = run("manual", "import", str(again))
    assert code == 0 and f"scored 0, unchanged {len(filled)}" in said and manual_row_count(db) == count

    # Changing one score adds one row, and the latest counts.
    row = exported[(FULL, "1a", "answer")]
    row["points"] = "1"
    write_rows(again, list(exported.values()))
    code, said = run("manual", "import", str(again))
    assert code == 0 and "scored 1," in said and manual_row_count(db) == count + 1
    assert float(gradebook(out)[FULL]["1a"]) == float(after[FULL]["1a"]) + 0.5


def test_import_with_results_elsewhere_and_a_spreadsheets_csv_dialect(out: Path, tmp_path: Path) -> None:
    """Saved by a German spreadsheet somewhere else: semicolons, a decimal comma; --results finds OUT."""
    sheet = out / "manual.csv"
    assert run("manual", "export", "--sheet", "sheet02", "--out", str(sheet))[0] == 0
    rows = read_rows(sheet)
    target = next(r for r in rows if r["hand_in"] == PDF_ONLY and r["question"] == "1a")
    target["points"], target["comment"] = "0,5", "Nur der Zähler."
    (tmp_path / "Downloads").mkdir()
    saved = write_rows(tmp_path / "Downloads" / "manual.csv", rows, delimiter=";")
    code, said = run("manual", "import", str(saved))
    assert code == 2 and "gradebook.db" in said and "--results" in said  # not beside the file: say how
    code, said = run("manual", "import", str(saved), "--results", str(out))
    assert code == 0 and "scored 1," in said, said
    assert float(gradebook(out)[PDF_ONLY]["1a"]) == 0.5
    assert "answer: 0.5/1 from your tutor. Nur der Zähler." in feedback(out, PDF_ONLY)

"""`grader similarity OUT`: the report files, the `similar_to` flags in the gradebook, clearing a pair."""

from __future__ import annotations

import csv
import re
import sqlite3
from pathlib import Path

import nbformat
import pytest
from typer.testing import CliRunner

from grader.commands.cli import app
from grader.store.gradebook import Gradebook
from grader.commands.similarity.command import SimilarityCommandError, similarity_command
from grader.reports.similarity_section import pair_anchor
from submissions.make_examples import Member, as_hand_in, make_zip, notebook_bytes, zip_name
from tests.conftest import REPO
from tests.similarity.conftest import graded_record, unpack_as_graded
from tests.similarity.corpus import HONEST_1, TEAMS, Work, master, notebook_of, write_corpus_zips

HOSTILE_TEAM = [Member("Eve <script>alert(1)<\\script>", "2390097", "eve@example.org"),
                Member("Mal Lory", "2390098", "mal@example.org")]
HOSTILE_ANSWER = ("<script>alert('answer')</script> Die Zelle zählt additiv, und die Gates sättigen während des "
                  "Trainings zu binären Schaltern, sodass das Netz wie ein Zählautomat arbeitet. =cmd|' /C calc'!A0")


@pytest.fixture(scope="module")
def hand_ins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The planted corpus as zips, plus two hostile ones: a copy pair whose code, answers and file name are
    HTML, and whose answer starts like a spreadsheet formula."""
    folder = tmp_path_factory.mktemp("hand-ins")
    zips = write_corpus_zips(folder)
    body = HONEST_1.code["code1b"][0].replace("total = 0.0", "total = 0.0  # </pre><script>alert(2)</script>")
    hostile = Work(code={**HONEST_1.code, "code1b": [body]}, answers={"answer1a": HOSTILE_ANSWER})
    notebook = notebook_of(hostile, HOSTILE_TEAM)
    for number, team in enumerate((HOSTILE_TEAM, HOSTILE_TEAM[::-1])):
        name = "=HYPERLINK(1)_<i>x.zip" if number == 0 else zip_name(team)
        (folder / name).write_bytes(make_zip({"sheet02.ipynb": notebook_bytes(notebook)}))
        zips[f"hostile_{number}"] = folder / name
    return zips


@pytest.fixture
def out(tmp_path: Path, hand_ins: dict[str, Path]) -> Path:
    contents = {path.name: f"{number:064d}" for number, path in enumerate(hand_ins.values())}
    return unpack_as_graded(tmp_path / "out", list(hand_ins.values()), contents=contents)


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory, hand_ins: dict[str, Path]) -> tuple[Path, list[str], object]:
    """One report over the corpus, for the tests that only read what it wrote: (OUT, printed lines, outcome)."""
    out = unpack_as_graded(tmp_path_factory.mktemp("reported") / "out", list(hand_ins.values()))
    result = similarity_command(out, course=REPO)
    return out, result.lines, result.outcome


def flags_in_gradebook_csv(out: Path) -> dict[str, set[str]]:
    with (out / "gradebook.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row["hand_in"].lstrip("'"), set()).update(row["flags"].split())
    return found


def test_the_report_flags_the_copies_in_the_gradebook_and_writes_html_and_csv(reported, hand_ins) -> None:
    out, lines, outcome = reported
    names = {case: path.name for case, path in hand_ins.items()}
    copies = {frozenset({names["honest_1"], names["renamed"]}), frozenset({names["honest_2"], names["reworded"]}),
              frozenset({names["honest_3"], names["prose_copy"]}),
              frozenset({names["hostile_0"], names["hostile_1"]})}
    state = outcome.state
    assert {frozenset({p.file_a, p.file_b}) for p in state.pairs} >= copies
    assert lines[0].startswith(f"sheet02: {len(hand_ins)} hand-ins")
    assert re.match(r"  \d\.\d\d  \S.*  ~  \S.*  \(code \d\.\d\d, written answers \d\.\d\d", lines[1])
    # similar_to on both hand-ins of every flagged pair, in gradebook.csv (the tutors' file).
    flags = flags_in_gradebook_csv(out)
    for pair in copies:
        for name in pair:
            assert "similar_to" in flags[name], name
    assert "similar_to" not in flags[names["template_a"]] and "similar_to" not in flags[names["master"]]
    # similarity.csv: one row per listed pair, flagged ones marked, formula-safe.
    with (out / "similarity.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    flagged = {frozenset({r["hand_in_a"].lstrip("'"), r["hand_in_b"].lstrip("'")}) for r in rows
               if r["flagged"] == "yes"}
    assert flagged >= copies
    assert all(not r["hand_in_a"].startswith("=") for r in rows)
    prose_row = next(r for r in rows if {r["hand_in_a"], r["hand_in_b"]} == {names["honest_3"], names["prose_copy"]})
    assert float(prose_row["prose_score"]) > 0.8 and float(prose_row["code_score"]) < 0.1
    assert "2b" in prose_row["questions"].split()
    # summary.html lists the pairs and links into similarity.html.
    summary = (out / "summary.html").read_text(encoding="utf-8")
    assert "Similar hand-ins" in summary and pair_anchor(names["honest_1"], names["renamed"]) in summary
    page = (out / "similarity.html").read_text(encoding="utf-8")
    assert f'id="{pair_anchor(names["honest_1"], names["renamed"])}"' in page
    assert "What was not counted" in page and "kl_discrete" in page and "released template" in page


def test_student_text_in_the_report_is_escaped(reported) -> None:
    out = reported[0]
    for page_name in ("similarity.html", "summary.html"):
        page = (out / page_name).read_text(encoding="utf-8")
        # the only scripts are the grader's own files (KaTeX, docs/pages.md); nothing a student wrote is markup
        scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, flags=re.S | re.I)
        assert len(scripts) == len(re.findall(r'<script defer src="(?:\.\./)*_assets/[\w./-]+">', page)), page_name
        assert all(body == "" for body in scripts) and "<i>x" not in page, page_name
    page = re.sub("</?mark>", "", (out / "similarity.html").read_text(encoding="utf-8"))
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page  # the code comment, shown as text
    assert "&lt;script&gt;alert(&#x27;answer&#x27;)&lt;/script&gt;" in page  # the answer, shown as text
    assert "=HYPERLINK(1)_&lt;i&gt;x.zip" in page


def test_students_never_see_the_flag(reported, hand_ins) -> None:
    out = reported[0]
    folder = out / hand_ins["renamed"].name.removesuffix(".zip")
    for file in ("feedback.md", "feedback.html", "results.json"):
        text = (folder / file).read_text(encoding="utf-8")
        assert "similar_to" not in text and "similar to" not in text, file
    assert "similar_to" in (out / "gradebook.csv").read_text(encoding="utf-8")


def test_a_cleared_pair_stays_cleared_until_a_hand_in_changes(out: Path, hand_ins) -> None:
    first, second = hand_ins["honest_3"].name, hand_ins["prose_copy"].name
    similarity_command(out, course=REPO)
    # Hand-ins may be named by file name or by output folder, in either order.
    cleared = similarity_command(out, course=REPO, clear=(second, first.removesuffix(".zip")), tutor="Kim",
                                 comment="both groups showed their own drafts")
    assert cleared.lines[0] == f"cleared: {second} and {first}"
    assert "similar_to" not in flags_in_gradebook_csv(out)[first]
    page = (out / "similarity.html").read_text(encoding="utf-8")
    assert "cleared by Kim" in page and "both groups showed their own drafts" in page
    # A rerun (as after every `grader grade`) keeps the clearance: the hand-ins are unchanged.
    again = similarity_command(out, course=REPO)
    pair = next(p for p in again.outcome.state.pairs if {p.file_a, p.file_b} == {first, second})
    assert pair.cleared and pair.clearance.tutor == "Kim"
    assert "similar_to" not in flags_in_gradebook_csv(out)[first]
    # One of them is uploaded again (new content, same copy): the pair is flagged again.
    with Gradebook.open(out / "gradebook.db") as book:
        run = book.start_run(sheet="sheet02", input_dir=str(out), rubric_sha256="r" * 64, engine_version="test",
                             sandbox="test", jobs=1, forced=False)
        book.record(run, graded_record(second, content="f" * 64))
    changed = similarity_command(out, course=REPO)
    pair = next(p for p in changed.outcome.state.pairs if {p.file_a, p.file_b} == {first, second})
    assert not pair.cleared and pair.clearance is not None and not pair.clearance.current
    assert "similar_to" in flags_in_gradebook_csv(out)[first]


def test_a_clearance_can_be_taken_back(out: Path, hand_ins) -> None:
    first, second = hand_ins["honest_2"].name, hand_ins["reworded"].name
    similarity_command(out, course=REPO)
    similarity_command(out, course=REPO, clear=(first, second), tutor="Kim")
    restored = similarity_command(out, course=REPO, restore=(first, second), tutor="Sam")
    assert restored.lines[0] == f"flagged again: {first} and {second}"
    assert "similar_to" in flags_in_gradebook_csv(out)[first]
    with sqlite3.connect(out / "gradebook.db") as db:
        rows = db.execute("SELECT cleared, tutor FROM similarity_clearances ORDER BY id").fetchall()
    db.close()
    assert rows == [(1, "Kim"), (0, "Sam")]  # the history stays


def test_usage_errors_say_what_to_do(tmp_path: Path, out: Path, hand_ins) -> None:
    with pytest.raises(SimilarityCommandError, match="no gradebook here"):
        similarity_command(tmp_path / "nothing", course=REPO)
    with pytest.raises(SimilarityCommandError, match="does not flag"):
        similarity_command(out, course=REPO, clear=(hand_ins["master"].name, hand_ins["honest_4"].name))
    with pytest.raises(SimilarityCommandError, match="no graded hand-in 'nobody.zip'"):
        similarity_command(out, course=REPO, clear=("nobody.zip", hand_ins["master"].name))
    with pytest.raises(SimilarityCommandError, match="no graded hand-ins for sheet11"):
        similarity_command(out, course=REPO, sheet="sheet11")
    with pytest.raises(SimilarityCommandError, match="rubric|No such|not found|sheet02"):
        similarity_command(out, course=tmp_path)


def test_the_command_line(out: Path, hand_ins) -> None:
    result = CliRunner().invoke(app, ["similarity", str(out), "--course", str(REPO), "--threshold", "0.6"])
    assert result.exit_code == 0, result.output
    assert "pairs flagged (score >= 0.6)" in result.output and "similarity.html" in result.output
    result = CliRunner().invoke(app, ["similarity", str(out), "--course", str(REPO), "--clear", "a.zip"])
    assert result.exit_code == 2
    result = CliRunner().invoke(app, ["similarity", str(out / "missing"), "--course", str(REPO)])
    assert result.exit_code == 2 and "no gradebook here" in result.output


def test_a_file_every_group_was_given_can_be_discounted(tmp_path: Path) -> None:
    """Two groups hand in the course's starter helper (not in the template) and nothing else of note."""
    helper = "\n\n".join(f"def plot_curve_{i}(values, title):\n    import matplotlib.pyplot as plt\n"
                         f"    figure, axes = plt.subplots(figsize=({i}, 3))\n    axes.plot(values, marker='o')\n"
                         f"    axes.set_title(title)\n    axes.grid(True)\n    return figure" for i in range(4))
    zips = []
    for team in (TEAMS["master"], TEAMS["honest_4"]):
        notebook = as_hand_in(master(), team)
        notebook.cells = [c for c in notebook.cells if c.cell_type == "markdown"][:3]
        notebook.cells.append(nbformat.v4.new_code_cell(helper))
        path = tmp_path / zip_name(team)
        path.write_bytes(make_zip({"sheet02.ipynb": notebook_bytes(notebook)}))
        zips.append(path)
    out = unpack_as_graded(tmp_path / "out", zips)
    (tmp_path / "starter.py").write_text(helper, encoding="utf-8")
    assert similarity_command(out, course=REPO).outcome.state.pairs
    assert not similarity_command(out, course=REPO, shared=[tmp_path / "starter.py"]).outcome.state.pairs
    assert "starter.py" in (out / "similarity.html").read_text(encoding="utf-8")

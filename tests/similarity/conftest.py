"""Shared pieces for the similarity tests: the planted corpus as plain data, and graded output folders made
without grading (a gradebook written directly, hand-ins unpacked where `grader grade` leaves them)."""

from __future__ import annotations

import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest

from grader.store.layout import folder_name
from grader.intake.hand_in import HandInTiming
from grader.intake.team import StudentRecord
from grader.scoring.record import GradingRecord, IntakeFacts, RunFacts, SheetScore
from grader.store.gradebook import Gradebook
from grader.scoring.sheet import QuestionScore
from grader.commands.manual.questions import load_answers, manual_items, prose_questions
from grader.prose.extract import ProseQuestion, extract_answers
from grader.rubric.load import LoadedRubric, load_rubric
from grader.commands.similarity.inputs import CodeUnit, HandInText, SharedMaterial
from grader.commands.similarity.shared import shared_material
from grader.commands.similarity.sources import read_code
from submissions.make_examples import notebook_bytes
from tests.conftest import REPO
from tests.similarity.corpus import corpus_notebooks


@pytest.fixture(scope="session")
def sheet02() -> LoadedRubric:
    return load_rubric(REPO / "rubrics" / "sheet02.yaml", course_root=REPO)


@pytest.fixture(scope="session")
def sheet02_shared(sheet02: LoadedRubric) -> SharedMaterial:
    return shared_material(sheet02)


@pytest.fixture(scope="session")
def sheet02_questions(sheet02: LoadedRubric) -> list[ProseQuestion]:
    return prose_questions(manual_items(sheet02, load_answers(sheet02)))


def notebook_text(name: str, notebook: nbformat.NotebookNode, folder: Path,
                  questions: list[ProseQuestion]) -> HandInText:
    """A trusted test notebook as the engine's plain data, read in-process the way the reader child reads it."""
    path = folder / f"{name}.ipynb"
    path.write_bytes(notebook_bytes(notebook))
    units, _ = read_code(path, 500_000)
    answers = {qid: a.text for qid, a in extract_answers(path, questions).items() if a.found}
    return HandInText(id=name, code=tuple(CodeUnit(u["label"], u["text"], u["question"]) for u in units),
                      answers=answers)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory, sheet02_questions: list[ProseQuestion]) -> list[HandInText]:
    """The planted corpus (tests/similarity/corpus.py) as plain data, in the corpus's order."""
    folder = tmp_path_factory.mktemp("corpus")
    return [notebook_text(name, notebook, folder, sheet02_questions)
            for name, notebook in corpus_notebooks().items()]


def graded_record(file_name: str, *, sheet: str = "sheet02", main_file: str | None = "sheet02.ipynb",
                  written: list[str] | None = None, content: str = "0" * 64) -> GradingRecord:
    """A done grading with no points: all the similarity report needs from the gradebook."""
    now = datetime(2025, 2, 1, tzinfo=UTC)
    return GradingRecord(
        sheet=sheet, file_name=file_name, folder=folder_name(file_name), content_sha256=content,
        rubric_sha256="r" * 64, engine_version="test", status="done", started_at=now, finished_at=now,
        intake=IntakeFacts(main_file=main_file, main_file_reason="", written_answers=list(written or []),
                           students=[StudentRecord(None, file_name.split("_")[0], None, "file name")]),
        timing=HandInTiming(submitted_at=now, time_source="manifest", time_explanation="", late=False,
                            minutes_late=0.0, days_late=0, late_factor=1.0, lateness_message="", deadline=None),
        score=SheetScore(questions=[QuestionScore(question_id="1a", title="", points=0.0, max_points=1.0,
                                                  bonus=False, checks=[])],
                         auto_points=0.0, pending_manual=0.0, max_points=18.0, error=None),
        run=RunFacts(sandbox="test"))


def unpack_as_graded(out: Path, zips: list[Path], *, contents: dict[str, str] | None = None) -> Path:
    """OUT as `grader grade` leaves it, without grading: each zip unpacked into OUT/<folder>/files/ and a done
    grading per hand-in in OUT/gradebook.db (content_sha256 from `contents`, for the clearance tests)."""
    out.mkdir(parents=True, exist_ok=True)
    with Gradebook.open(out / "gradebook.db") as book:
        run = book.start_run(sheet="sheet02", input_dir=str(out), rubric_sha256="r" * 64, engine_version="test",
                             sandbox="test", jobs=1, forced=False)
        for path in zips:
            files = out / folder_name(path.name) / "files"
            if files.exists():
                shutil.rmtree(files)
            files.mkdir(parents=True)
            with zipfile.ZipFile(path) as archive:
                archive.extractall(files)
            names = sorted(p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file())
            main = next((n for n in names if n.endswith((".ipynb", ".py"))), None)
            written = [n for n in names if n.endswith((".pdf", ".md", ".txt"))]
            book.record(run, graded_record(path.name, main_file=main, written=written,
                                           content=(contents or {}).get(path.name, "0" * 64)))
        book.finish_run(run, status="finished", graded=len(zips), skipped=0, failed=0)
    return out

"""Shared fixtures for the prose tests: the real sheet-02 hand-in, its PDF, question lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.prose.extract import ProseQuestion

from ._pdfmaker import markdown_to_pdf
from ._sheets import SHEET02, SHEET11, questions

REPO = Path(__file__).resolve().parents[2]
SHEET02_ANSWERS = REPO.parent / "shared" / "course" / "rgann-sheet-02-student-answers.md"


@pytest.fixture(scope="session")
def sheet02_md() -> Path:
    if not SHEET02_ANSWERS.is_file():
        pytest.fail(f"{SHEET02_ANSWERS}: the course's real sheet-02 hand-in is missing (expected shared/ beside the repo)")
    return SHEET02_ANSWERS


@pytest.fixture(scope="session")
def sheet02_pdf(sheet02_md: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("sheet02") / "group-answers.pdf"
    return markdown_to_pdf(sheet02_md.read_text(encoding="utf-8"), target)


@pytest.fixture
def sheet02_questions() -> list[ProseQuestion]:
    return questions(SHEET02)


@pytest.fixture
def sheet11_questions() -> list[ProseQuestion]:
    return questions(SHEET11)

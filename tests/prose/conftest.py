"""Shared fixtures for the prose tests: sheet-02 hand-ins (invented, and the course's real one when present),
their PDFs, question lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.prose.extract import ProseQuestion

from ._pdfmaker import markdown_to_pdf
from ._sheets import SHEET02, SHEET11, Sheet02HandIn, questions, sheet02_hand_ins


@pytest.fixture(scope="session", params=sheet02_hand_ins())
def sheet02_handin(request: pytest.FixtureRequest) -> Sheet02HandIn:
    return request.param


@pytest.fixture(scope="session")
def sheet02_md(sheet02_handin: Sheet02HandIn) -> Path:
    return sheet02_handin.markdown


@pytest.fixture(scope="session")
def sheet02_pdf(sheet02_handin: Sheet02HandIn, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if sheet02_handin.pdf is not None:
        return sheet02_handin.pdf
    target = tmp_path_factory.mktemp(f"sheet02-{sheet02_handin.label}") / "group-answers.pdf"
    return markdown_to_pdf(sheet02_handin.markdown.read_text(encoding="utf-8"), target)


@pytest.fixture
def sheet02_questions() -> list[ProseQuestion]:
    return questions(SHEET02)


@pytest.fixture
def sheet11_questions() -> list[ProseQuestion]:
    return questions(SHEET11)

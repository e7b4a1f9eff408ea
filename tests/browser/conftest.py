"""The browser tests' graded batch, built once per session (tests/browser/graded.py says what is in it).

The browser itself (`chromium`, `browser_page`, `serve_folder`) comes from tests/browser/harness.py, through
tests/conftest.py, so tests elsewhere can use it too.
"""

from __future__ import annotations

import pytest

from tests.browser.graded import GradedPages, grade_pages


@pytest.fixture(scope="session")
def graded_pages(tmp_path_factory: pytest.TempPathFactory, sandbox) -> GradedPages:
    """OUT of `grader grade` and `grader manual export` (do not modify it)."""
    return grade_pages(tmp_path_factory.mktemp("browser-batch"), unsafe_no_sandbox=sandbox.name != "bubblewrap")

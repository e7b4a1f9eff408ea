"""Shared test helpers: notebooks written on the fly, the sandbox, the repo's paths, a real browser."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from hypothesis import settings as hypothesis_settings

# pytest-xdist's workers (pyproject.toml's addopts) inherit the C-level environment of the pytest that starts
# them, where importing `readline` has set COLUMNS=80 and LINES=24 (from TERM's terminfo) behind os.environ's back.
# The console of grader/commands/cli.py would keep that width for good, while the CLI tests set COLUMNS per call.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)

# CI runs on every hand-in: the same examples every run (a property test must hold for any of them anyway).
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI") == "true":
    hypothesis_settings.load_profile("ci")

from tests.browser.harness import browser_page, chromium, close_browser_unless_needed, serve_folder  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
COURSE_MATERIAL = REPO.parent / "shared" / "course"


def write_notebook(path: Path, cells: list[str | tuple[str, str]], *, version: int = 4) -> Path:
    """A notebook of code cells (strings) and markdown cells (("md", text)), without outputs."""
    notebook = nbformat.v4.new_notebook()
    for cell in cells:
        if isinstance(cell, tuple):
            notebook.cells.append(nbformat.v4.new_markdown_cell(cell[1]))
        else:
            notebook.cells.append(nbformat.v4.new_code_cell(cell))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))
    return path


@pytest.fixture(scope="session")
def sandbox():
    from grader.execution.sandbox import find_sandbox

    # CI must prove the real sandbox; elsewhere the process fallback keeps the suite usable.
    return find_sandbox(require=os.environ.get("CI") == "true")


@pytest.fixture(scope="session")
def unplanned_batch(tmp_path_factory: pytest.TempPathFactory, sandbox):
    """Issue 19's hand-ins nobody planned for, graded once per session (tests/unplanned/handins.py)."""
    from tests.unplanned.handins import grade_unplanned

    return grade_unplanned(tmp_path_factory.mktemp("unplanned"), unsafe_no_sandbox=sandbox.name != "bubblewrap")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """pytest-xdist's work units: a module, or a folder sharing a batch or a time-sensitive one (tests/parallel.py)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from tests.parallel import make_scheduler

    return make_scheduler(config, log)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-screenshots", action="store_true", default=False,
                     help="write the pages' screenshots into docs/screenshots/ (tests/browser/test_screenshots.py)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    result = yield
    close_browser_unless_needed(item, nextitem)
    return result

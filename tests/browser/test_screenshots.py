"""Screenshots of the pages, taken in Chromium, for the README.

    python -m pytest tests/browser/test_screenshots.py --update-screenshots

grades the course's six sheet-02 examples (what the README's main command grades, after the deadline) and
writes docs/screenshots/summary.png, feedback.png (the partial hand-in) and manual.png (the tutors' page).
Without the option the same screenshots are taken of the browser tests' own batch into a temporary folder,
so every run proves they can still be made.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.browser.graded import GradedPages, grade_pages
from tests.browser.harness import WatchedPage
from tests.conftest import REPO

SCREENSHOTS = REPO / "docs" / "screenshots"
WIDTH = 1100


@pytest.fixture
def shots(request: pytest.FixtureRequest, tmp_path: Path, sandbox) -> tuple[GradedPages, Path]:
    """The pages to photograph and where the pictures go."""
    if request.config.getoption("--update-screenshots"):
        pages = grade_pages(tmp_path, keep=None, hostile=False, unsafe_no_sandbox=sandbox.name != "bubblewrap")
        return pages, SCREENSHOTS
    return request.getfixturevalue("graded_pages"), tmp_path


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


def section_clip(view: WatchedPage, first: str, stop: str, *, max_height: int = 1400) -> dict:
    """The page from the heading starting with `first` (or the top, for "") to the heading starting with `stop`."""
    top, bottom = view.page.evaluate("""([first, stop]) => {
      const headings = [...document.querySelectorAll('h1, h2')];
      const y = h => h.getBoundingClientRect().top + window.scrollY;
      const start = first ? headings.find(h => h.textContent.startsWith(first)) : null;
      const end = headings.find(h => h.textContent.startsWith(stop));
      return [start ? y(start) - 12 : 0, end ? y(end) - 8 : document.body.scrollHeight];
    }""", [first, stop])
    return {"x": 0, "y": top, "width": WIDTH, "height": min(bottom - top, max_height)}


def test_screenshots_of_summary_feedback_and_tutor_page(browser_page: WatchedPage,
                                                        shots: tuple[GradedPages, Path]) -> None:
    view = browser_page
    graded_pages, screenshot_folder = shots
    # The summary from the top: what needs a human first, then the charts (the full list of hand-ins is cut).
    view.open(graded_pages.summary.as_uri())
    view.page.screenshot(path=screenshot_folder / "summary.png", full_page=True,
                         clip=section_clip(view, "", "All hand-ins", max_height=2600))

    # The partial hand-in from the top: its points, 1a's model answer typeset, 1b's failed check and hint.
    view.open(graded_pages.partial.as_uri())
    view.page.screenshot(path=screenshot_folder / "feedback.png", full_page=True, clip=section_clip(view, "", "2a"))

    # The tutors' page at 3b: the question, its model answer opened (the KL formula), the answers to score.
    view.open(graded_pages.manual.as_uri())
    view.page.evaluate("""first => {
      let element = [...document.querySelectorAll('h2')].find(h => h.textContent.startsWith(first));
      while (element && element.tagName !== 'DETAILS') element = element.nextElementSibling;
      element.open = true;
      return document.fonts.ready.then(() => true);
    }""", "3b ")
    view.page.screenshot(path=screenshot_folder / "manual.png", full_page=True, clip=section_clip(view, "3b ", "3c"))

    assert view.misbehaviour() == []
    for name in ("summary.png", "feedback.png", "manual.png"):
        width, height = png_size(screenshot_folder / name)
        assert width == WIDTH and 300 < height <= 4000, (name, width, height)

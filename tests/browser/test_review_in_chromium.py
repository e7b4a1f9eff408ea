"""The review page in Chromium, against a server the test starts on a free loopback port (and stops).

Over a copy of the browser tests' graded batch (the course's full-marks and partial sheet-02 examples and the
hostile hand-in, tests/browser/graded.py): a tutor grades question 1a with the keyboard only and the gradebook,
gradebook.csv and feedback show the points; editing an item rescores every hand-in that has it; the hostile
hand-in is inert on every page; two browser contexts on the same answer get the stale-write message; the
anonymous mode shows no name. The README's screenshot of the page is taken here.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from grader.commands.review.security import Access
from grader.commands.review.serving import serving_sheet
from grader.commands.review.sheet import ReviewedSheet
from tests.browser.graded import HOSTILE, HOSTILE_FILE, IMG, SCRIPT, GradedPages
from tests.browser.harness import BrowserSession, WatchedPage
from tests.conftest import REPO

SCREENSHOTS = REPO / "docs" / "screenshots"
_HANDLERS = "() => [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length"


@dataclass
class Server:
    url: str
    sheet: ReviewedSheet
    access: Access

    def login(self, tutor: str = "ana") -> str:
        return f"{self.url}/?token={next(t.token for t in self.access.tutors if t.name == tutor)}"


@pytest.fixture(scope="module")
def server(graded_pages: GradedPages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    out = Path(shutil.copytree(graded_pages.out, tmp_path_factory.mktemp("review-browser") / "out"))
    hostile = out / HOSTILE_FILE.removesuffix(".zip")
    notebook = nbformat.read(str(hostile / "files" / "sheet02.ipynb"), as_version=4)
    cell = next(c for c in notebook.cells if c.cell_type == "code")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=HOSTILE),
                    nbformat.v4.new_output("display_data", data={"text/html": f"{SCRIPT}{IMG}<b>bold</b>",
                                                                 "text/plain": "x"})]
    nbformat.write(notebook, str(hostile / "ran.ipynb"))  # what issue 19's batch writes: the grader's run
    sheet = ReviewedSheet(out, course=REPO)
    try:
        with serving_sheet(sheet, [("ana", True), ("ben", False)]) as (url, access):
            yield Server(url, sheet, access)
    finally:
        sheet.close()


def _press(page, key: str) -> None:
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press(key)


def test_a_tutor_grades_a_question_with_the_keyboard_only(server: Server, browser_page: WatchedPage,
                                                          request: pytest.FixtureRequest, tmp_path: Path) -> None:
    page = browser_page.page
    browser_page.open(server.login())
    browser_page.open(f"{server.url}/q/1a/answer")
    page.keyboard.press("?")
    assert page.locator("#keys").is_visible()
    page.keyboard.press("?")
    assert not page.locator("#keys").is_visible()
    units = len(server.sheet.queues[("1a", "answer")].units)
    shot = False
    for turn in range(units):
        _press(page, "1")
        _press(page, "2")
        assert page.locator("li.item.applied").count() == 2
        if not shot and "onload" not in page.inner_text(".handin-name"):  # README: an ordinary hand-in
            shot = True
            page.evaluate("document.fonts.ready")
            folder = SCREENSHOTS if request.config.getoption("--update-screenshots") else tmp_path
            page.screenshot(path=folder / "review.png", full_page=False)
        if turn < units - 1:
            _press(page, "n")
    assert shot and page.get_by_text("all answers in this queue are graded").is_visible()
    items = server.sheet.store.items("1a", "answer")
    expected = round(items[0].points + items[1].points, 6)
    scores = server.sheet.store.latest_scores("1a", "answer")
    assert {s.points for s in scores.values()} == {expected} and {s.tutor for s in scores.values()} == {"ana"}
    assert len(scores) == sum(len(u) for u in server.sheet.queues[("1a", "answer")].units)
    assert server.sheet.writer.flush(60)
    rows = list(csv.DictReader((server.sheet.out / "gradebook.csv").open(encoding="utf-8")))
    assert rows and all(row["1a"] != "" for row in rows)
    for hand_in in server.sheet.hand_ins:
        feedback = (server.sheet.out / hand_in.record.folder / "feedback.md").read_text(encoding="utf-8")
        assert f"answer: {expected:g}/1 from your tutor. {items[0].text}" in feedback.replace("\n", " ")
    assert browser_page.misbehaviour() == []


def test_editing_an_item_updates_every_hand_in_that_has_it(server: Server, browser_page: WatchedPage) -> None:
    page = browser_page.page
    browser_page.open(server.login())
    units = server.sheet.queues[("2a", "answer")].units
    for at in range(len(units)):
        browser_page.open(f"{server.url}/q/2a/answer?at={at}")
        _press(page, "1")
    item = server.sheet.store.items("2a", "answer")[0]
    browser_page.open(f"{server.url}/item/{item.id}")
    page.fill("#item-points", "0.3")
    page.fill("#item-text", "Names one regularisation method")
    with page.expect_navigation():
        page.click("#item-save")
    scores = server.sheet.store.latest_scores("2a", "answer")
    assert {s.points for s in scores.values()} == {0.3} and len(scores) == sum(len(u) for u in units)
    assert server.sheet.writer.flush(60)
    for hand_in in server.sheet.hand_ins:
        feedback = (server.sheet.out / hand_in.record.folder / "feedback.md").read_text(encoding="utf-8")
        assert "0.3/1 from your tutor. Names one regularisation method (+0.3)" in feedback
    assert "Names one regularisation method" in page.inner_text("body")


def test_a_hostile_hand_in_is_inert_on_every_page(server: Server, browser_page: WatchedPage) -> None:
    page = browser_page.page
    browser_page.open(server.login())
    hostile = server.sheet.by_name[HOSTILE_FILE]
    at = next(i for i, unit in enumerate(server.sheet.queues[("1a", "answer")].units) if HOSTILE_FILE in unit)
    for path in (f"/q/1a/answer?at={at}", f"/h/{hostile.id}", "/handins", f"/h/{hostile.id}/notebook"):
        browser_page.open(server.url + path)
        assert page.evaluate(_HANDLERS) == 0, path
        assert page.locator("script:not([src])").count() == 0
    browser_page.open(f"{server.url}/q/1a/answer?at={at}")
    shown = page.inner_text("#answer") + page.inner_text(".typed")
    assert SCRIPT in shown and IMG in shown
    browser_page.open(f"{server.url}/h/{hostile.id}/notebook")
    frame = page.frame_locator("iframe.notebook")
    assert "bold" in frame.locator("body").inner_text()
    assert browser_page.misbehaviour() == []
    assert browser_page.requests_outside(server.url) == []


def test_two_browsers_on_one_answer_get_the_stale_write_message(server: Server, chromium: BrowserSession) -> None:
    browser = chromium.launch_browser()
    try:
        pages = []
        for tutor in ("ana", "ben"):
            context = browser.new_context()
            page = context.new_page()
            page.goto(server.login(tutor))
            page.goto(f"{server.url}/q/2b/answer?at=0")
            pages.append(page)
        first, second = pages
        _press(first, "1")
        _press(second, "2")
        message = second.locator("#message").inner_text()
        assert "ana scored this answer" in message and "not saved" in message
        members = server.sheet.queues[("2b", "answer")].units[0]
        assert {server.sheet.store.latest_scores("2b", "answer")[m].tutor for m in members} == {"ana"}
    finally:
        browser.close()


def test_the_anonymous_mode_shows_no_name(server: Server, browser_page: WatchedPage) -> None:
    page = browser_page.page
    browser_page.open(server.login("ben"))
    with page.expect_navigation():
        page.click("button.anon")
    names = {h.file_name for h in server.sheet.hand_ins} | {h.record.folder for h in server.sheet.hand_ins} | {
        part for h in server.sheet.hand_ins for s in h.record.students for part in (s.name, s.student_id) if part}
    names = {name for name in names if "<" not in name and ">" not in name}  # the hostile one's answer has "script>"
    for path in ("/", "/q/1a/answer", "/q/1a/answer?at=1", "/handins", f"/h/{server.sheet.hand_ins[0].id}",
                 "/tutors"):
        browser_page.open(server.url + path)
        text = page.inner_text("body")
        assert not [name for name in names if name in text], path
        assert "anonymous: on" in text
    with page.expect_navigation():
        page.click("button.anon")
    browser_page.open(f"{server.url}/handins")
    assert server.sheet.hand_ins[0].file_name in page.inner_text("body")  # names are back when switched off


def test_screenshot_of_the_review_page_for_the_readme(request: pytest.FixtureRequest, tmp_path: Path, sandbox,
                                                      browser_page: WatchedPage) -> None:
    """With --update-screenshots: the six bundled sheet-02 examples graded, question 3b with two items applied
    (its KL formula typeset), into docs/screenshots/review.png. (Every run takes one in the keyboard test.)"""
    if not request.config.getoption("--update-screenshots"):
        pytest.skip("only with --update-screenshots")
    from tests.browser.graded import grade_pages

    pages = grade_pages(tmp_path, keep=None, hostile=False, unsafe_no_sandbox=sandbox.name != "bubblewrap")
    sheet = ReviewedSheet(pages.out, course=REPO)
    try:
        with serving_sheet(sheet, [("Kim Tutor", True)]) as (url, access):
            page = browser_page.page
            browser_page.open(f"{url}/?token={access.tutors[0].token}")
            browser_page.open(f"{url}/q/3b/answer")
            _press(page, "1")
            _press(page, "3")
            browser_page.open(page.url)
            page.screenshot(path=SCREENSHOTS / "review.png", full_page=False)
    finally:
        sheet.close()
    assert browser_page.misbehaviour() == []

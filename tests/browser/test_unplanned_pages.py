"""Issue 19's pages in a real Chromium: the summary's per-question table sorts (our own sort-table.js, under the
pages' Content-Security-Policy), what needs a human names early errors and the template, figures of the
grader's own run load in the feedback and on the tutors' page, and text assigned to no question is shown.
The batch is tests/unplanned/handins.py's (graded once per session)."""

from __future__ import annotations

from pathlib import Path

from tests.browser.harness import WatchedPage

READ_TABLE = """id => [...document.querySelectorAll(`#${id} tbody tr`)].map(r => [...r.cells].map(c => c.textContent))"""
IMAGES = """selector => [...document.querySelectorAll(selector)].map(i => ({src: i.getAttribute('src'),
  loaded: i.complete && i.naturalWidth > 0, width: i.naturalWidth}))"""


def open_clean(view: WatchedPage, path: Path, origin: str) -> None:
    view.open(path.as_uri())
    assert view.misbehaviour() == []
    assert view.requests_outside(origin) == []


def test_the_per_question_table_sorts_by_any_column(browser_page: WatchedPage, unplanned_batch) -> None:
    view = browser_page
    out = unplanned_batch.out
    open_clean(view, out / "summary.html", out.as_uri())
    assert view.page.evaluate("document.documentElement.dataset.tables") == "sortable"
    rubric_order = [row[0] for row in view.page.evaluate(READ_TABLE, "question-table")]
    assert rubric_order[0].startswith("1a ") and len(rubric_order) == 16

    def sort_by(table: str, name: str) -> None:
        view.page.locator(f"#{table} thead button.sort", has_text=name).click(timeout=10_000)

    def column(name: str) -> list[str]:
        index = view.page.evaluate("""name => [...document.querySelectorAll('#question-table thead th')]
          .findIndex(th => th.textContent.startsWith(name))""", name)
        return [row[index] for row in view.page.evaluate(READ_TABLE, "question-table")]

    sort_by("question-table", "zero")
    zeros = [int(v) for v in column("zero")]
    assert zeros == sorted(zeros) and zeros[0] < zeros[-1]
    sort_by("question-table", "zero")
    assert [int(v) for v in column("zero")] == sorted(zeros, reverse=True)
    assert view.page.evaluate("document.querySelector('#question-table th[aria-sort]').getAttribute('aria-sort')") \
        == "descending"
    sort_by("question-table", "mean")
    means = [(-1.0 if v == "–" else float(v)) for v in column("mean")]
    assert means == sorted(means)
    sort_by("question-table", "question")
    assert [row[0] for row in view.page.evaluate(READ_TABLE, "question-table")] == rubric_order
    # The mistakes table sorts too, by share.
    sort_by("mistake-table", "share")
    shares = [float(r[4].rstrip(" %")) for r in view.page.evaluate(READ_TABLE, "mistake-table")]
    assert shares == sorted(shares)
    needs_human = view.page.locator("h2:has-text('Needs a human') + table").inner_text()
    assert "early_error: lost nearly all automatic points" in needs_human
    assert "template: looks like the unmodified template" in needs_human
    assert view.page.evaluate(IMAGES, "img[alt^='histogram']")[0]["loaded"]
    assert view.misbehaviour() == []


def test_figures_load_beside_their_question_in_the_feedback(browser_page: WatchedPage, unplanned_batch,
                                                           serve_folder) -> None:
    view = browser_page
    feedback = unplanned_batch.folder("figure") / "feedback.html"
    for url, origin in ((feedback.as_uri(), unplanned_batch.out.as_uri()),
                        (serve_folder(unplanned_batch.out) + f"{unplanned_batch.cases['figure'].folder}/feedback.html",
                         None)):
        view.requests.clear()
        view.open(url)
        origin = origin or url.split("/", 3)[0] + "//" + url.split("/", 3)[2]
        images = view.page.evaluate(IMAGES, "img.figure")
        assert len(images) == 2 and all(i["loaded"] and i["width"] > 100 for i in images), images
        under_3d = view.page.evaluate("""() => {
          const heading = [...document.querySelectorAll('h2')].find(h => h.textContent.startsWith('3d'));
          let element = heading.nextElementSibling;
          while (element && element.tagName !== 'H2') {
            if (element.querySelector && element.querySelector('img.figure')) return true;
            element = element.nextElementSibling;
          }
          return false;
        }""")
        assert under_3d
        assert view.misbehaviour() == [] and view.requests_outside(origin) == []


def test_the_tutors_page_shows_figures_and_text_assigned_to_no_question(browser_page: WatchedPage,
                                                                         unplanned_batch) -> None:
    view = browser_page
    open_clean(view, unplanned_batch.export.html_path, unplanned_batch.out.as_uri())
    thumbs = view.page.evaluate(IMAGES, "img.thumb")
    assert len(thumbs) == 1 and thumbs[0]["loaded"], thumbs
    loose = view.page.locator("#unassigned ~ div.unassigned").all_inner_texts()
    assert any("cell below-code" in text and "scipy.stats.entropy" in text for text in loose)
    assert view.page.locator("a[href='#unassigned']").count() == 1


def test_screenshots_of_the_new_sections(browser_page: WatchedPage, unplanned_batch, request, tmp_path) -> None:
    """docs/screenshots/summary-questions.png, feedback-figure.png, manual-unassigned.png with
    --update-screenshots (tests/browser/test_screenshots.py has the other three); else into tmp, to prove they
    can be made."""
    from tests.browser.test_screenshots import SCREENSHOTS, WIDTH, png_size, section_clip

    folder = SCREENSHOTS if request.config.getoption("--update-screenshots") else tmp_path
    view = browser_page
    view.open((unplanned_batch.out / "summary.html").as_uri())
    view.page.locator("#question-table thead button.sort", has_text="zero").click()
    view.page.screenshot(path=folder / "summary-questions.png", full_page=True,
                         clip=section_clip(view, "Totals", "All hand-ins", max_height=2400))
    view.open((unplanned_batch.folder("figure") / "feedback.html").as_uri())
    view.page.screenshot(path=folder / "feedback-figure.png", full_page=True, clip=section_clip(view, "3d", "3e"))
    view.open(unplanned_batch.export.html_path.as_uri())
    top, bottom = view.page.evaluate("""() => {
      const y = e => e.getBoundingClientRect().top + window.scrollY;
      const boxes = [...document.querySelectorAll('div.unassigned')];
      const last = boxes[boxes.length - 1];
      return [y(document.getElementById('unassigned')) - 12, y(last) + last.getBoundingClientRect().height + 12];
    }""")
    view.page.screenshot(path=folder / "manual-unassigned.png", full_page=True,
                         clip={"x": 0, "y": top, "width": WIDTH, "height": min(bottom - top, 900)})
    assert view.misbehaviour() == []
    for name in ("summary-questions.png", "feedback-figure.png", "manual-unassigned.png"):
        width, height = png_size(folder / name)
        assert width == WIDTH and 150 < height <= 4000, (name, width, height)

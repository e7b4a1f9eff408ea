"""feedback.html, summary.html and the tutors' page in a real Chromium: the course's LaTeX is typeset by the
bundled KaTeX, offline, with no console error and no request outside the output folder; text from a
hand-in stays text, whatever HTML or KaTeX it carries."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest

from grader.rubric.model_answers import load_model_answers
from grader.reports.document import page
from grader.reports.page_assets import link_page_assets
from tests.browser.graded import HREF, IMG, SCRIPT, GradedPages
from tests.browser.harness import WatchedPage
from tests.conftest import REPO

# The formulas of the bundled model answers: each must come out of KaTeX (its MathML keeps the source).
FORMULAS = {formula for answer in load_model_answers(REPO / "reference" / "answers" / "sheet02.yaml").questions.values()
            for formula in re.findall(r"\$([^$]+)\$", answer.model_answer)}
OUR_SCRIPTS = ("katex/katex.min.js", "katex/contrib/auto-render.min.js", "render-math.js")

# What the page looks like to a reader and to an attacker, in one round trip.
INSPECT = """() => {
  const untypeset = [...document.querySelectorAll('.math')].map(element => {
    const copy = element.cloneNode(true);
    copy.querySelectorAll('.katex').forEach(k => k.remove());
    return copy.textContent;
  }).filter(text => /\\$|\\\\\\(|\\\\\\[/.test(text));
  return {
    math: document.documentElement.dataset.math || null,
    typeset: [...document.querySelectorAll('.math .katex annotation[encoding="application/x-tex"]')]
      .map(a => a.textContent),
    untypeset: untypeset,
    katexFonts: [...document.fonts].filter(f => f.family.startsWith('KaTeX') && f.status === 'loaded')
      .map(f => f.family),
    scripts: [...document.scripts].map(s => s.getAttribute('src')),
    handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => /^on/i.test(a.name)))
      .map(e => e.outerHTML.slice(0, 80)),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href).filter(h => !/^(file|https?):/.test(h)),
    images: [...document.images].map(i => i.getAttribute('src')).filter(s => !s.startsWith('data:image/png')),
    svgOutsideMath: [...document.querySelectorAll('svg')].filter(s => !s.closest('.katex')).length,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    text: document.body.innerText,
  };
}"""


def inspect(view: WatchedPage, url: str) -> dict:
    view.open(url)
    return view.page.evaluate(INSPECT)


def assert_well_behaved(view: WatchedPage, seen: dict, origin: str, assets: str) -> None:
    """No misbehaviour, nothing fetched from outside `origin`, only our scripts, no live injected markup."""
    assert view.misbehaviour() == []
    assert view.requests_outside(origin) == []
    assert seen["math"] == "typeset"
    assert seen["scripts"] == [f"{assets}/{name}" for name in OUR_SCRIPTS]
    assert seen["handlers"] == [] and seen["links"] == [] and seen["images"] == [] and seen["svgOutsideMath"] == 0
    assert seen["overflow"] <= 0, "the page is wider than the window: long names must wrap"


def test_feedback_typesets_the_model_answers(browser_page: WatchedPage, graded_pages: GradedPages) -> None:
    seen = inspect(browser_page, graded_pages.full.as_uri())
    assert_well_behaved(browser_page, seen, graded_pages.out.as_uri() + "/", "../_assets")
    assert FORMULAS and FORMULAS <= set(seen["typeset"])
    assert seen["untypeset"] == [] and "$\\" not in seen["text"] and "\\mathbf" not in seen["text"]
    # The fonts come from the stylesheet in ../_assets, one folder up: KaTeX's own glyphs, not a fallback.
    assert {"KaTeX_Main", "KaTeX_Math"} <= set(seen["katexFonts"])
    assert "Model answer: The Kullback-Leibler divergence" in seen["text"]


def test_summary_loads_katex_cleanly(browser_page: WatchedPage, graded_pages: GradedPages) -> None:
    seen = inspect(browser_page, graded_pages.summary.as_uri())
    assert_well_behaved(browser_page, seen, graded_pages.out.as_uri() + "/", "_assets")
    assert browser_page.page.evaluate("typeof katex.render") == "function"
    assert seen["untypeset"] == [] and "batch summary" in seen["text"]


def test_tutor_page_typesets_question_and_model_answers(browser_page: WatchedPage,
                                                        graded_pages: GradedPages) -> None:
    seen = inspect(browser_page, graded_pages.manual.as_uri())
    assert_well_behaved(browser_page, seen, graded_pages.out.as_uri() + "/", "_assets")
    assert FORMULAS <= set(seen["typeset"])
    assert seen["untypeset"] == []


@pytest.mark.parametrize("which", ["hostile", "summary", "manual"])
def test_hostile_text_from_a_hand_in_stays_text(browser_page: WatchedPage, graded_pages: GradedPages,
                                                which: str) -> None:
    path = getattr(graded_pages, which)
    seen = inspect(browser_page, path.as_uri())
    assert_well_behaved(browser_page, seen, graded_pages.out.as_uri() + "/",
                        "../_assets" if which == "hostile" else "_assets")
    assert browser_page.dialogs == []
    # Shown as typed: the file name everywhere; the team, the error and the answer where each belongs.
    assert "Eve\"><svg onload=alert('file')>_2309981_Mallory_2309982.zip" in seen["text"]
    if which != "summary":
        for hostile in (SCRIPT, IMG, HREF):
            assert hostile in seen["text"], hostile
    # The student's $\href{javascript:...}$ was not typeset, not even partly.
    assert not [formula for formula in seen["typeset"] if "href" in formula or "alert" in formula]


def test_katex_options_defuse_hostile_latex_even_inside_course_text(browser_page: WatchedPage,
                                                                    tmp_path: Path) -> None:
    """Course text alone is typeset, but the options are safe for any text: no links, ids, classes, styles,
    images, no huge boxes, no macro bombs."""
    path = tmp_path / "page.html"
    formulas = [r"\href{javascript:alert('href')}{x}", r"\url{javascript:alert('url')}",
                r"\htmlId{injected}{x}", r"\htmlClass{injected}{x}", r"\htmlStyle{position:fixed;top:0}{x}",
                r"\htmlData{foo=bar}{x}", r"\includegraphics{x.png}", r"\rule{1000em}{1000em}",
                r"\def\a{\a\a}\a", r"\mathbf{J}_{k+1}"]
    body = "".join(f'<p class="math">${formula}$</p>' for formula in formulas)
    path.write_text(page("hostile LaTeX", body, assets=link_page_assets(path)), encoding="utf-8")
    seen = inspect(browser_page, path.as_uri())
    assert_well_behaved(browser_page, seen, tmp_path.as_uri() + "/", "_assets")
    found = browser_page.page.evaluate("""() => ({
      anchors: document.querySelectorAll('a').length,
      injected: document.querySelectorAll('#injected, .injected, [data-foo]').length,
      fixed: [...document.querySelectorAll('*')].filter(e => getComputedStyle(e).position === 'fixed').length,
      widest: Math.max(...[...document.querySelectorAll('.katex')].map(k => k.getBoundingClientRect().width)),
      errors: document.querySelectorAll('.katex-error').length,
    })""")
    assert found["anchors"] == 0 and found["injected"] == 0 and found["fixed"] == 0
    assert found["widest"] < 400, "\\rule is capped by maxSize"
    assert found["errors"] >= 1, "the macro bomb stops at maxExpand and is shown as an error"
    assert r"\mathbf{J}_{k+1}" in seen["typeset"]


def test_pages_work_over_http_from_a_loopback_server(browser_page: WatchedPage, graded_pages: GradedPages,
                                                     serve_folder) -> None:
    base = serve_folder(graded_pages.out)
    assert base.startswith("http://127.0.0.1:")
    feedback = graded_pages.full.relative_to(graded_pages.out).as_posix()
    for url, assets in ((base + "summary.html", "_assets"), (base + quote(feedback), "../_assets")):
        seen = inspect(browser_page, url)
        assert_well_behaved(browser_page, seen, base, assets)
    assert FORMULAS <= set(seen["typeset"])
    assert any(url.endswith("/_assets/katex/katex.css") for url in browser_page.requests)


def test_similarity_page_works_under_the_same_policy(browser_page: WatchedPage, graded_pages: GradedPages) -> None:
    """similarity.html (grader similarity) has no mathematics and no scripts, but gets the same head: it must
    still show without a console error (a CSP violation is one) or a request outside the folder."""
    browser_page.open((graded_pages.out / "similarity.html").as_uri())
    assert browser_page.misbehaviour() == []
    assert browser_page.requests_outside(graded_pages.out.as_uri() + "/") == []
    assert browser_page.page.evaluate("document.scripts.length") == 0
    assert "similar hand-ins" in browser_page.page.inner_text("h1")

"""The pages' KaTeX, without a browser: shipped in the package as npm gives it, copied once into OUT, linked
by relative URLs, nothing from a CDN; course text marked for typesetting, student text never."""

from __future__ import annotations

import glob
import hashlib
import re
import tomllib
from pathlib import Path

import pytest

from grader.reports import page_assets
from grader.reports.document import Document, page, to_html, to_markdown
from grader.reports.page_assets import (
    ASSETS_FOLDER,
    KATEX_VERSION,
    PageAssetsError,
    install_page_assets,
    link_page_assets,
    stylesheet_with_fonts,
)
from tests.browser.graded import HOSTILE, GradedPages
from tests.conftest import REPO

PACKAGE_ASSETS = REPO / "grader" / "reports" / "assets"
KATEX = PACKAGE_ASSETS / "katex"
# A resource loaded from another host (http(s): or scheme-relative //): a src, a <link>, url() or @import.
# A plain <a href> to another site is a link a reader may follow, not something the page loads.
REMOTE = re.compile(r"""(?:\bsrc\s*=\s*["']?|<link\b[^>]*\bhref\s*=\s*["']?|url\(\s*["']?|@import\s+["']?)"""
                    r"""\s*(?:https?:)?//""", re.I)


def test_katex_files_are_the_npm_release_listed_in_provenance() -> None:
    provenance = (KATEX / "PROVENANCE.md").read_text(encoding="utf-8")
    assert f"katex@{KATEX_VERSION}" in provenance and f"KaTeX {KATEX_VERSION}" in provenance
    listed = dict(reversed(line.split("  ", 1)) for line in re.findall(r"^[0-9a-f]{64}  \S+$", provenance, re.M))
    present = {p.relative_to(KATEX).as_posix() for p in KATEX.rglob("*") if p.is_file()} - {"PROVENANCE.md"}
    assert set(listed) == present
    for name, digest in listed.items():
        assert hashlib.sha256((KATEX / name).read_bytes()).hexdigest() == digest, name
    assert "MIT License" in (KATEX / "LICENSE").read_text(encoding="utf-8")


def test_every_font_the_stylesheet_names_is_shipped_as_woff2() -> None:
    css = (KATEX / "katex.min.css").read_text(encoding="utf-8")
    named = set(re.findall(r"url\(fonts/([\w-]+)\.woff2\)", css))
    shipped = {p.stem for p in (KATEX / "fonts").glob("*.woff2")}
    assert named and named == shipped
    assert not list((KATEX / "fonts").glob("*.woff")) and not list((KATEX / "fonts").glob("*.ttf"))


def test_package_data_puts_every_asset_into_the_wheel() -> None:
    """The globs pyproject gives setuptools match every file under assets/ (`pip wheel .` then ships them)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["grader.reports"]
    package = REPO / "grader" / "reports"
    matched = {Path(path).resolve() for pattern in patterns for path in glob.glob(str(package / pattern))
               if Path(path).is_file()}
    assert matched == {p.resolve() for p in PACKAGE_ASSETS.rglob("*") if p.is_file()}


def test_installed_stylesheet_carries_its_fonts_and_refers_to_nothing_else(tmp_path: Path) -> None:
    folder = install_page_assets(tmp_path)
    css = (folder / "katex" / "katex.css").read_text(encoding="utf-8")
    faces = re.findall(r"@font-face\{[^}]*\}", css)
    assert len(faces) == len(list((KATEX / "fonts").glob("*.woff2")))
    assert all(face.count("url(data:font/woff2;base64,") == 1 for face in faces)
    assert not re.findall(r"url\((?!data:)", css) and not REMOTE.search(css)
    # The copy in OUT is the npm file otherwise: only the @font-face sources differ.
    original = (KATEX / "katex.min.css").read_text(encoding="utf-8")
    assert re.sub(r"src:[^}]*", "", css) == re.sub(r"src:[^}]*", "", original)


def test_a_stylesheet_with_fonts_it_cannot_embed_is_refused() -> None:
    with pytest.raises(PageAssetsError, match="cannot embed"):
        stylesheet_with_fonts("@font-face{src:url(https://cdn.example.org/x.woff2)}", lambda name: b"")
    with pytest.raises(PageAssetsError):
        stylesheet_with_fonts('@font-face{src:url(fonts/A.woff2) format("woff2")}.x{background:url(y.png)}',
                              lambda name: b"font")


def test_install_copies_once_and_repairs_a_stale_copy(tmp_path: Path) -> None:
    folder = install_page_assets(tmp_path)
    assert folder == tmp_path / ASSETS_FOLDER
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == [".grader-page-assets", "katex/LICENSE", "katex/contrib/auto-render.min.js", "katex/katex.css",
                     "katex/katex.min.js", "render-math.js", "sort-table.js"]
    script = folder / "katex" / "katex.min.js"
    assert script.read_bytes() == (KATEX / "katex.min.js").read_bytes()
    assert oct(script.stat().st_mode & 0o777) == oct(0o644)
    before = script.stat().st_mtime_ns
    install_page_assets(tmp_path)
    assert script.stat().st_mtime_ns == before, "an up-to-date copy is left alone"
    script.write_text("tampered")
    (folder / ".grader-page-assets").write_text("an older grader")
    (folder / "feedback.html").write_text("a hand-in named _assets.zip has its outputs here")
    install_page_assets(tmp_path)
    assert script.read_bytes() == (KATEX / "katex.min.js").read_bytes()
    assert (folder / "feedback.html").exists(), "only the grader's own entries are written"


def test_links_are_relative_to_each_page(tmp_path: Path) -> None:
    assert link_page_assets(tmp_path / "summary.html") == ASSETS_FOLDER
    assert link_page_assets(tmp_path / "Team 1" / "feedback.html", tmp_path) == f"../{ASSETS_FOLDER}"
    assert link_page_assets(tmp_path / "a" / "b" / "page.html", tmp_path) == f"../../{ASSETS_FOLDER}"
    assert link_page_assets(tmp_path / "a b" / "page.html", tmp_path / "a b") == ASSETS_FOLDER


def test_the_remote_resource_pattern_finds_cdn_references() -> None:
    for remote in ('<script src="https://cdn.jsdelivr.net/npm/katex/dist/katex.min.js">',
                   "<link rel=stylesheet href=//unpkg.com/katex.css>", "src:url(https://x.org/f.woff2)",
                   '@import "http://x.org/a.css";', "<img SRC='//x.org/p.png'>"):
        assert REMOTE.search(remote), remote
    for local in ('<script defer src="../_assets/render-math.js">', '<a href="https://doi.org/10.1/x">paper</a>',
                  "url(data:font/woff2;base64,AAAA)"):
        assert not REMOTE.search(local), local


def test_page_head_loads_only_our_files_and_forbids_inline_script() -> None:
    text = page("t", "<p>body</p>", assets="../_assets")
    head = text[:text.index("</head>")]
    scripts = re.findall(r"<script\b[^>]*>", head)
    assert scripts == [f'<script defer src="../_assets/{name}">' for name in
                       ("katex/katex.min.js", "katex/contrib/auto-render.min.js", "render-math.js", "sort-table.js")]
    assert '<link rel="stylesheet" href="../_assets/katex/katex.css">' in head
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', head).group(1)
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert "unsafe-inline" not in directives["script-src"] and "http" not in directives["script-src"]
    assert not REMOTE.search(text)
    assert "<script" not in page("t", "<p>body</p>"), "a page without assets has no scripts"


def test_only_course_text_is_marked_for_typesetting_and_markdown_keeps_the_source() -> None:
    doc = Document("Feedback for x.zip")
    doc.heading(1, "3b KL: 0 of 1 points", math=True)
    doc.paragraph(f"From the hand-in: {HOSTILE}")
    doc.paragraph("Model answer: $D_{\\mathrm{KL}}(P\\parallel Q)$ with `code`\nand a second line", math=True)
    doc.items([f"team_mismatch: {HOSTILE}"])
    text = to_html(doc, assets="_assets")
    assert '<h2 class="math">3b KL: 0 of 1 points</h2>' in text
    assert "<p>From the hand-in: &lt;script&gt;" in text and "<img" not in text
    assert ('<p class="math">Model answer: $D_{\\mathrm{KL}}(P\\parallel Q)$ with <code>code</code>\nand a second '
            "line</p>") in text
    assert "<ul><li>team_mismatch: &lt;script&gt;" in text
    assert text.count('class="math"') == 2
    markdown = to_markdown(doc)
    assert "Model answer: $D_{\\mathrm{KL}}(P\\parallel Q)$ with `code`" in markdown


def test_generated_pages_link_the_copied_assets_and_no_cdn(graded_pages: GradedPages) -> None:
    out = graded_pages.out
    pages = [graded_pages.summary, graded_pages.manual, graded_pages.full, graded_pages.partial, graded_pages.hostile]
    for path in pages:
        text = path.read_text(encoding="utf-8")
        assert not REMOTE.search(text), path
        prefix = "" if path.parent == out else "../"
        assert f'src="{prefix}{ASSETS_FOLDER}/render-math.js"' in text, path
    assert (out / ASSETS_FOLDER / "katex" / "katex.css").is_file()
    assert len(list(out.rglob("katex.min.js"))) == 1, "one copy for the whole output folder"


def test_feedback_markdown_keeps_the_latex_source(graded_pages: GradedPages) -> None:
    markdown = graded_pages.feedback_md(graded_pages.full)
    assert "Model answer: The Kullback-Leibler divergence $D_{\\mathrm{KL}}(P\\parallel Q)=" in markdown
    assert "class=" not in markdown


def test_assets_missing_from_the_package_are_a_clear_error(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(page_assets, "files", lambda package: tmp_path / "nowhere")
    page_assets._built.cache_clear()
    try:
        with pytest.raises(PageAssetsError, match="incomplete.*reinstall"):
            install_page_assets(tmp_path / "out")
    finally:
        page_assets._built.cache_clear()

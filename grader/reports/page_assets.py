"""The files the HTML pages load, copied beside them: KaTeX, its fonts, and the script that typesets.

Pages (feedback.html, summary.html, the tutors' page) show the course's LaTeX typeset by KaTeX in the
browser, offline: nothing is fetched from the network, and nothing runs in the grader beyond writing files.

Where the files live: `install_page_assets(root)` copies them once into ROOT/_assets/, and each page links
them by a relative URL (`link_page_assets`). Copying once was chosen over inlining them into every page:
KaTeX with its fonts is about 0.6 MB, so a batch of 400 feedback pages would carry 400 copies (a quarter of
a gigabyte) and the browser would parse each again. With one copy every page stays small, and the output
folder stays self-contained: it works from file:// or any static server, and zipping it takes the assets
along. A page copied out of its folder on its own shows the LaTeX source as typed instead (still readable;
feedback.md carries the same text).

The fonts are written into the copied stylesheet as data: URIs, woff2 only (every current browser reads
woff2). A file:// page in Firefox may load fonts only from its own folder and below, and feedback.html
lives one level below _assets/; a stylesheet that carries its fonts loads the same in every browser.

KaTeX itself is kept unchanged, as npm ships it, in grader/reports/assets/katex/ (PROVENANCE.md says which
release and how to update it); only the copy in ROOT has its font URLs rewritten. ROOT/_assets/ may hold
other files too (a hand-in named `_assets.zip` has its output folder there): only our own entries are
written, nothing is deleted.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from urllib.parse import quote

KATEX_VERSION = "0.19.1"
ASSETS_FOLDER = "_assets"
# Paths inside ASSETS_FOLDER that pages link; install_page_assets writes exactly these (and the stamp).
KATEX_SCRIPT = "katex/katex.min.js"
AUTO_RENDER_SCRIPT = "katex/contrib/auto-render.min.js"
KATEX_STYLESHEET = "katex/katex.css"
RENDER_SCRIPT = "render-math.js"
SORT_SCRIPT = "sort-table.js"  # sorts tables of class "sortable" (summary.html)
_LICENSE = "katex/LICENSE"
_STAMP = ".grader-page-assets"

# One @font-face source list as KaTeX's stylesheet writes it: woff2 first, then woff and truetype fallbacks.
_FONT_SOURCES = re.compile(r'url\(fonts/(?P<font>[A-Za-z0-9_-]+)\.woff2\) format\("woff2"\)'
                           r'(?:,url\(fonts/[A-Za-z0-9_.-]+\) format\("[a-z]+"\))*')
_ANY_URL = re.compile(r"url\((?!data:)[^)]*\)")


class PageAssetsError(RuntimeError):
    """The packaged assets are incomplete or not what this module expects (a broken install or KaTeX update)."""


def install_page_assets(root: Path) -> Path:
    """Copy the page assets into ROOT/_assets/ unless the same ones are there already; return that folder.

    Cheap when nothing changed (one small file is read), so every page writer may call it.
    """
    folder = Path(root) / ASSETS_FOLDER
    built, digest = _built()
    stamp = folder / _STAMP
    if stamp.is_file() and stamp.read_text(encoding="ascii", errors="replace") == digest:
        return folder
    for name, data in built.items():
        _write_atomically(folder / name, data)
    _write_atomically(stamp, digest.encode("ascii"))
    return folder


def link_page_assets(page: Path, root: Path | None = None) -> str:
    """Install the assets under ROOT (default: the page's folder) if needed; their URL relative to PAGE.

    The URL is what `grader.reports.document.page(assets=...)` takes: "_assets" for a page in ROOT,
    "../_assets" one folder below.
    """
    page = Path(page)
    folder = install_page_assets(page.parent if root is None else Path(root))
    try:
        relative = os.path.relpath(folder.resolve(), page.parent.resolve())
    except ValueError:  # another drive (Windows): no relative path exists
        return folder.resolve().as_uri()
    return quote(Path(relative).as_posix())


def head_tags(assets: str) -> str:
    """The <link> and <script> tags of a page whose assets are at the relative URL `assets`.

    Scripts are files, never inline, so the pages' Content-Security-Policy can forbid inline script.
    `defer` keeps their order and runs them once the page is parsed.
    """
    base = assets.rstrip("/")
    return (f'<link rel="stylesheet" href="{base}/{KATEX_STYLESHEET}">'
            f'<script defer src="{base}/{KATEX_SCRIPT}"></script>'
            f'<script defer src="{base}/{AUTO_RENDER_SCRIPT}"></script>'
            f'<script defer src="{base}/{RENDER_SCRIPT}"></script>'
            f'<script defer src="{base}/{SORT_SCRIPT}"></script>')


def page_asset_files() -> dict[str, bytes]:
    """Every file install_page_assets writes (path inside ASSETS_FOLDER -> bytes): what a server serves."""
    return _built()[0]


@lru_cache(maxsize=1)
def _built() -> tuple[dict[str, bytes], str]:
    """Every installed file (path inside ASSETS_FOLDER -> bytes), and a digest over all of them."""
    source = files("grader.reports") / "assets"
    katex = source / "katex"
    try:
        built = {
            KATEX_SCRIPT: (katex / "katex.min.js").read_bytes(),
            AUTO_RENDER_SCRIPT: (katex / "contrib" / "auto-render.min.js").read_bytes(),
            KATEX_STYLESHEET: stylesheet_with_fonts((katex / "katex.min.css").read_text(encoding="utf-8"),
                                                    lambda font: (katex / "fonts" / f"{font}.woff2").read_bytes()
                                                    ).encode("utf-8"),
            _LICENSE: (katex / "LICENSE").read_bytes(),
            RENDER_SCRIPT: (source / RENDER_SCRIPT).read_bytes(),
            SORT_SCRIPT: (source / SORT_SCRIPT).read_bytes(),
        }
    except FileNotFoundError as exc:
        raise PageAssetsError(f"the grader's page assets are incomplete ({exc.filename}): reinstall the "
                              "package") from exc
    digest = hashlib.sha256()
    for name in sorted(built):
        digest.update(name.encode() + b"\0" + hashlib.sha256(built[name]).digest())
    return built, digest.hexdigest()


def stylesheet_with_fonts(css: str, read_font) -> str:
    """KaTeX's stylesheet with each @font-face's sources replaced by its woff2 font as a data: URI.

    read_font(name) returns the bytes of fonts/NAME.woff2. Raises PageAssetsError when a font reference is
    left that is not a data: URI (KaTeX changed its stylesheet's layout: check the update).
    """
    def embedded(match: re.Match[str]) -> str:
        data = base64.b64encode(read_font(match.group("font"))).decode("ascii")
        return f'url(data:font/woff2;base64,{data}) format("woff2")'

    result, count = _FONT_SOURCES.subn(embedded, css)
    left = _ANY_URL.findall(result)
    if count == 0 or left:
        raise PageAssetsError(f"KaTeX's stylesheet has font references this module cannot embed: {left[:3]}")
    return result


def _write_atomically(path: Path, data: bytes) -> None:
    # Write then rename, so a page opened meanwhile never reads half a script, and two writers do not mix.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a web server or another tutor must read it
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

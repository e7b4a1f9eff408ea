"""A tiny document model (headings, paragraphs, lists, preformatted text) written as Markdown or as HTML.

Feedback is built once as blocks and rendered twice, so feedback.md and feedback.html always say the same.
Text is plain; `backticks` become code in both outputs. Everything is escaped for HTML: messages quote
student code and output.

A heading or paragraph marked `math=True` is the course's own text (a question title, a model answer): its
LaTeX (`$...$`, `$$...$$`) is typeset in the HTML page by KaTeX, in the browser, and kept as typed in Markdown
(GitHub and most viewers typeset it there). Text from a hand-in is never marked, so a student's `$` stays
plain text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from grader.reports.page_assets import head_tags

_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_BACKTICKS = re.compile(r"`+")


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    math: bool = False  # course text whose LaTeX the HTML page typesets


@dataclass(frozen=True)
class Paragraph:
    text: str
    math: bool = False  # course text whose LaTeX the HTML page typesets; never text from a hand-in


@dataclass(frozen=True)
class Items:
    items: list[str]


@dataclass(frozen=True)
class Preformatted:
    text: str


@dataclass(frozen=True)
class Image:
    """A figure file beside the page (a PNG the grader's run of the hand-in drew and the runner checked); `src`
    is a relative path the grader chose, never text from a hand-in."""

    src: str
    alt: str


Block = Heading | Paragraph | Items | Preformatted | Image


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def heading(self, level: int, text: str, *, math: bool = False) -> None:
        self.blocks.append(Heading(level, text, math))

    def paragraph(self, text: str, *, math: bool = False) -> None:
        self.blocks.append(Paragraph(text, math))

    def items(self, items: list[str]) -> None:
        if items:
            self.blocks.append(Items(items))

    def preformatted(self, text: str) -> None:
        self.blocks.append(Preformatted(text))

    def image(self, src: str, alt: str) -> None:
        self.blocks.append(Image(src, alt))


def to_markdown(document: Document) -> str:
    """Markdown in which student text stays text: Markdown viewers render raw HTML, links and images, so
    outside `code` spans HTML characters become entities and no `](` can start a link or image."""
    parts = [f"# {_md(_one_line(document.title))}"]
    for block in document.blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * (block.level + 1)} {_md(_one_line(block.text))}")
        elif isinstance(block, Paragraph):
            parts.append(_md(block.text))
        elif isinstance(block, Items):
            parts.append("\n".join("- " + _md(item).replace("\n", "\n  ") for item in block.items))
        elif isinstance(block, Image):
            parts.append(f"![{_md(_one_line(block.alt)).replace(']', ')')}]({quote(block.src)})")
        else:
            # A fence longer than any run of backticks inside, so the text cannot close it.
            longest = max((len(run) for run in _BACKTICKS.findall(block.text)), default=0)
            fence = "`" * max(3, longest + 1)
            parts.append(f"{fence}\n{block.text}\n{fence}")
    return "\n\n".join(parts) + "\n"


def _md(text: str) -> str:
    """Text with `code` spans kept; elsewhere HTML characters as entities and links broken."""
    pieces = []
    last = 0
    for span in _CODE_SPAN.finditer(text):
        pieces.append(_md_plain(text[last:span.start()]))
        inner = span.group(1)
        tick = "``" if "`" in inner else "`"
        pieces.append(f"{tick}{inner}{tick}")
        last = span.end()
    pieces.append(_md_plain(text[last:]))
    return "".join(pieces)


def _md_plain(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("](", "]\\(")  # no link or image: a viewer would fetch it


def to_html(document: Document, *, assets: str | None = None) -> str:
    """The page; `assets` as for `page`."""
    body = [f"<h1>{_inline(document.title)}</h1>"]
    for block in document.blocks:
        if isinstance(block, Heading):
            level = min(block.level + 1, 6)
            body.append(f"<h{level}{_MATH_CLASS if block.math else ''}>{_inline(block.text)}</h{level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p{_MATH_CLASS}>{_inline(block.text, math=True)}</p>" if block.math
                        else f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Items):
            body.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in block.items) + "</ul>")
        elif isinstance(block, Image):
            body.append(f"<figure><img class=\"figure\" src=\"{html.escape(quote(block.src))}\" "
                        f"alt=\"{html.escape(block.alt)}\"><figcaption>{html.escape(block.alt)}</figcaption></figure>")
        else:
            body.append(f"<pre>{html.escape(block.text)}</pre>")
    return page(document.title, "\n".join(body), assets=assets)


def page(title: str, body: str, *, assets: str | None = None) -> str:
    """An HTML page that loads nothing from the network. This is the one place a page's <head> is written.

    assets: the URL, relative to the page, of the page assets that `grader.reports.page_assets` installs
    (`link_page_assets` returns it). With it, KaTeX typesets the LaTeX in elements of class "math" (course
    text only); without it the page has no scripts. Either way a Content-Security-Policy allows scripts
    from files only (no inline script, no event-handler attributes) and nothing from other hosts, so even
    text from a hand-in that escaped escaping could not run. Scripts a page needs are files under
    grader/reports/assets/, linked here.
    """
    head = head_tags(assets) if assets is not None else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_CSP}\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<link rel=\"icon\" href=\"data:,\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style>{head}</head>\n"
            f"<body>\n{body}\n</body></html>\n")


def _inline(text: str, *, math: bool = False) -> str:
    escaped = _CODE_SPAN.sub(lambda m: f"<code>{m.group(1)}</code>", html.escape(text))
    # A <br> would cut a formula that spans lines in two; math blocks keep their newlines (white-space: pre-line).
    return escaped if math else escaped.replace("\n", "<br>")


def _one_line(text: str) -> str:
    return " ".join(text.split())


_MATH_CLASS = ' class="math"'
# file: beside 'self' because a page opened from disk has an opaque origin, and which file: URLs count as
# 'self' for it differs between browsers; file: grants nothing to a page served over http.
_CSP = ("default-src 'none'; script-src 'self' file:; style-src 'self' file: 'unsafe-inline'; "
        "img-src 'self' file: data:; font-src data:; base-uri 'none'; form-action 'none'")
_STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.4}"
          "pre{background:#f4f4f4;padding:.6em;overflow-x:auto;white-space:pre-wrap}"
          "code{background:#f4f4f4;padding:0 .2em}table{border-collapse:collapse}"
          "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top;"
          "overflow-wrap:anywhere;min-width:3.5em}"
          ".flagged{background:#fff3f0}.ok{color:#060}.bad{color:#a00}p.math{white-space:pre-line}"
          "img.figure{max-width:100%;max-height:28em;border:1px solid #ccc}figure{margin:.5em 0}"
          "figcaption{color:#666;font-size:.9em}"
          "button.sort{font:inherit;font-weight:bold;background:none;border:0;padding:0;cursor:pointer}"
          "th[aria-sort=ascending] button.sort::after{content:' ▲'}th[aria-sort=descending] button.sort::after"
          "{content:' ▼'}")

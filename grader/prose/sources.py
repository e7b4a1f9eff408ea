"""Turn a hand-in file (.ipynb, .pdf, .md, .txt) into located text lines.

The result is a flat list of `Line`s that remember where they came from (notebook cell,
PDF page, line number) and on which page they sit, with page furniture (running headers,
page numbers) already marked, so segmentation never has to know the file format.

Nothing here executes anything from the file: notebooks are read as JSON, PDFs as text.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pypdf

from grader.prose.textnorm import strip_markup, words
from grader.text.files import TextEncodingError, read_hand_in_text

SUPPORTED_SUFFIXES = (".ipynb", ".pdf", ".md", ".markdown", ".txt")

# How many non-blank lines at the top/bottom of a page may hold running headers/footers.
_FURNITURE_DEPTH = 3
# A running header has at least this many words (so "Task 03" or "Answer:" never is one).
_HEADER_MIN_WORDS = 3
# A PDF page with fewer letters/digits than this but an image on it counts as scanned.
_SCANNED_MAX_CHARS = 20

_PAGE_NUMBER = re.compile(r"^\s*(?:[-–—]\s*)?(?:page\s+|seite\s+)?\d{1,3}(?:\s*(?:/|of|von)\s*\d{1,3})?(?:\s*[-–—])?\s*$", re.I)


class HandInReadError(ValueError):
    """A hand-in file could not be read; the message names the file and the problem."""


@dataclass
class Line:
    """One line of hand-in text and where it came from."""

    text: str
    where: str  # human-readable location: "line 12", "page 2", "cell 3f2a"
    page: int | None = None  # page number (1-based) for paged sources, None for notebooks
    lineno: int | None = None  # 1-based line number in a text file
    cell: str | None = None  # notebook cell id
    cell_start: bool = False  # first line of a notebook cell
    cell_type: str | None = None  # "markdown" / "code" for notebook cells
    tag_question: str | None = None  # grader metadata of the notebook cell, if any
    tag_role: str | None = None
    furniture: bool = False  # running header/footer or page number: not content


@dataclass
class Document:
    """All lines of a hand-in, plus the pages that held no extractable text."""

    path: Path
    kind: str  # "notebook" | "pdf" | "text"
    lines: list[Line] = field(default_factory=list)
    scanned_pages: list[int] = field(default_factory=list)


def read_document(path: Path) -> Document:
    """Read a hand-in into lines; raises HandInReadError for unreadable or unsupported files."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise HandInReadError(f"{path}: unsupported hand-in type {suffix or '(none)'}; expected one of {', '.join(SUPPORTED_SUFFIXES)}")
    if not path.is_file():
        raise HandInReadError(f"{path}: no such file")
    if suffix == ".ipynb":
        return _read_notebook(path)
    if suffix == ".pdf":
        return _read_pdf(path)
    return _read_text(path)


def _read_notebook(path: Path) -> Document:
    try:
        text = read_hand_in_text(path)
    except TextEncodingError as exc:
        raise HandInReadError(f"{path}: {exc.problem}") from None
    except OSError as exc:
        raise HandInReadError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for bad JSON/schema
        raise HandInReadError(f"{path}: not a readable notebook ({exc.__class__.__name__}: {exc})") from exc
    doc = Document(path=path, kind="notebook")
    for index, cell in enumerate(nb.cells):
        cell_id = str(cell.get("id") or f"#{index + 1}")
        meta = cell.get("metadata", {}).get("grader", {}) or {}
        question = meta.get("question") if isinstance(meta, dict) else None
        role = meta.get("role") if isinstance(meta, dict) else None
        if cell.get("cell_type") != "markdown":
            # Code cells carry no prose but do separate prose: keep one empty marker line.
            doc.lines.append(Line(text="", where=f"cell {cell_id}", cell=cell_id, cell_start=True, cell_type="code"))
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        for k, text in enumerate(source.splitlines() or [""]):
            doc.lines.append(
                Line(
                    text=text,
                    where=f"cell {cell_id}",
                    cell=cell_id,
                    cell_start=k == 0,
                    cell_type="markdown",
                    tag_question=str(question) if question is not None else None,
                    tag_role=str(role) if role is not None else None,
                )
            )
    return doc


def _read_text(path: Path) -> Document:
    try:
        raw = read_hand_in_text(path)
    except TextEncodingError as exc:
        raise HandInReadError(f"{path}: {exc.problem}") from None
    except OSError as exc:
        raise HandInReadError(f"{path}: cannot read ({exc})") from exc
    doc = Document(path=path, kind="text")
    page = 1
    for n, text in enumerate(raw.splitlines(), start=1):
        # A form feed is an explicit page break (some PDF-to-text converters emit one).
        if "\f" in text:
            page += text.count("\f")
            text = text.replace("\f", "")
        doc.lines.append(Line(text=text, where=f"line {n}", page=page, lineno=n))
    _mark_running_headers_in_flat_text(doc.lines)
    return doc


def _read_pdf(path: Path) -> Document:
    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted:
            raise HandInReadError(f"{path}: the PDF is encrypted; its text cannot be read")
        pages = list(reader.pages)
    except HandInReadError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise HandInReadError(f"{path}: not a readable PDF ({exc.__class__.__name__}: {exc})") from exc
    doc = Document(path=path, kind="pdf")
    per_page: list[list[Line]] = []
    for number, page in enumerate(pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception as exc:
            raise HandInReadError(f"{path}: page {number}: text extraction failed ({exc.__class__.__name__}: {exc})") from exc
        letters = sum(ch.isalnum() for ch in text)
        if letters < _SCANNED_MAX_CHARS and _page_has_image(page):
            doc.scanned_pages.append(number)
            per_page.append([])
            continue
        lines = [
            # Justified PDF text comes back with runs of spaces.
            Line(text=re.sub(r"[ \t]+", " ", t).strip(), where=f"page {number}", page=number)
            for t in text.splitlines()
        ]
        per_page.append(lines)
    _mark_page_furniture(per_page)
    for lines in per_page:
        doc.lines.extend(lines)
    return doc


def _page_has_image(page: pypdf.PageObject) -> bool:
    """Whether the page draws an image XObject (directly or inside a form XObject)."""

    def walk(resources: object, depth: int) -> bool:
        if depth > 4 or not hasattr(resources, "get"):
            return False
        xobjects = resources.get("/XObject")
        if xobjects is None:
            return False
        xobjects = xobjects.get_object()
        for ref in xobjects.values():
            obj = ref.get_object()
            subtype = obj.get("/Subtype")
            if subtype == "/Image":
                return True
            if subtype == "/Form" and walk(obj.get("/Resources", {}).get_object() if obj.get("/Resources") else {}, depth + 1):
                return True
        return False

    resources = page.get("/Resources")
    return bool(resources) and walk(resources.get_object(), 0)


def header_key(text: str) -> str:
    """A line reduced to its words, for recognising repeated headers whatever their markup."""
    return " ".join(w.casefold() for w in words(strip_markup(text).lstrip("#> ")))


def _is_page_number(text: str) -> bool:
    return bool(text.strip()) and bool(_PAGE_NUMBER.match(strip_markup(text)))


def _mark_page_furniture(pages: list[list[Line]]) -> None:
    """PDF pages: lines repeated at the top/bottom of several pages, and page numbers there."""
    edge_keys: Counter[str] = Counter()
    for lines in pages:
        seen = set()
        for line in _edge_lines(lines):
            key = header_key(line.text)
            if len(key.split()) >= _HEADER_MIN_WORDS and key not in seen:
                seen.add(key)
                edge_keys[key] += 1
    repeated = {key for key, count in edge_keys.items() if count >= 2}
    for lines in pages:
        for line in _edge_lines(lines):
            if header_key(line.text) in repeated or _is_page_number(line.text):
                line.furniture = True


def _edge_lines(lines: list[Line]) -> list[Line]:
    content = [line for line in lines if line.text.strip()]
    if len(content) <= 2 * _FURNITURE_DEPTH:
        return content
    return content[:_FURNITURE_DEPTH] + content[-_FURNITURE_DEPTH:]


def _mark_running_headers_in_flat_text(lines: list[Line]) -> None:
    """Text converted from a PDF: find the running header, split pages there, drop numbers.

    A running header is a line of a few words that opens the document and recurs later;
    each recurrence starts a new page. A lone page number just before a page start (or at
    the very end) is page furniture too.
    """
    content = [line for line in lines if line.text.strip()]
    if not content:
        return
    counts = Counter(header_key(line.text) for line in content)
    headers = {
        header_key(line.text)
        for line in content[:_FURNITURE_DEPTH]
        if counts[header_key(line.text)] >= 2 and len(header_key(line.text).split()) >= _HEADER_MIN_WORDS
    }
    if headers:
        extra_pages = 0
        for index, line in enumerate(content):
            if header_key(line.text) in headers:
                if index > 0:
                    extra_pages += 1
                    previous = content[index - 1]
                    if _is_page_number(previous.text):
                        previous.furniture = True
                line.furniture = True
            line.page = (line.page or 1) + extra_pages
        # Blank lines take the page of the content line before them.
        current = 1
        for line in lines:
            if line.text.strip():
                current = line.page or current
            else:
                line.page = current
    if _is_page_number(content[-1].text):
        content[-1].furniture = True

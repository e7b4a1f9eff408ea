"""A page of a hand-in's PDF as a PNG image, for answers that are scans or that extraction flagged.

Rendered by poppler's `pdftoppm` (Debian: `apt-get install poppler-utils`), chosen over pypdfium2 because
it is a separate program anyway: the untrusted PDF is parsed in a child process with CPU, memory and time
limits (grader/commands/review/bounded.py), never in the server, with no Python binding of a C parser loaded here;
Debian ships its security fixes. Without it the page says how to install it and links nothing.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from grader.commands.review.bounded import RenderError, run_bounded

PDFTOPPM = "pdftoppm"
_DPI = 110
_PAGES = re.compile(r"pages? (\d+)(?:\s*[-–]\s*(\d+))?")
_MAX_PAGES_SHOWN = 4
_cache: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
_lock = threading.Lock()


def pdftoppm_available() -> bool:
    return shutil.which(PDFTOPPM) is not None


def pages_of(source: str) -> list[int]:
    """The page numbers an answer's source names ("answers.pdf, page 2", "pages 3-4"), at most a few."""
    found = _PAGES.search(source)
    if found is None:
        return []
    first = int(found.group(1))
    last = int(found.group(2) or first)
    return list(range(first, min(last, first + _MAX_PAGES_SHOWN - 1) + 1))


def render_page(pdf: Path, page: int) -> bytes:
    """PNG bytes of one page (1-based). Raises RenderError."""
    if not pdftoppm_available():
        raise RenderError("PDF pages are shown with poppler's pdftoppm, which is not installed here "
                          "(apt-get install poppler-utils)")
    stat = pdf.stat()
    key = (str(pdf), int(stat.st_mtime_ns), page)
    with _lock:
        if key in _cache:
            return _cache[key]
    with tempfile.TemporaryDirectory(prefix="grader-review-page-") as folder:
        target = Path(folder) / "page"
        run_bounded([PDFTOPPM, "-png", "-r", str(_DPI), "-f", str(page), "-l", str(page), "-singlefile", str(pdf),
                     str(target)], what=f"{pdf.name}, page {page}")
        image = target.with_suffix(".png")
        if not image.is_file():
            raise RenderError(f"{pdf.name}: no page {page}")
        data = image.read_bytes()
    with _lock:
        _cache[key] = data
        while len(_cache) > 64:
            _cache.popitem(last=False)
    return data

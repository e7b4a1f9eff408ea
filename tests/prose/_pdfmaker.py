"""Render markdown-ish text into a PDF the way a real hand-in looks (tests only).

Markdown syntax is turned into typography (headings and bold in a bold face, bullets as
"•"), and a new page starts wherever the document's running header recurs, so the PDF
has the page layout of the original the markdown was converted from.
"""

from __future__ import annotations

import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import matplotlib
from fpdf import FPDF

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
_FIXED_DATE = datetime(2025, 1, 1, tzinfo=UTC)


def _font_path(name: str) -> Path:
    path = FONT_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: bundled DejaVu font missing; the PDF tests need matplotlib's fonts")
    return path


def new_pdf() -> FPDF:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("DejaVu", "", str(_font_path("DejaVuSans.ttf")))
    pdf.add_font("DejaVu", "B", str(_font_path("DejaVuSans-Bold.ttf")))
    return pdf


def _plain(line: str) -> tuple[str, bool]:
    """(text without markdown syntax, whether it was a heading or bold)."""
    bold = bool(re.match(r"^\s*(#{1,6}\s|\*\*|<b>)", line))
    text = re.sub(r"^\s*#{1,6}\s*", "", line)
    text = re.sub(r"^\s*>\s?", "", text)
    text = re.sub(r"^\s*-\s+", "• ", text)
    text = text.replace("**", "").replace("<b>", "").replace("</b>", "").replace("\t", " ")
    return text.strip(), bold


def markdown_to_pdf(markdown: str, target: Path) -> Path:
    lines = markdown.splitlines()
    running_header = _plain(lines[0])[0] if lines else ""
    pdf = new_pdf()
    pdf.set_creation_date(_FIXED_DATE)  # the same markdown gives the same bytes (a committed fixture)
    pdf.add_page()
    first = True
    for raw in lines:
        text, bold = _plain(raw)
        if text == running_header and not first:
            pdf.add_page()
        first = False
        if not text:
            pdf.ln(3)
            continue
        pdf.set_font("DejaVu", "B" if bold else "", 11)
        pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(target))
    return target


def image_only_page_pdf(target: Path, before: str, after: str | None = None) -> Path:
    """A PDF with a text page, then a page that is only a (scanned) image, then maybe text."""
    from PIL import Image

    pdf = new_pdf()
    pdf.add_page()
    pdf.set_font("DejaVu", "", 11)
    for line in before.splitlines():
        pdf.multi_cell(0, 6, line or " ", new_x="LMARGIN", new_y="NEXT")
    scan = target.with_suffix(".scan.png")
    image = Image.new("L", (400, 560), color=245)
    for y in range(60, 500, 24):  # pencil-grey "handwriting" strokes
        for x in range(40, 360):
            if (x // 7 + y) % 5:
                image.putpixel((x, y), 60)
    image.save(scan)
    pdf.add_page()
    pdf.image(str(scan), x=10, y=10, w=190)
    if after is not None:
        pdf.add_page()
        for line in after.splitlines():
            pdf.multi_cell(0, 6, line or " ", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(target))
    os.remove(scan)
    return target


if __name__ == "__main__":  # python -m tests.prose._pdfmaker FILE.md: writes FILE.pdf beside it
    for name in sys.argv[1:]:
        source = Path(name)
        print(markdown_to_pdf(source.read_text(encoding="utf-8"), source.with_suffix(".pdf")))

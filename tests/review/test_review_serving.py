"""`grader review` as a command, PDF pages of scanned answers, and the bounded child processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from grader.prose.extract import AnswerText
from grader.commands.review.bounded import Limits, RenderError, run_bounded
from grader.commands.review.pdfpage import pages_of, pdftoppm_available, render_page
from tests.conftest import REPO
from tests.review.conftest import Reviewing

_PNG = b"\x89PNG\r\n\x1a\n"


def _pdf(path: Path, pages: int) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("helvetica", size=24)
        pdf.cell(0, 20, f"Seite {number}")
    pdf.output(str(path))
    return path


def _need_pdftoppm() -> None:
    if not pdftoppm_available():
        if os.environ.get("CI") == "true":
            pytest.fail("pdftoppm must be installed in CI (apt-get install poppler-utils)")
        pytest.skip("pdftoppm is not installed (apt-get install poppler-utils)")


def test_the_command_prints_a_url_per_tutor_serves_with_its_token_and_stops(review_out: Path) -> None:
    with subprocess.Popen([sys.executable, "-m", "grader.commands.cli", "review", str(review_out), "--port", "0",
                           "--course", str(REPO), "--tutor", "ana", "--tutor", "ben"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO) as process:
        try:
            lines = []
            deadline = time.monotonic() + 60
            while len([line for line in lines if "?token=" in line]) < 2 and time.monotonic() < deadline:
                lines.append(process.stdout.readline())
            urls = [re.search(r"http://\S+", line).group(0) for line in lines if "?token=" in line]
            assert [line.split(":")[0].strip() for line in lines if "?token=" in line] == ["ana (head tutor)", "ben"]
            assert all(url.startswith("http://127.0.0.1:") and ":0/" not in url for url in urls)
            with httpx.Client() as client:
                assert client.get(urls[1]).status_code == 303  # the token sets the cookie
                assert client.get(urls[1], follow_redirects=True).status_code == 200
                assert "ben" in client.get(urls[1].split("?")[0]).text
                assert httpx.get(urls[1].split("?")[0]).status_code == 403
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
    assert process.returncode in (0, 130, -signal.SIGINT)


def test_a_missing_gradebook_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "grader.commands.cli", "review", str(tmp_path), "--course", str(REPO)],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 2 and "no gradebook here" in " ".join(done.stdout.split())


def test_a_scanned_answer_shows_its_pdf_page(reviewing: Reviewing) -> None:
    _need_pdftoppm()
    sheet = reviewing.sheet
    hand_in = sheet.hand_ins[1]
    folder = sheet.out / hand_in.record.folder / "files"
    _pdf(folder / "answers.pdf", 3)
    hand_in.record.intake.written_answers = ["answers.pdf"]
    sheet.answers[hand_in.file_name]["1a"] = AnswerText(question_id="1a", source="answers.pdf, page 2",
                                                        needs_human=True, reasons=["scanned page, no text"])
    queue = sheet.queues[("1a", "answer")]
    at = next(i for i, unit in enumerate(queue.units) if unit[0] == hand_in.file_name)
    client = reviewing.client()
    page = client.get(f"/q/1a/answer?at={at}").text
    assert f'src="/h/{hand_in.id}/pdf/1/2.png"' in page and "scanned page, no text" in page
    image = client.get(f"/h/{hand_in.id}/pdf/1/2.png")
    assert image.status_code == 200 and image.content.startswith(_PNG)
    assert client.get(f"/h/{hand_in.id}/pdf/1/9.png").status_code == 422  # no such page: a message, no crash
    assert client.get(f"/h/{hand_in.id}/pdf/0/1.png").status_code == 404  # the notebook is not a PDF


def test_pdf_pages_render_out_of_process_and_sources_name_pages(tmp_path: Path) -> None:
    _need_pdftoppm()
    assert pages_of("page 2") == [2] and pages_of("pages 3-4") == [3, 4] and pages_of("lines 4-9") == []
    assert render_page(_pdf(tmp_path / "a.pdf", 2), 2).startswith(_PNG)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is no PDF")
    with pytest.raises(RenderError, match="broken.pdf"):
        render_page(tmp_path / "broken.pdf", 1)


def test_a_child_that_spins_or_fails_is_stopped_with_a_message() -> None:
    with pytest.raises(RenderError, match="spin: took longer than 1 s"):
        run_bounded([sys.executable, "-c", "while True: pass"], limits=Limits(cpu_seconds=5, wall_seconds=1),
                    what="spin")
    with pytest.raises(RenderError, match="fail: failed .*boom"):
        run_bounded([sys.executable, "-c", "raise SystemExit('boom')"], what="fail")
    with pytest.raises(RenderError, match="hog: failed"):
        run_bounded([sys.executable, "-c", "x = bytearray(800 * 2**20)"],
                    limits=Limits(memory_bytes=400 * 2**20), what="hog")


def test_the_served_page_answers_over_real_http(reviewing: Reviewing) -> None:
    from grader.commands.review.serving import serving_sheet

    with serving_sheet(reviewing.sheet, [("ana", True)]) as (url, access), httpx.Client(base_url=url) as client:
        assert url.startswith("http://127.0.0.1:")
        assert client.get("/").status_code == 403
        assert client.get(f"/?token={access.tutors[0].token}", follow_redirects=True).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)

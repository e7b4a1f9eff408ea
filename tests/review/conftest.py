"""Fixtures of the review page's tests: a small graded output folder (tests/review/build.py) and the app."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.commands.review.app import create_app
from grader.commands.review.security import Access
from grader.commands.review.sheet import ReviewedSheet
from tests.conftest import REPO
from tests.review.build import build_out, teams

TEAMS = 6
PORT = 8899


@pytest.fixture(scope="session")
def review_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OUT with 6 hand-ins and a hostile one; the answers are read once here and cached in its gradebook."""
    out = build_out(tmp_path_factory.mktemp("review-template") / "out", teams(TEAMS, hostile=True))
    ReviewedSheet(out, course=REPO).close()
    return out


@pytest.fixture
def review_out(review_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the template for one test."""
    return Path(shutil.copytree(review_template, tmp_path / "out"))


@dataclass
class Reviewing:
    sheet: ReviewedSheet
    access: Access
    app: object

    def client(self, tutor: str = "ana"):
        from starlette.testclient import TestClient

        client = TestClient(self.app, base_url=f"http://127.0.0.1:{PORT}", follow_redirects=False)
        token = next(t.token for t in self.access.tutors if t.name == tutor)
        assert client.get(f"/?token={token}").status_code == 303
        return client

    def token(self, tutor: str) -> str:
        return next(t.token for t in self.access.tutors if t.name == tutor)


@pytest.fixture
def reviewing(review_out: Path) -> Iterator[Reviewing]:
    with reviewing_sheet(review_out) as reviewed:
        yield reviewed


@pytest.fixture
def reviewing_anonymous(review_out: Path) -> Iterator[Reviewing]:
    with reviewing_sheet(review_out, anonymous=True) as reviewed:
        yield reviewed


@contextmanager
def reviewing_sheet(out: Path, anonymous: bool = False) -> Iterator[Reviewing]:
    """The review app over OUT (for a test that builds its own OUT)."""
    sheet = ReviewedSheet(out, course=REPO)
    access = Access([("ana", True), ("ben", False)], PORT)
    try:
        yield Reviewing(sheet, access, create_app(sheet, access, anonymous=anonymous,
                                                  allowed_hosts=(f"127.0.0.1:{PORT}", f"localhost:{PORT}")))
    finally:
        sheet.close(wait_for_outputs=False)  # tests that look at the outputs flush them first


def form_of(html: str, form_id: str | None = None) -> dict[str, str]:
    """The hidden and text inputs of a page's form (the grading form by default)."""
    if form_id is not None:
        start = html.index(f'id="{form_id}"')
        html = html[start:html.index("</form>", start)]
    else:
        start = html.index('id="grade"')
        html = html[start:html.index("</form>", start)]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    return {k: v.replace("&amp;", "&") for k, v in fields.items()}

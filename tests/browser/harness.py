"""A real browser for the project's pages: Debian's Chromium, headless, driven by Playwright for Python.

Fixtures (made available to every test by tests/conftest.py):
- `chromium`: the session's browser. It starts on first use, with a fresh profile, and is closed as soon as
  the next test does not need it (Playwright's sync API marks its event loop as running in this thread while
  it is open, which would break later tests that run asyncio code, e.g. nbclient).
- `browser_page`: a fresh tab for one test (`WatchedPage`) that records console errors, uncaught exceptions,
  dialogs (alert, confirm, prompt: answered "dismiss") and every request the page makes.
- `serve_folder`: serves a folder on a free 127.0.0.1 port for a test that needs http; stopped after the test.

The browser is the system's (`apt-get install chromium chromium-driver`); Playwright's own browser download
is never used (it fails without network). GRADER_TEST_CHROMIUM points at another Chromium binary. Without
one the browser tests are skipped with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

CHROMIUM = Path(os.environ.get("GRADER_TEST_CHROMIUM", "/usr/bin/chromium"))
# The GUIDE's flags: no sandbox (tests run as root in CI), nothing the browser would fetch on its own.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1100, "height": 900}
_SESSION = pytest.StashKey["BrowserSession"]()
_LAID_OUT_AND_FONTS_LOADED = "() => { document.body.offsetHeight; return document.fonts.ready.then(() => 1); }"


def chromium_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver, or set GRADER_TEST_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    return None


class BrowserSession:
    """The one Chromium of a test session, started when a test first needs it."""

    def __init__(self) -> None:
        self._playwright = None
        self._context: BrowserContext | None = None
        self._profile: Path | None = None

    def context(self) -> BrowserContext:
        if self._context is None:
            from playwright.sync_api import sync_playwright

            self._profile = Path(tempfile.mkdtemp(prefix="grader-chromium-profile-"))
            self._playwright = sync_playwright().start()
            try:
                self._context = self._playwright.chromium.launch_persistent_context(
                    self._profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
                    viewport=VIEWPORT, device_scale_factor=1, locale="en-GB", timezone_id="Europe/Berlin")
            except BaseException:
                self.close()
                raise
        return self._context

    def launch_browser(self):
        """Another Chromium of the same kind, not persistent, for a test that needs separate browser contexts
        (each with its own cookies, like two people's browsers): `browser.new_context()`. The caller closes it."""
        self.context()
        return self._playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)

    @property
    def profile(self) -> Path | None:
        """The running browser's fresh user-data-dir (removed on close)."""
        return self._profile

    def close(self) -> None:
        try:
            if self._context is not None:
                self._context.close()
        finally:
            self._context = None
            if self._playwright is not None:
                self._playwright.stop()
                self._playwright = None
            if self._profile is not None:
                shutil.rmtree(self._profile, ignore_errors=True)
                self._profile = None


def close_browser_unless_needed(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After a test's teardown: close the browser unless the next test uses it too."""
    if nextitem is not None and "chromium" in nextitem.fixturenames:
        return
    session = item.config.stash.get(_SESSION, None)
    if session is not None:
        session.close()


def require_chromium() -> None:
    """Skip the calling test when there is no browser here; under CI=true, fail it instead."""
    reason = chromium_unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser tests must run in CI: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium(request: pytest.FixtureRequest) -> BrowserSession:
    require_chromium()
    session = request.config.stash.setdefault(_SESSION, BrowserSession())
    request.addfinalizer(session.close)
    return session


@dataclass
class WatchedPage:
    """A browser tab and what it did: console errors, uncaught exceptions, dialogs, requests."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def open(self, url: str) -> None:
        """Load `url` and wait until its scripts are done (render-math.js marks <html data-math>) and its
        fonts are loaded or failed."""
        self.page.goto(url, wait_until="load")
        if self.page.locator("script[src$='render-math.js']").count():
            self.page.wait_for_function("document.documentElement.hasAttribute('data-math')", timeout=10_000)
        # Lay the page out first, so that every font it uses has started loading before we wait for them.
        self.page.evaluate(_LAID_OUT_AND_FONTS_LOADED)

    def requests_outside(self, *allowed: str) -> list[str]:
        """Requests whose URL starts with none of `allowed` (data: URIs are the page's own bytes)."""
        return [url for url in self.requests if not url.startswith(("data:", *allowed))]

    def misbehaviour(self) -> list[str]:
        """Everything a page of ours must never do: errors on the console or uncaught, any dialog."""
        return ([f"console error: {m}" for m in self.console_errors] + [f"uncaught: {m}" for m in self.page_errors]
                + [f"dialog: {m}" for m in self.dialogs])


@pytest.fixture
def browser_page(chromium: BrowserSession) -> Iterator[WatchedPage]:
    page = chromium.context().new_page()
    watched = WatchedPage(page)
    page.on("console", lambda message: watched.console_errors.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: watched.page_errors.append(str(error)))
    page.on("dialog", lambda dialog: (watched.dialogs.append(f"{dialog.type}: {dialog.message}"), dialog.dismiss()))
    page.on("request", lambda request: watched.requests.append(request.url))
    try:
        yield watched
    finally:
        page.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def serve_folder() -> Iterator[Callable[[Path], str]]:
    """serve_folder(path) -> "http://127.0.0.1:PORT/": a static server for `path` until the test ends."""
    servers: list[tuple[http.server.ThreadingHTTPServer, threading.Thread]] = []

    def start(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"serve {folder}",
                                  daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}/"

    try:
        yield start
    finally:
        for server, thread in servers:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)

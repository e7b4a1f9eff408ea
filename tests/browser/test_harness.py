"""The browser harness itself: skipped without Chromium but failed in CI, one browser that is closed when
the tests that need it are done (so later tests can run asyncio code), a loopback server per test.

The test that uses the browser comes last, so the browser stays open into test_pages_in_chromium.py."""

from __future__ import annotations

import asyncio
import subprocess
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.browser import harness
from tests.conftest import REPO


def test_without_chromium_tests_skip_locally_and_fail_in_ci(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(harness, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium chromium-driver"):
        harness.require_chromium()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must run in CI.*no Chromium at"):
        harness.require_chromium()


def test_the_browser_is_closed_after_the_last_test_that_needs_it() -> None:
    closed = []
    config = SimpleNamespace(stash=pytest.Stash())
    config.stash[harness._SESSION] = SimpleNamespace(close=lambda: closed.append(True))
    browser_test = SimpleNamespace(config=config, fixturenames=["browser_page", "chromium"])
    other_test = SimpleNamespace(config=config, fixturenames=["tmp_path"])
    harness.close_browser_unless_needed(browser_test, browser_test)
    assert closed == []
    harness.close_browser_unless_needed(browser_test, other_test)
    harness.close_browser_unless_needed(browser_test, None)
    assert closed == [True, True]


def test_serve_folder_serves_on_loopback(serve_folder, tmp_path: Path) -> None:
    (tmp_path / "a b.html").write_text("<p>served</p>", encoding="utf-8")
    base = serve_folder(tmp_path)
    assert base.startswith("http://127.0.0.1:") and base.endswith("/")
    with urllib.request.urlopen(base + "a%20b.html", timeout=10) as response:
        assert response.read() == b"<p>served</p>"


def test_ci_and_the_readme_install_the_browser_and_show_the_screenshots() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    command = next(line for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
                   if line.startswith("apt-get"))
    assert "apt-get install -y -qq bubblewrap chromium chromium-driver" in command and "'.[test]'" in command
    assert f"\n    {command}\n" in readme, "the README's test command is the one .ci/run runs"
    for name in ("summary", "feedback", "manual"):
        assert f'src="docs/screenshots/{name}.png"' in readme
        assert (REPO / "docs" / "screenshots" / f"{name}.png").read_bytes().startswith(b"\x89PNG")


def test_a_closed_session_leaves_nothing_behind_and_starts_again(chromium: harness.BrowserSession) -> None:
    page = chromium.context().new_page()
    page.set_content("<p id=x>hello</p>")
    assert page.inner_text("#x") == "hello"
    assert page.evaluate("navigator.userAgent").find("HeadlessChrome") >= 0
    profile = chromium.profile
    assert profile is not None and profile.is_dir()
    chromium.close()
    running = subprocess.run(["pgrep", "-f", str(profile)], capture_output=True, text=True).stdout
    assert running == "" and not profile.exists()
    # Playwright's sync API marks its loop as running in this thread while it is open; closed, it is not.
    assert asyncio.run(asyncio.sleep(0, result="free")) == "free"
    again = chromium.context().new_page()
    assert again.evaluate("1 + 1") == 2

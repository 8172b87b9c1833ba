# Copyright: (c) 2026, Stratus contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real browser for the dashboard's tests: Debian's chromium (setup/apt-packages.txt), headless, driven by
playwright through its executable_path (no browser download). Screenshots go to tests/output/."""
from __future__ import annotations

import contextlib
import re
import typing as t
from pathlib import Path

from stratus_lab.paths import ROOT

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "tests" / "output"
# Headless as root in a closed network: no sandbox (root), and none of chromium's own traffic (updates, sync,
# safe browsing, QUIC): every connection it makes is to the page under test on loopback.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
         "--disable-default-apps", "--disable-extensions", "--metrics-recording-only", "--no-default-browser-check"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@contextlib.contextmanager
def chromium() -> t.Iterator[t.Any]:
    """A headless chromium (playwright gives it a new empty profile of its own), closed, its processes gone,
    at the end."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: t.Any, name: str) -> Path:
    """The page as it looks now, saved as tests/output/<name>.png (the docs show some of them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".png")
    page.screenshot(path=str(path), full_page=True)
    return path


def watched_page(browser: t.Any, viewport: t.Mapping[str, int]) -> tuple[t.Any, t.Any, list[str]]:
    """A new context and page of `browser`, and the list its scripts' errors and Content-Security-Policy
    violations are added to (a refused page's status is no error here): a test asserts it stays empty."""
    context = browser.new_context(viewport=dict(viewport))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    return context, page, errors

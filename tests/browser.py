"""Debian's Chromium through Playwright for the page tests: the browser, and a page that fails its test on any
uncaught script error or Content-Security-Policy breach. ``require_chromium()`` first."""

from __future__ import annotations

import pathlib
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def require_chromium() -> ModuleType:
    """Skip the calling test module when Debian's chromium or Playwright is missing (never `playwright install`);
    returns ``playwright.sync_api``."""
    if not pathlib.Path(CHROMIUM).is_file():
        pytest.skip(
            "Debian's chromium is not installed (apt-get install -y chromium; .ci/run does it)", allow_module_level=True
        )
    module: ModuleType = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
    return module


@contextmanager
def launched() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@contextmanager
def watched_page(browser: Browser, width: int, height: int) -> Iterator[Page]:
    """A fresh page; an uncaught script error on it, or a breach of its Content-Security-Policy, fails the test."""
    opened = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    yield opened
    opened.close()
    assert not errors, f"script errors on the page: {errors}"

"""The level played in a real browser: Debian's Chromium driven by Playwright, the page served by uvicorn.

The page's script exposes ``window.marioGame`` (position in tiles, state, ``load``), so a test can hold a key
and read where Mario went, and can load a level made for the check (a gap, a path cell) through the same code
that loads the generated one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

import gee
from mario import web

from tests.browser import launched, require_chromium, watched_page
from tests.conftest import running_server

require_chromium()
if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

SKY = (92, 148, 252)
GROUND = ["-" * 40] * 12 + ["X" * 40] * 2  # flat ground, 40 columns
GAP = ["-" * 40] * 12 + ["XXXXX" + "-" * 10 + "X" * 25] * 2  # ground, a 10-column pit at columns 5-14, ground


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    app = gee.Engine()
    app.use(gee.secure_headers())  # the policy segserve serves the page under: scripts from the page's origin only
    web.register(app)
    with running_server(app) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched() as opened:
        yield opened


@pytest.fixture
def page(browser: Browser, url: str) -> Iterator[Page]:
    """A generated level's page, its game running (``watched_page``: script errors and CSP breaches fail)."""
    with watched_page(browser, 1000, 900) as opened:
        opened.goto(f"{url}/mario?prompt=little+pipes,+no+enemies&columns=40&seed=3")
        wait_until(opened, "window.marioGame && window.marioGame.state === 'playing'", 20)
        yield opened


def wait_until(page: Page, expression: str, seconds: float = 5.0) -> None:
    """Poll ``expression`` in the page until true (``page.wait_for_function`` would need the CSP to allow eval)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {seconds} s: {expression}"
        page.wait_for_timeout(20)


def hold(page: Page, key: str, ms: int) -> None:
    page.keyboard.down(key)
    page.wait_for_timeout(ms)
    page.keyboard.up(key)


def pixel(page: Page, x: int, y: int) -> tuple[int, int, int]:
    canvas = "document.getElementById('mario-play').getContext('2d')"
    rgba = page.evaluate(f"Array.from({canvas}.getImageData({x}, {y}, 1, 1).data)")
    return rgba[0], rgba[1], rgba[2]


def test_the_generated_level_loads_into_the_game(page: Page, url: str) -> None:
    query = {"prompt": "little pipes, no enemies", "columns": "40", "seed": "3"}
    level = httpx.get(f"{url}/mario/level.json", params=query)
    rows = page.evaluate("JSON.parse(document.getElementById('mario-level').textContent).rows")
    assert rows == level.json()["level"]  # the page plays the level it shows
    wait_until(page, "document.getElementById('mario-play').getContext('2d').getImageData(8, 216, 1, 1).data[2] < 200")
    assert pixel(page, 8, 13 * 16 + 8) != SKY  # the level's picture is drawn: ground at the bottom left
    assert page.evaluate("window.marioGame.x") < 3


def test_mario_runs_right_while_the_key_is_held_and_stops_when_released(page: Page) -> None:
    page.evaluate(f"window.marioGame.load({GROUND})")
    start = page.evaluate("window.marioGame.x")
    hold(page, "ArrowRight", 600)
    moved = page.evaluate("window.marioGame.x") - start
    assert 2.0 < moved < 8.0  # 8 tiles/s for 0.6 s, give or take the frames around the key events
    resting = page.evaluate("window.marioGame.x")
    page.wait_for_timeout(300)
    assert page.evaluate("window.marioGame.x") == resting
    assert page.evaluate("window.marioGame.state") == "playing"


def test_a_fall_into_a_gap_ends_the_run_and_r_starts_again(page: Page) -> None:
    page.evaluate(f"window.marioGame.load({GAP})")
    page.keyboard.down("ArrowRight")
    wait_until(page, "window.marioGame.state === 'dead'")
    page.keyboard.up("ArrowRight")
    assert 4 <= page.evaluate("window.marioGame.x") < 15  # inside the pit
    assert "Fell into a gap" in page.inner_text("#mario-status")
    page.keyboard.press("r")
    assert page.evaluate("window.marioGame.state") == "playing" and page.evaluate("window.marioGame.x") < 1


def test_a_jump_clears_the_gap_the_agent_would(page: Page) -> None:
    page.evaluate(f"window.marioGame.load({['-' * 40] * 12 + ['XXXXX' + '-' * 4 + 'X' * 31] * 2})")
    page.keyboard.down("ArrowRight")
    wait_until(page, "window.marioGame.x > 3.2")
    hold(page, "ArrowUp", 150)
    wait_until(page, "window.marioGame.x > 12")
    page.keyboard.up("ArrowRight")
    assert page.evaluate("window.marioGame.state") == "playing"


def test_the_agents_path_is_drawn_on_request(page: Page) -> None:
    page.evaluate(f"window.marioGame.load({GROUND}, [[20, 11]])")
    cell = (20 * 16 + 8, 11 * 16 + 8)  # the camera starts at column 0; the canvas shows 40 columns
    page.wait_for_timeout(100)
    assert pixel(page, *cell) == SKY
    page.check("#mario-show-path")
    page.wait_for_timeout(100)
    shown = pixel(page, *cell)
    assert shown != SKY and all(c > s for c, s in zip(shown[:2], SKY[:2], strict=True))  # whitened

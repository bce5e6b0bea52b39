"""The web page in a real browser: Debian's Chromium driven by Playwright (no downloaded browsers)."""

from __future__ import annotations

import pathlib
import shutil

import pytest

from tests.imagefiles import png_bytes
from tests.segserve.conftest import SAMPLES, Node, phantom

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not pathlib.Path(CHROMIUM).is_file():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium; .ci/run does it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


def test_upload_shows_overlay_legend_and_spectra(browser, node: Node, tmp_path: pathlib.Path) -> None:  # type: ignore[no-untyped-def]
    upload = tmp_path / "phantom.png"
    upload.write_bytes(png_bytes(phantom()))
    page = browser.new_page()
    try:
        page.goto(node.url + "/")
        page.set_input_files("#file", str(upload))
        page.click("#upload button[type=submit]")
        page.wait_for_selector("body[data-state=done]", timeout=15000)
        assert page.locator("#legend tr[data-class=liver]").get_attribute("class") == "present"
        assert int(page.locator("#legend tr[data-class=liver] .pixels").inner_text().replace(",", "")) > 5000
        assert "liver" in page.locator("#status").inner_text()
        size = page.evaluate("[document.getElementById('overlay').width, document.getElementById('overlay').height]")
        assert size == [256, 200]
        coloured = page.evaluate(
            "(() => { const d = document.getElementById('overlay').getContext('2d')"
            ".getImageData(100, 80, 1, 1).data; return d[0] !== d[1] || d[1] !== d[2]; })()"
        )
        assert coloured  # a liver pixel is tinted with the liver's colour
        assert page.locator("#magnitude").get_attribute("src").startswith("data:image/png")
    finally:
        page.close()


def test_bundled_sample_button(browser, bundled: pathlib.Path) -> None:  # type: ignore[no-untyped-def]
    if not list(SAMPLES.glob("*.png")):
        pytest.skip(f"no bundled sample PNGs in {SAMPLES}")
    node = Node(bundled).start()
    page = browser.new_page()
    try:
        page.goto(node.url + "/")
        page.locator("button.sample").first.click()
        page.wait_for_selector("body[data-state=done]", timeout=30000)
        assert page.locator("#legend tr.present").count() >= 1
    finally:
        page.close()
        node.stop()

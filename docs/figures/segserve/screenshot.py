"""The viewer's screenshot: a real segserve node (the bundled model) segments the NIfTI sample, and Debian's Chromium,
driven by Playwright, shows the job done on the sample's slice with the most organ pixels.

    .venv/bin/python docs/figures/segserve/screenshot.py [--out docs/figures/segserve/viewer.png]

It uses the test suite's ``Node`` (``tests/segserve/conftest.py``: ``python -m segserve`` on free ports, started
once it prints its ready line) and never downloads a browser. The PNG is written losslessly, or with its colours
reduced to a palette when that is what keeps it under ``--max-kb``.
"""

from __future__ import annotations

import argparse
import io
import pathlib
import shutil
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))  # the repository's tests package, for Node

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import FloatRect, Page, sync_playwright  # noqa: E402

from tests.segserve.conftest import BUNDLED, SAMPLES, Node  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
SAMPLE = SAMPLES / "ct_btcv_b_3slices.nii.gz"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DONE_MS = 180_000  # the bundled model on 3 slices of 512 x 512 on a slow machine


def labels_of(node: Node, job_id: str, index: int) -> np.ndarray:
    """The job's axial label slice ``index`` (class indices), as the page draws it."""
    response = httpx.get(f"{node.url}/v1/jobs/{job_id}/labels/axial/{index}", timeout=30)
    response.raise_for_status()
    return np.asarray(Image.open(io.BytesIO(response.content)))


def show_richest_slice(page: Page, node: Node) -> None:
    """Go (with the keyboard, as a reader would) to the axial slice with the most labelled pixels, and point at the
    largest organ there so the probe names it."""
    job_id = page.evaluate("document.body.dataset.job")
    count = httpx.get(f"{node.url}/v1/jobs/{job_id}", timeout=10).json()["views"]["axial"]["count"]
    slices = [labels_of(node, job_id, i) for i in range(count)]
    best = max(range(count), key=lambda i: int((slices[i] > 0).sum()))
    page.focus("#view")
    page.keyboard.press("Home")
    for _ in range(best):
        page.keyboard.press("ArrowUp")
    page.wait_for_selector(f"#view[data-index='{best}'][data-overlay=true]", timeout=10_000)
    labels = slices[best]
    classes, sizes = np.unique(labels[labels > 0], return_counts=True)
    rows, cols = np.nonzero(labels == classes[np.argmax(sizes)])
    middle = len(rows) // 2
    box = page.locator("#view").bounding_box()
    assert box is not None
    x = box["x"] + (cols[middle] + 0.5) * box["width"] / labels.shape[1]
    y = box["y"] + (rows[middle] + 0.5) * box["height"] / labels.shape[0]
    page.mouse.move(x, y)
    page.wait_for_selector("#probe:not(:empty)", timeout=5_000)


def capture(out: pathlib.Path, max_kb: int) -> tuple[int, bool]:
    """Run node and browser, write the screenshot to ``out``; its size in bytes and whether it was quantised."""
    node = Node(BUNDLED).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page(viewport={"width": 1240, "height": 900}, device_scale_factor=1)
            page.goto(node.url + "/")
            page.set_input_files("#file", str(SAMPLE))
            page.click("#upload button[type=submit]")
            page.wait_for_selector("body[data-state=done]", timeout=DONE_MS)
            show_richest_slice(page, node)
            page.evaluate("document.activeElement.blur()")  # no focus ring in the figure
            top = page.locator("header").bounding_box()
            bottom = page.locator("#viewer").bounding_box()
            assert top is not None and bottom is not None
            clip: FloatRect = {"x": 0, "y": 0, "width": 1240, "height": bottom["y"] + bottom["height"] + top["y"]}
            shot = page.screenshot(clip=clip, full_page=True)
            browser.close()
    finally:
        node.stop()
    return write_png(Image.open(io.BytesIO(shot)).convert("RGB"), out, max_kb)


def write_png(image: Image.Image, out: pathlib.Path, max_kb: int) -> tuple[int, bool]:
    """Lossless when that fits ``max_kb``, else reduced to a 256-colour palette (no dithering: flat UI stays flat)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    quantised = buffer.tell() >= max_kb * 1000
    if quantised:
        buffer = io.BytesIO()
        palette = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        palette.save(buffer, format="PNG", optimize=True)
    if buffer.tell() >= max_kb * 1000:
        raise SystemExit(f"the screenshot is {buffer.tell() // 1000} kB even as a palette image, over {max_kb} kB")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buffer.getvalue())
    return buffer.tell(), quantised


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=pathlib.Path, default=HERE / "viewer.png")
    parser.add_argument("--max-kb", type=int, default=300, help="the largest PNG to write (kB, 1000 bytes)")
    args = parser.parse_args()
    if not BUNDLED.is_file():
        raise SystemExit(f"no bundled model at {BUNDLED}")
    if not pathlib.Path(CHROMIUM).is_file():
        raise SystemExit("Debian's chromium is not installed (apt-get install -y chromium)")
    start = time.perf_counter()
    size, quantised = capture(args.out, args.max_kb)
    how = "a 256-colour palette" if quantised else "lossless"
    print(f"wrote {args.out} ({size / 1000:.0f} kB, {how}) in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

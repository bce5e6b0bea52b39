"""The viewer page in a real browser: Debian's Chromium driven by Playwright (no downloaded browsers).

The checks compare the canvas, pixel for pixel, with what the server renders for the job (its image slice in the
window chosen and its label slice, coloured with the legend's colours at the opacity chosen), so a test fails when
the page draws the wrong slice, the wrong window, or labels that are misplaced, miscoloured or not hidden.
"""

from __future__ import annotations

import base64
import io
import pathlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pytest

from tests.browser import launched, require_chromium, watched_page
from tests.imagefiles import dicom_series, nifti_bytes, png_bytes
from tests.segserve import standin_model
from tests.segserve.conftest import LIVER, SAMPLES, Node, hu_for, phantom

NIFTI_SAMPLE = SAMPLES / "ct_btcv_b_3slices.nii.gz"
DONE = "body[data-state=done]"
BUNDLED_MS = 90_000  # the bundled model on 3 slices of 512 x 512, on 2 slow cores with a browser beside it
STANDIN_MS = 30_000
CANVAS_BYTES = """() => {
  const canvas = document.getElementById("view");
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let text = "";
  for (let i = 0; i < data.length; i += 8192) text += String.fromCharCode(...data.subarray(i, i + 8192));
  return [canvas.width, canvas.height, btoa(text)];
}"""

sync_api = require_chromium()
if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched() as opened:
        yield opened


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with watched_page(browser, 1280, 900) as opened:
        yield opened


@pytest.fixture(scope="module")
def bundled_node(bundled: pathlib.Path) -> Iterator[Node]:
    server = Node(bundled).start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- what the page shows, and what it should show


def canvas_pixels(page: Page) -> np.ndarray:
    """The viewer canvas's RGB pixels, [rows, cols, 3]."""
    width, height, data = page.evaluate(CANVAS_BYTES)
    return np.frombuffer(base64.b64decode(data), np.uint8).reshape(height, width, 4)[..., :3]


def server_png(node: Node, path: str) -> np.ndarray:
    from PIL import Image

    response = httpx.get(node.url + path, timeout=30)
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)))


def job_of(page: Page, node: Node) -> dict[str, Any]:
    """The page's job (body[data-job]), as the server describes it."""
    job_id = page.evaluate("document.body.dataset.job")
    assert job_id, "the page names no job"
    response = httpx.get(f"{node.url}/v1/jobs/{job_id}", timeout=10)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def slice_url(job: dict[str, Any], kind: str, plane: str, index: int) -> str:
    return str(job["urls"][kind]).replace("{plane}", plane).replace("{index}", str(index))


def legend(page: Page) -> list[dict[str, str]]:
    """The legend's rows: index, class (name) and colour."""
    rows: list[dict[str, str]] = page.evaluate("[...document.querySelectorAll('#legend tbody tr')].map(r => r.dataset)")
    return rows


def legend_colours(page: Page) -> dict[int, tuple[int, int, int]]:
    """Each class's colour as (r, g, b), from the legend's "#rrggbb"."""
    colours = {}
    for row in legend(page):
        hex_colour = row["colour"]
        colours[int(row["index"])] = (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))
    return colours


def composite(
    grey: np.ndarray, labels: np.ndarray, colours: dict[int, tuple[int, int, int]], alpha: float, hidden: set[int]
) -> np.ndarray:
    """The slice as the page must draw it: grey, and each visible class's colour blended in at ``alpha``."""
    out = np.repeat(grey[..., None].astype(np.float64), 3, axis=2)
    for index, colour in colours.items():
        if index in hidden:
            continue
        mask = labels == index
        out[mask] = out[mask] + (np.array(colour, np.float64) - out[mask]) * alpha
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def shown(page: Page, plane: str, index: int, overlay: bool = True, window: tuple[int, int] | None = None) -> None:
    """Wait until the canvas says it shows ``plane`` slice ``index`` (with labels, in ``window``)."""
    selector = f"#view[data-plane={plane}][data-index='{index}'][data-overlay={str(overlay).lower()}]"
    if window is not None:
        selector += f"[data-level='{window[0]}'][data-width='{window[1]}']"
    page.wait_for_selector(selector, timeout=10_000)


def assert_slice_drawn(
    page: Page,
    node: Node,
    job: dict[str, Any],
    plane: str,
    index: int,
    *,
    alpha: float,
    window: tuple[int, int] | None = None,
    hidden: frozenset[int] = frozenset(),
) -> tuple[np.ndarray, np.ndarray]:
    """The canvas equals the server's image slice (in ``window``) with its label slice over it; both returned."""
    query = f"?level={window[0]}&width={window[1]}" if window else ""
    grey = server_png(node, slice_url(job, "image", plane, index) + query)
    labels = server_png(node, slice_url(job, "labels", plane, index))
    drawn = canvas_pixels(page)
    assert drawn.shape[:2] == grey.shape == labels.shape
    expected = composite(grey, labels, legend_colours(page), alpha, set(hidden))
    wrong = np.abs(drawn.astype(int) - expected).max(axis=2) > 1
    assert not wrong.any(), f"{int(wrong.sum())} pixels differ from the server's {plane} slice {index}"
    return grey, labels


def set_range(page: Page, selector: str, value: int) -> None:
    page.locator(selector).fill(str(value))
    assert page.locator(selector).input_value() == str(value)


def upload(page: Page, node: Node, *files: pathlib.Path) -> None:
    page.goto(node.url + "/")
    page.set_input_files("#file", [str(f) for f in files])
    page.click("#upload button[type=submit]")


# ---------------------------------------------------------------- the tests


def test_nifti_volume_slices_classes_and_window(page: Page, bundled_node: Node) -> None:
    """The NIfTI sample with the bundled model: progress to the end, browse slices, hide a class, change window."""
    upload(page, bundled_node, NIFTI_SAMPLE)
    page.wait_for_selector(DONE, timeout=BUNDLED_MS)
    job = job_of(page, bundled_node)
    assert job["status"] == "done"
    assert job["input"]["format"] == "nifti" and job["input"]["intensity"] in ("hu", "raw")  # NIfTI names no modality
    progress = page.evaluate("(p => [p.value, p.max])(document.getElementById('progress'))")
    assert progress == [job["total"], job["total"]] and job["total"] > 0
    href = page.locator("#download-nifti").get_attribute("href")
    assert href == f"/v1/jobs/{job['id']}/result?format=nifti"
    count = job["views"]["axial"]["count"]
    assert count == 3
    shown(page, "axial", 1)  # it opens on the middle slice
    assert page.locator("#slice-label").inner_text() == "slice 2 / 3"

    # Browse: Home, the wheel, End; each slice is the server's with its labels at full opacity.
    set_range(page, "#opacity", 100)
    page.focus("#view")
    page.keyboard.press("Home")
    shown(page, "axial", 0)
    _, first = assert_slice_drawn(page, bundled_node, job, "axial", 0, alpha=1.0)
    page.hover("#view")
    page.mouse.wheel(0, -120)  # wheel up: the next slice
    shown(page, "axial", 1)
    assert page.locator("#slice-label").inner_text() == "slice 2 / 3"
    page.focus("#view")
    page.keyboard.press("End")
    shown(page, "axial", 2)
    assert page.locator("#slice").input_value() == "2"
    _, last = assert_slice_drawn(page, bundled_node, job, "axial", 2, alpha=1.0)
    areas = [{int(k): int((s == k).sum()) for k in np.unique(s) if k} for s in (first, last)]
    assert areas[0] and areas[1] and areas[0] != areas[1], f"slices 0 and 2 have the same organ areas: {areas}"

    # The legend's statistics, and a class switched off: its pixels go back to grey, the others stay coloured.
    names = {int(r["index"]): r["class"] for r in legend(page)}
    largest = max(areas[1], key=lambda k: areas[1][k])
    row = page.locator(f"#legend tr[data-class={names[largest]}]")
    assert "present" in (row.get_attribute("class") or "")
    assert float(row.locator(".volume").inner_text()) > 0
    assert re.fullmatch(r"-?\d+ ± \d+", row.locator(".hu").inner_text())
    row.locator("input[type=checkbox]").uncheck()
    assert_slice_drawn(page, bundled_node, job, "axial", 2, alpha=1.0, hidden=frozenset({largest}))
    colour = np.array(legend_colours(page)[largest])
    assert not (canvas_pixels(page) == colour).all(axis=2).any()

    # The window: the image slice is fetched again in the bone window.
    set_range(page, "#opacity", 0)
    abdomen, _ = assert_slice_drawn(page, bundled_node, job, "axial", 2, alpha=0.0, window=(40, 400))
    page.select_option("#window", "bone")
    shown(page, "axial", 2, window=(400, 1800))
    assert (page.locator("#level").input_value(), page.locator("#width").input_value()) == ("400", "1800")
    bone, _ = assert_slice_drawn(page, bundled_node, job, "axial", 2, alpha=0.0, window=(400, 1800))
    assert (abdomen != bone).mean() > 0.2  # the body (a third of the slice) looks different; the air stays black

    # Another plane, shown with the pixels' physical aspect.
    page.select_option("#plane", "coronal")
    coronal = job["views"]["coronal"]
    shown(page, "coronal", (coronal["count"] - 1) // 2, window=(400, 1800))
    box = page.locator("#view").bounding_box()
    assert box is not None
    want = coronal["height"] * coronal["aspect"] / coronal["width"]
    assert box["height"] / box["width"] == pytest.approx(want, rel=0.05)


def test_dicom_series_of_several_files(page: Page, node: Node, tmp_path: pathlib.Path) -> None:
    """A DICOM series sent as several files: the anatomy is drawn under the mask, and DICOM SEG is offered."""
    volume = np.full((5, 64, 96), -1000.0)  # air
    volume[:, 8:56, 8:88] = -500.0  # a body the stand-in leaves unlabelled, visible in the lung window
    volume[1:4, 20:44, 20:60] = hu_for(LIVER)
    paths = []
    for name, data in dicom_series(volume):
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    upload(page, node, *paths)
    page.wait_for_selector(DONE, timeout=STANDIN_MS)
    job = job_of(page, node)
    assert job["input"]["format"] == "dicom" and job["views"]["axial"]["count"] == 5
    assert page.locator("#download-seg").is_visible()
    assert "format=dicom-seg" in (page.locator("#download-seg").get_attribute("href") or "")
    shown(page, "axial", 2)
    grey, labels = assert_slice_drawn(page, node, job, "axial", 2, alpha=0.5, window=(40, 400))
    assert (labels == LIVER).sum() > 500 and grey[labels == LIVER].min() > 50  # the liver's grey under its colour

    page.select_option("#window", "lung")
    shown(page, "axial", 2, window=(-600, 1500))
    grey, labels = assert_slice_drawn(page, node, job, "axial", 2, alpha=0.5, window=(-600, 1500))
    outside = canvas_pixels(page)[labels == 0]
    assert (outside.min(axis=1) > 100).sum() > 1000  # the body outside the mask is drawn grey, not black


def test_png_picture(page: Page, node: Node, tmp_path: pathlib.Path) -> None:
    """A picture: one slice, no window (grey levels), the mask over its own grey, and the spectra on demand."""
    picture = tmp_path / "phantom.png"
    picture.write_bytes(png_bytes(phantom()))
    upload(page, node, picture)
    page.wait_for_selector(DONE, timeout=STANDIN_MS)
    job = job_of(page, node)
    assert job["input"]["intensity"] == "grey"
    assert page.evaluate("(v => [v.width, v.height])(document.getElementById('view'))") == [256, 200]
    shown(page, "axial", 0)
    _, labels = assert_slice_drawn(page, node, job, "axial", 0, alpha=0.5)
    assert labels[80, 100] == LIVER
    assert "present" in (page.locator("#legend tr[data-class=liver]").get_attribute("class") or "")
    assert "liver" in page.locator("#status").inner_text()
    assert page.locator("#window").is_disabled() and page.locator("#level").is_disabled()
    disabled = "[...document.getElementById('plane').options].filter(o => o.disabled).map(o => o.value)"
    assert page.evaluate(disabled) == ["coronal", "sagittal"]
    assert page.locator("#slice").is_disabled()
    assert page.locator("#download-nifti").is_visible() and not page.locator("#download-seg").is_visible()
    page.click("#spectra summary")
    page.wait_for_selector("#magnitude[src^='data:image/png']", timeout=10_000)


def test_polls_when_the_event_stream_fails(page: Page, node: Node, tmp_path: pathlib.Path) -> None:
    """With the event stream refused, the page polls the job every 500 ms until it is done."""
    image = phantom()
    image[150:190, 60:120] = image[40, 30]  # a picture no earlier test sent: a new job, not a finished one
    picture = tmp_path / "other.png"
    picture.write_bytes(png_bytes(image))
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if re.search(r"/v1/jobs/[^/]+$", r.url) else None)
    page.route("**/events", lambda route: route.abort())
    upload(page, node, picture)
    page.wait_for_selector(DONE, timeout=STANDIN_MS)
    assert polls, "the page never polled the job"


def test_bundled_sample_buttons(page: Page, bundled_node: Node) -> None:
    page.goto(bundled_node.url + "/")
    assert page.locator("button.sample[data-kind=nifti]").count() == 1
    page.locator("button.sample[data-kind=png]").first.click()
    page.wait_for_selector(DONE, timeout=BUNDLED_MS)
    assert page.locator("#legend tr.present").count() >= 1
    page.locator("button.sample[data-kind=nifti]").click()
    sync_api.expect(page.locator("#slice-label")).to_have_text("slice 2 / 3", timeout=BUNDLED_MS)  # the volume's
    page.wait_for_selector(DONE, timeout=BUNDLED_MS)
    assert page.locator("#legend tr.present").count() >= 1


def test_cancel(page: Page, tmp_path: pathlib.Path) -> None:
    """Cancel stops a running job: the anatomy is shown while the model runs, then the page and the server say
    cancelled. The model is slow enough (about 20 s for these 256 slices on 2 cores) that the job is still running
    when the page, a second after it started, cancels it."""
    import onnx

    model = tmp_path / "slower.onnx"
    onnx.save(standin_model.build(slow=12, width=64), str(model))
    volume = np.zeros((256, 256, 256), np.int16)
    volume[60:200, 40:180, :] = round(hu_for(LIVER))
    path = tmp_path / "long.nii.gz"
    path.write_bytes(nifti_bytes(volume, gz=True))
    server = Node(model).start()
    try:
        upload(page, server, path)
        sync_api.expect(page.locator("#progress")).to_have_attribute("max", "256", timeout=STANDIN_MS)  # running
        shown(page, "axial", 127, overlay=False)
        page.click("#cancel")
        page.wait_for_selector("body[data-state=cancelled]", timeout=10_000)
        assert "cancelled" in page.locator("#status").inner_text()
        job = job_of(page, server)
        assert job["status"] == "cancelled" and job["done"] < job["total"]
    finally:
        server.stop()


def test_error_shows_the_servers_message(page: Page, node: Node, tmp_path: pathlib.Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"these are not the pixels you are looking for\n")
    answer = httpx.post(node.url + "/v1/jobs", files={"file": ("notes.txt", notes.read_bytes())}, timeout=10)
    assert answer.status_code >= 400
    message = answer.json()["error"]["message"]
    upload(page, node, notes)
    page.wait_for_selector("#status.error", timeout=10_000)
    assert message in page.locator("#status").inner_text()
    assert page.evaluate("document.body.dataset.state") == "error"

"""The HTTP API end to end, against a real node process on 127.0.0.1."""

from __future__ import annotations

import gzip
import pathlib

import httpx
import numpy as np
import pytest

from tests.imagefiles import dicom_bytes, enhanced_ct_bytes, nifti_bytes, png_bytes, png_header_only
from tests.segserve.conftest import LIVER, SAMPLES, Node, hu_for, labels_of, phantom


def post(node: Node, body: bytes, **params: str) -> httpx.Response:
    return httpx.post(f"{node.url}/v1/segment", content=body, params=params, timeout=30)


def test_png_in_png_out_has_the_input_shape_and_the_organ(node: Node) -> None:
    image = phantom()
    response = post(node, png_bytes(image), format="png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    labels = labels_of(response.content)
    assert labels.shape == image.shape
    assert (labels[50:110, 40:190] == LIVER).all()  # inside the rectangle, away from its blurred edge
    assert (labels[150:, :] == 0).all()


def test_json_by_accept_header_and_cache_hit(node: Node) -> None:
    body = png_bytes(phantom(64, 96))
    first = httpx.post(f"{node.url}/v1/segment", content=body, headers={"accept": "application/json"})
    again = httpx.post(f"{node.url}/v1/segment", content=body, headers={"accept": "application/json"})
    assert first.status_code == 200 and first.json()["shape"] == [64, 96]
    assert "liver" in first.json()["present"] and again.headers["x-cache"] == "hit"
    assert first.content == again.content


def test_multipart_upload_with_class_subset(node: Node) -> None:
    files = {"file": ("slice.png", png_bytes(phantom()), "image/png")}
    response = httpx.post(f"{node.url}/v1/segment", files=files, data={"classes": "liver", "format": "json"})
    assert response.status_code == 200
    assert [c["name"] for c in response.json()["classes"]] == ["liver"]


def test_dicom_gets_areas_in_mm2(node: Node) -> None:
    hu = np.full((128, 96), -1000.0)
    hu[20:100, 10:80] = hu_for(LIVER)
    result = post(node, dicom_bytes(hu, spacing=(0.75, 0.75)), format="json").json()
    liver = next(c for c in result["classes"] if c["name"] == "liver")
    assert result["shape"] == [128, 96] and result["spacing_source"] == "dicom"
    assert liver["pixels"] > 0.8 * 80 * 70 and liver["area_mm2"] == pytest.approx(liver["pixels"] * 0.5625)


@pytest.mark.parametrize(
    "axes",
    [[1.5, 1.5, 3.0], [-1.5, -1.5, 3.0], [1.5, -1.5, -3.0]],
    ids=["RAS", "LPS", "RPI"],  # the model sees RAS; the answer must land on the input's own voxels
)
def test_nifti_volume_answers_nifti_with_the_same_affine(node: Node, axes: list[float]) -> None:
    import nibabel as nib

    volume = np.full((64, 48, 5), -1000, np.int16)
    volume[4:30, 8:40, 1:4] = round(hu_for(LIVER))  # off-centre: a flip left in place would show
    affine = np.diag([*axes, 1.0])
    affine[:3, 3] = [-100, 50, 7]
    response = post(node, nifti_bytes(volume, affine, gz=True), format="nifti")
    assert response.status_code == 200
    image = nib.Nifti1Image.from_bytes(gzip.decompress(response.content))
    labels = np.asarray(image.dataobj)
    assert labels.shape == volume.shape and np.allclose(image.affine, affine)
    assert (labels[10:25, 15:30, 2] == LIVER).all() and (labels[:, :, 0] != LIVER).all()
    assert (labels[40:] != LIVER).all()
    volumes = post(node, nifti_bytes(volume, affine), format="json").json()
    liver = next(c for c in volumes["classes"] if c["name"] == "liver")
    assert liver["volume_mm3"] == pytest.approx(liver["pixels"] * 1.5 * 1.5 * 3.0)


@pytest.mark.parametrize(
    ("body", "params", "status", "code"),
    [
        (b"not an image at all", {}, 415, "unsupported_format"),
        (png_bytes(phantom())[:100], {}, 400, "bad_input"),
        (png_header_only(20000, 20000), {}, 413, "image_too_large"),
        (dicom_bytes(None), {}, 400, "bad_input"),
        (png_bytes(phantom()), {"format": "bmp"}, 400, "unknown_format"),
        (png_bytes(phantom()), {"classes": "liver,heart"}, 400, "unknown_class"),
        (png_bytes(phantom()), {"spacing": "abc"}, 400, "bad_input"),
        (b"x" * (5 << 20), {}, 413, "body_too_large"),
        (nifti_bytes(np.zeros((8, 8, 2), np.int16), np.full((4, 4), np.nan)), {}, 400, "bad_input"),
        (nifti_bytes(np.zeros((8, 8, 2), np.int16), np.zeros((4, 4))), {}, 400, "bad_input"),
        (nifti_bytes(np.zeros((8, 8, 2), np.int16), np.diag([1e4, 1e4, 1.0, 1.0])), {}, 413, "image_too_large"),
        (dicom_bytes(np.zeros((8, 8)), modality="MR"), {}, 422, "unusable_image"),
        (dicom_bytes(np.zeros((8, 8)), orientation=(0.6, 0.8, 0, -0.8, 0.6, 0)), {}, 422, "unusable_image"),
        (dicom_bytes(np.zeros((8, 8)), orientation=(0, 1, 0, 0, 0, -1)), {}, 422, "unusable_image"),
    ],
    ids=[
        *("not-image", "truncated", "huge", "dicom-no-pixels", "format", "class", "spacing", "body-limit"),
        *("nan-affine", "zero-affine", "huge-voxels", "mr-for-ct", "oblique", "lone-sagittal"),
    ],
)
def test_bad_input_gets_a_clear_json_error(node: Node, body: bytes, params: dict, status: int, code: str) -> None:
    response = post(node, body, **params)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and len(error["message"]) > 20
    if code in ("unknown_format", "unknown_class"):
        assert error["valid"]
    assert httpx.get(f"{node.url}/healthz").json()["status"] == "ok"  # and the node still serves


def test_enhanced_ct_is_read_from_its_functional_groups(node: Node) -> None:
    """Water stored as 1024 with the intercept only in the shared functional group: the stand-in sees 0 HU."""
    stored = np.full((2, 32, 32), 1024 + round(hu_for(LIVER)), np.uint16)
    result = post(node, enhanced_ct_bytes(stored, spacing=(0.75, 0.75)), format="json").json()
    liver = next(c for c in result["classes"] if c["index"] == LIVER)
    assert result["shape"] == [2, 32, 32] and liver["pixels"] > 0.7 * 2 * 32 * 32  # edges: the box filter pads
    assert result["spacing_mm"] == pytest.approx([2.5, 0.75, 0.75])


def test_rgba_and_16_bit_pngs_are_accepted(node: Node) -> None:
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., :3] = round(255 * LIVER / 12)
    rgba[..., 3] = 255
    assert post(node, png_bytes(rgba, "RGBA"), format="json").status_code == 200
    deep = np.full((32, 32), round(65535 * LIVER / 12), np.uint16)
    assert "liver" in post(node, png_bytes(deep), format="json").json()["present"]


def test_models_healthz_metrics_and_page(node: Node) -> None:
    model = httpx.get(f"{node.url}/v1/models").json()["models"][0]
    assert model["classes"][5] == "liver" and model["provider"] == "CPUExecutionProvider"
    assert len(model["sha256"]) == 64 and model["input"]["multiple_of"] == 16
    assert httpx.get(f"{node.url}/healthz").json()["model"] == model["sha256"]
    metrics = httpx.get(f"{node.url}/metrics").text
    assert "segserve_inferences_total" in metrics and 'geecache_gets_total{group="segserve-results"}' in metrics
    page = httpx.get(f"{node.url}/")
    assert page.status_code == 200 and "liver" in page.text and "/static/app.js" in page.text
    assert httpx.get(f"{node.url}/static/app.js").status_code == 200
    spectra = httpx.post(f"{node.url}/v1/spectra", content=png_bytes(phantom())).json()
    assert spectra["magnitude"].startswith("data:image/png;base64,")


def test_bundled_model_finds_liver_in_a_bundled_sample(bundled: pathlib.Path) -> None:
    samples = sorted(SAMPLES.glob("*.png"))
    if not samples:
        pytest.skip(f"no bundled sample PNGs in {SAMPLES}")
    with_node = Node(bundled).start()
    try:
        found = set()
        for sample in samples:
            result = post(with_node, sample.read_bytes(), format="json").json()
            found.update(result["present"])
            assert result["shape"] == list(labels_of(png_bytes_of(sample)).shape)
        assert "liver" in found
    finally:
        with_node.stop()


def png_bytes_of(path: pathlib.Path) -> bytes:
    from PIL import Image

    with Image.open(path) as image:
        return png_bytes(np.asarray(image.convert("L")))


def test_a_dicom_series_uploaded_as_several_files_is_one_volume(node: Node) -> None:
    from tests.imagefiles import dicom_series

    volume = np.full((3, 32, 40), hu_for(LIVER))
    files = [("file", (name, data, "application/dicom")) for name, data in dicom_series(volume, spacing=(0.75, 0.75))]
    answer = httpx.post(f"{node.url}/v1/segment", files=files, params={"format": "json"}, timeout=30)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["shape"] == [3, 32, 40] and result["spacing_mm"] == pytest.approx([2.0, 0.75, 0.75])
    assert "liver" in result["present"]
    again = httpx.post(f"{node.url}/v1/segment", files=files[::-1], params={"format": "json"}, timeout=30)
    assert again.headers["x-cache"] == "hit"  # the same files in another order: the same input


def test_the_model_files_post_processing_keeps_each_organs_largest_piece(tmp_path: pathlib.Path) -> None:
    """A model file that says ``largest-component``: of two liver-bright regions only the larger is labelled."""
    import onnx

    from tests.processes import running
    from tests.segserve import standin_model

    path = tmp_path / "largest.onnx"
    onnx.save(standin_model.build(postprocess="largest-component"), str(path))
    image = np.zeros((128, 128), np.uint8)
    image[10:50, 10:60] = 106  # 106 / 255 is nearest the liver's centre, 5 / 12
    image[80:100, 80:100] = 106
    with running([Node(path)]) as (node,):
        model = httpx.get(f"{node.url}/v1/models", timeout=10).json()["models"][0]
        labels = labels_of(post(node, png_bytes(image), format="png").content)
    assert model["postprocess"] == "largest-component"
    assert (labels[15:45, 15:55] == LIVER).all() and not (labels[75:105, 75:105] == LIVER).any()

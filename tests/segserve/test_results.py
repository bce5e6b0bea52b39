"""Label maps: the cache's serial form, PNG / NIfTI / JSON answers, RLE, format and class choice."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from segserve.errors import ServiceError
from segserve.results import LabelMap, encode, pick_classes, pick_format

from tests.segserve.conftest import labels_of
from tests.segserve.standin_model import CLASSES


def label_map(
    labels: np.ndarray, layout: str = "yx", spacing: list[float] | None = None, affine: list[list[float]] | None = None
) -> LabelMap:
    return LabelMap(labels, layout, spacing, "test", affine, "png", "hash", CLASSES)


def decode_rle(runs: list[int], size: int) -> np.ndarray:
    mask = np.zeros(size, bool)
    for start, length in zip(runs[0::2], runs[1::2], strict=True):
        mask[start : start + length] = True
    return mask


def test_serial_form_round_trips() -> None:
    labels = np.random.default_rng(0).integers(0, 13, (7, 9, 3), dtype=np.uint8)
    original = label_map(labels, "xyz", [0.8, 0.8, 2.5], affine=None)
    again = LabelMap.from_bytes(original.to_bytes())
    assert np.array_equal(again.labels, labels) and again.spacing == [0.8, 0.8, 2.5] and again.layout == "xyz"


def test_json_counts_areas_and_rle() -> None:
    labels = np.zeros((10, 20), np.uint8)
    labels[2:5, 3:9] = 5
    labels[7, :] = 1
    answer = label_map(labels, spacing=[0.5, 2.0]).to_json()
    by_name = {c["name"]: c for c in answer["classes"]}
    assert answer["present"] == ["spleen", "liver"]
    assert by_name["liver"]["pixels"] == 18 and by_name["liver"]["area_mm2"] == 18.0
    assert np.array_equal(decode_rle(by_name["liver"]["rle"], labels.size), (labels == 5).ravel())
    assert by_name["spleen"]["rle"] == [140, 20]
    assert "background" not in by_name
    subset = label_map(labels).to_json([5])
    assert [c["name"] for c in subset["classes"]] == ["liver"] and subset["classes"][0]["area_mm2"] is None


def test_volume_json_reports_mm3() -> None:
    labels = np.zeros((4, 4, 3), np.uint8)
    labels[0, 0, :] = 2
    entry = label_map(labels, "xyz", [1.0, 1.0, 2.0]).to_json()["classes"][1]
    assert entry["name"] == "kidney_right" and entry["volume_mm3"] == 6.0


def test_png_keeps_input_orientation_and_subset() -> None:
    labels = np.zeros((3, 5), np.uint8)
    labels[0, 4] = 5
    labels[2, 0] = 1
    png = label_map(labels).to_png()
    assert np.array_equal(labels_of(png), labels)
    assert labels_of(label_map(labels).to_png([1])).max() == 1
    nifti_2d = label_map(labels.T.copy(), "xy").to_png()  # a 2-D NIfTI array [x, y] is shown as [y, x]
    assert np.array_equal(labels_of(nifti_2d), labels)


def test_png_of_a_volume_is_refused() -> None:
    with pytest.raises(ServiceError) as info:
        label_map(np.zeros((4, 4, 3), np.uint8), "xyz").to_png()
    assert info.value.status == 406 and "nifti" in info.value.message


def test_nifti_answer_has_input_affine() -> None:
    import nibabel as nib

    affine = np.diag([0.8, 0.9, 2.5, 1.0])
    affine[:3, 3] = [1, 2, 3]
    labels = np.random.default_rng(2).integers(0, 13, (6, 5, 4), dtype=np.uint8)
    body, content_type = encode(label_map(labels, "xyz", affine=affine.tolist()), "nifti", None)
    image = nib.Nifti1Image.from_bytes(gzip.decompress(body))
    assert content_type == "application/gzip"
    assert np.allclose(image.affine, affine) and np.array_equal(np.asarray(image.dataobj), labels)
    png_input = label_map(np.array([[0, 1, 2]], np.uint8), spacing=[0.7, 0.6])  # [rows, cols]
    image = nib.Nifti1Image.from_bytes(gzip.decompress(png_input.to_nifti()))
    assert image.shape == (3, 1) and np.allclose(np.diag(image.affine)[:2], [0.6, 0.7])


def test_format_choice() -> None:
    assert pick_format(None, None) == "json"
    assert pick_format("PNG", "application/json") == "png"
    assert pick_format(None, "image/png") == "png"
    assert pick_format(None, "text/html, application/gzip;q=0.9") == "nifti"
    assert pick_format(None, "*/*") == "json"
    with pytest.raises(ServiceError) as info:
        pick_format("tiff", None)
    assert info.value.status == 400 and info.value.detail["valid"] == ["json", "png", "nifti", "dicom-seg"]
    with pytest.raises(ServiceError) as info:
        pick_format(None, "text/html")
    assert info.value.status == 406


def test_class_choice() -> None:
    assert pick_classes(None, CLASSES) is None
    assert pick_classes("liver, spleen", CLASSES) == [1, 5]
    assert pick_classes(["aorta"], CLASSES) == [7]
    with pytest.raises(ServiceError) as info:
        pick_classes("liver,heart", CLASSES)
    assert info.value.status == 400 and "'heart'" in info.value.message and "liver" in info.value.detail["valid"]

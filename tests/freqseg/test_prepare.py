"""``freqseg prepare`` on small files: A's blocks, B's labels paired with DICOM pixels, C's partial labels."""

import json

import numpy as np
import pytest

from freqseg.data import load_dataset
from freqseg.errors import DataError
from freqseg.prepare import CLASSES, SCANS, Scan, btcv_labels, build, build_partial, read_scan, slab, split_blocks
from medimage import Image, read_path

from tests.imagefiles import dicom_series, nifti_bytes


def volume(array: np.ndarray, spacing: float = 3.0) -> Image:
    return Image(array.astype(np.float32), np.diag([spacing, spacing, spacing, 1.0]), "nifti", "CT", "hu", "nifti")


def test_split_blocks_never_let_splits_touch():
    blocks = split_blocks(10, 60, 6)
    covered = [(split, z) for split, start, stop in blocks for z in range(start, stop)]
    by_slice = dict((z, split) for split, z in covered)
    for z, split in by_slice.items():
        for neighbour in (z - 1, z + 1):
            assert by_slice.get(neighbour, split) == split
    assert {split for split, _, _ in blocks} == {"training", "validation"}


def test_btcv_labels_maps_codes_and_drops_the_rest():
    total = np.array([0, 1, 5, 52, 63, 64, 90, 117])
    assert btcv_labels(total, SCANS["A"].codes).tolist() == [0, 1, 5, 7, 8, 9, 0, 0]
    assert btcv_labels(np.array([0, 1]), SCANS["C"].codes).tolist() == [0, CLASSES.index("aorta")]


def test_build_deals_a_in_blocks_and_holds_b_out(tmp_path):
    shape = (16, 16, 40)
    segmentation = np.zeros(shape, np.float32)
    segmentation[4:8, 4:8, 5:35] = 5  # TotalSegmentator's liver
    segmentation[10:12, 10:12, 5:35] = 52  # aorta
    segmentation[0:2, 0:2, 5:35] = 90  # not a BTCV organ: dropped
    a = (volume(np.random.default_rng(0).normal(0, 50, shape)), btcv_labels(segmentation, SCANS["A"].codes))
    b = (volume(np.full((16, 16, 3), 40.0)), np.full((16, 16, 3), 5, np.uint8))
    meta = build(a, b, tmp_path, block=4)
    spec = load_dataset(tmp_path)
    assert spec.cases["training"] and spec.cases["validation"] and len(spec.cases["test"]) == 1
    assert spec.cases["test"][0].image.name == "btcv_b.nii.gz"
    first = read_path(spec.cases["training"][0].label).array
    assert set(np.unique(first)) <= {0, spec.class_index("liver"), spec.class_index("aorta")}
    assert meta["numTraining"] == len(spec.cases["training"])
    # a block's affine keeps its slices where they were in the scan
    block = read_path(spec.cases["training"][1].image)
    start = round(block.affine[2, 3] / 3.0)
    assert np.array_equal(block.array, np.rint(a[0].array[:, :, start : start + block.shape[2]]))


def test_b_labels_pair_with_the_dicom_pixels_through_the_affines(tmp_path):
    """B's label NIfTI is stored LAS with its own axis order; the written pair must agree voxel for voxel."""
    hu = np.full((3, 12, 10), -100.0)  # [slices, rows, cols], rows run posterior, cols run left
    hu[1, 2:5, 6:9] = 200.0  # a bright organ, off-centre in both directions, on the middle slice only
    folder = tmp_path / "series"
    folder.mkdir()
    for name, data in dicom_series(hu, spacing=(1.0, 1.0), gap=2.0):
        (folder / name).write_bytes(data)
    # The label in the DICOM's own LPS voxel order, written with axes (col, row, slice) and an affine that says so,
    # then flipped to LAS storage: x runs to the left as in the DICOM, y is rows, z slices.
    mask = (hu > 0).transpose(2, 1, 0).astype(np.uint8) * 5  # [col, row, slice]
    affine = np.array([[-1.0, 0, 0, 0], [0, -1.0, 0, 0], [0, 0, 2.0, 0], [0, 0, 0, 1]])  # LPS -> RAS signs
    flipped = mask[:, ::-1]  # store y reversed: anterior first
    affine_flipped = affine @ np.array([[1, 0, 0, 0], [0, -1, 0, 11], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    (tmp_path / "label.nii").write_bytes(nifti_bytes(np.ascontiguousarray(flipped), affine_flipped))
    image, labels = read_scan(tmp_path, Scan("series", "label.nii", SCANS["B"].codes))
    assert image.shape == labels.shape == (10, 12, 3)
    liver = labels == CLASSES.index("liver")
    assert liver.sum() == 9 and np.all(image.array[liver] == 200) and np.all(image.array[~liver] == -100)


def test_b_labels_on_another_grid_are_refused(tmp_path):
    folder = tmp_path / "series"
    folder.mkdir()
    for name, data in dicom_series(np.zeros((2, 8, 8)), spacing=(1.0, 1.0)):
        (folder / name).write_bytes(data)
    (tmp_path / "label.nii").write_bytes(nifti_bytes(np.zeros((8, 8, 3), np.uint8), np.diag([1.0, 1, 2, 1])))
    with pytest.raises(DataError, match=r"label map's grid .* differs from its image's"):
        read_scan(tmp_path, Scan("series", "label.nii", SCANS["B"].codes))


def test_c_becomes_a_partially_labelled_dataset_at_every_second_slice(tmp_path):
    image = volume(np.random.default_rng(1).normal(0, 50, (8, 8, 9)), spacing=1.5)
    aorta = np.zeros((8, 8, 9), np.uint8)
    aorta[3:5, 3:5] = 1
    meta = build_partial((image, btcv_labels(aorta, SCANS["C"].codes)), tmp_path)
    spec = load_dataset(tmp_path)
    assert meta["labelled_classes"] == ["aorta"] and spec.labelled == ["aorta"]
    assert spec.labelled_mask == [name == "aorta" for name in CLASSES[1:]]
    written = read_path(spec.cases["training"][0].label)
    assert written.shape == (8, 8, 5) and written.spacing == (1.5, 1.5, 3.0)
    assert set(np.unique(written.array)) == {0, CLASSES.index("aorta")}
    assert json.loads((tmp_path / "dataset.json").read_text())["labels"]["7"] == "aorta"


def test_slab_keeps_the_slices_in_place():
    image = volume(np.arange(4 * 4 * 6, dtype=np.float32).reshape(4, 4, 6))
    part, labels = slab(image, np.zeros((4, 4, 6), np.uint8), 1, 6, 2)
    assert part.shape == (4, 4, 3) and labels.shape == (4, 4, 3)
    assert np.allclose(part.affine @ [0, 0, 1, 1], image.affine @ [0, 0, 3, 1])

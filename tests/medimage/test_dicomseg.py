"""DICOM SEG output: what is written, read back with highdicom and with plain pydicom, on series given out of order
and on an Enhanced CT whose frames are not stored in slice order.

Timing (not a test, to keep this file fast): a 100-slice 512 x 512 series with four organs (200 SEG frames) takes
0.3 s on one core once highdicom is imported, 0.7 s for the first SEG of a process; see ``medimage.dicomseg``.
"""

from __future__ import annotations

import io
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from medimage import ImageTooLarge, Limits, UnusableImage, pack_series, read_bytes, write_seg
from medimage.anatomy import ANATOMY, TISSUE, anatomy
from medimage.dicomseg import SEGMENTATION_STORAGE

from tests.imagefiles import dicom_bytes, dicom_series, enhanced_ct_bytes, nifti_bytes, png_bytes

CLASSES = ("background", "spleen", "kidney_right", "kidney_left", "gallbladder", "liver")
STUDY = "1.2.826.0.1.3680043.8.498.77"
FRAME_OF_REFERENCE = "1.2.826.0.1.3680043.8.498.78"


def _dataset(data: bytes) -> Any:
    return pydicom.dcmread(io.BytesIO(data))


def _bytes(ds: Any) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _as_from_a_scanner(data: bytes) -> bytes:
    """The file with the study, frame of reference and patient attributes a scanner writes."""
    ds = _dataset(data)
    ds.StudyInstanceUID = STUDY
    ds.FrameOfReferenceUID = FRAME_OF_REFERENCE
    ds.PatientName, ds.PatientID, ds.StudyDate = "Doe^Jane", "P-7", "20240102"
    ds.SliceThickness = 2.0
    return _bytes(ds)


def _shuffled_series() -> tuple[bytes, np.ndarray, list[str]]:
    """A zipped series of 6 slices whose file names, hence zip order, are not in slice order; its HU volume
    ``[slice, rows, cols]`` and the SOP Instance UIDs in slice order."""
    volume = np.stack([np.full((6, 8), 10.0 * s) for s in range(6)])  # each slice its own value
    files = [
        (f"{name}.dcm", _as_from_a_scanner(data))
        for name, (_, data) in zip("dfbeac", dicom_series(volume), strict=True)
    ]
    by_slice = sorted((int(_dataset(data).InstanceNumber), str(_dataset(data).SOPInstanceUID)) for _, data in files)
    return pack_series(files), volume, [uid for _, uid in by_slice]


def _shuffled_enhanced(order: list[int]) -> tuple[bytes, np.ndarray]:
    """An Enhanced CT whose frame ``f`` lies at slice ``order[f]`` (2.5 mm apart), and its stored values."""
    stored = np.stack([np.full((5, 7), 100 * f + 1) for f in range(len(order))]).astype(np.uint16)
    ds = _dataset(enhanced_ct_bytes(stored, gap=2.5))
    for f, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        item.PlanePositionSequence[0].ImagePositionPatient = [0.0, 0.0, 2.5 * order[f]]
    return _bytes(ds), stored


def _random_labels(shape: tuple[int, ...], top: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, top + 1, size=shape).astype(np.uint8)


def _coded(item: Any) -> tuple[str, str, str]:
    return str(item.CodeValue), str(item.CodingSchemeDesignator), str(item.CodeMeaning)


# ---------------------------------------------------------------- codes


def test_every_code_is_pydicoms_copy_of_ps3_16() -> None:
    types = {(c.value, c.scheme_designator, c.meaning) for c in codes.cid7151.concepts.values()}
    categories = {(c.value, c.scheme_designator, c.meaning) for c in codes.cid7150.concepts.values()}
    laterality = {(c.value, c.scheme_designator, c.meaning) for c in codes.cid244.concepts.values()}
    for name, codes_ in ANATOMY.items():
        assert tuple(codes_.type) in types, name
        assert tuple(codes_.category) in categories, name
        assert codes_.modifier is None or tuple(codes_.modifier) in laterality, name
    assert anatomy("kidney_right").type == anatomy("kidney_left").type == ("64033007", "SCT", "Kidney")
    assert anatomy("a class no one coded") == (TISSUE, TISSUE, None)


# ---------------------------------------------------------------- a series, out of order


def test_a_shuffled_series_segments_each_slice_it_was_computed_on() -> None:
    data, volume, uids = _shuffled_series()
    image = read_bytes(data)
    for k in range(volume.shape[0]):  # the reader's slice k is the series' slice k, whatever the file order
        assert np.array_equal(image.array[:, :, k].T, volume[k])
    labels = _random_labels(volume.shape, 3, seed=1)  # spleen, kidney_right, kidney_left; no gallbladder or liver

    answer = write_seg(data, labels, CLASSES, algorithm="gfunet", version="1.2")

    seg = hd.seg.segread(io.BytesIO(answer))
    assert seg.SOPClassUID == SEGMENTATION_STORAGE and seg.Modality == "SEG" and seg.SegmentationType == "BINARY"
    assert (seg.StudyInstanceUID, seg.FrameOfReferenceUID) == (STUDY, FRAME_OF_REFERENCE)
    assert (str(seg.PatientName), seg.PatientID) == ("Doe^Jane", "P-7")
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == _dataset(dicom_series(volume)[0][1]).SeriesInstanceUID
    assert (seg.SeriesDescription, seg.Manufacturer, seg.ManufacturerModelName) == (
        "segserve segmentation",
        "segserve",
        "gfunet",
    )
    assert list(seg.segment_numbers) == [1, 2, 3]
    segments = seg.SegmentSequence
    assert [s.SegmentLabel for s in segments] == ["spleen", "kidney_right", "kidney_left"]
    assert _coded(segments[0].SegmentedPropertyTypeCodeSequence[0]) == ("78961009", "SCT", "Spleen")
    assert _coded(segments[0].SegmentedPropertyCategoryCodeSequence[0]) == ("91723000", "SCT", "Anatomical Structure")
    kidney = segments[1].SegmentedPropertyTypeCodeSequence[0]
    assert _coded(kidney) == ("64033007", "SCT", "Kidney")
    assert _coded(kidney.SegmentedPropertyTypeModifierCodeSequence[0]) == ("24028007", "SCT", "Right")
    algorithm = segments[0].SegmentationAlgorithmIdentificationSequence[0]
    assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == ("gfunet", "1.2")
    assert segments[0].SegmentAlgorithmType == "AUTOMATIC"

    masks = seg.get_pixels_by_source_instance(uids, segment_numbers=[1, 2, 3])  # [slice, rows, cols, segment]
    for number, index in enumerate([1, 2, 3], start=1):
        assert np.array_equal(masks[..., number - 1], labels == index), CLASSES[index]


def test_pydicom_alone_reads_each_frame_back_to_its_source_slice() -> None:
    data, volume, uids = _shuffled_series()
    labels = np.zeros(volume.shape, np.uint8)
    labels[1, 2:4, 3:6] = 5  # liver on slice 1
    labels[4, 0, :] = 2  # right kidney on slice 4

    ds = pydicom.dcmread(io.BytesIO(write_seg(data, labels, CLASSES, algorithm="m", version="1")))

    assert ds.SOPClassUID == SEGMENTATION_STORAGE and ds.NumberOfFrames == 2  # empty frames omitted
    pixels = ds.pixel_array.reshape(-1, ds.Rows, ds.Columns)
    found = {}
    for frame, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        uid = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        number = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        found[(uids.index(uid), str(ds.SegmentSequence[number - 1].SegmentLabel))] = pixels[frame]
    assert sorted(found) == [(1, "liver"), (4, "kidney_right")]
    assert np.array_equal(found[(1, "liver")], labels[1] == 5)
    assert np.array_equal(found[(4, "kidney_right")], labels[4] == 2)


# ---------------------------------------------------------------- an Enhanced CT, frames not in slice order


def test_an_enhanced_ct_maps_each_slice_to_its_own_frame() -> None:
    order = [3, 0, 4, 1, 2]  # frame f lies at slice order[f]
    data, stored = _shuffled_enhanced(order)
    image = read_bytes(data)
    for f, k in enumerate(order):
        assert np.array_equal(image.array[:, :, k].T, stored[f] - 1024.0)
    labels = _random_labels((5, 5, 7), 5, seed=2)
    labels[labels == 4] = 0  # no gallbladder: segments 1..4 are spleen, kidneys, liver

    answer = write_seg(data, labels, CLASSES, algorithm="m", version="1")

    seg = hd.seg.segread(io.BytesIO(answer))
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["spleen", "kidney_right", "kidney_left", "liver"]
    source = _dataset(data)
    frame_of_slice = [order.index(k) + 1 for k in range(5)]  # 1-based frame number of slice k
    masks = seg.get_pixels_by_source_frame(
        source.SOPInstanceUID, source_frame_numbers=frame_of_slice, segment_numbers=[1, 2, 3, 4]
    )
    for number, index in enumerate([1, 2, 3, 5], start=1):
        assert np.array_equal(masks[..., number - 1], labels == index), CLASSES[index]
    # the source has no Study or Frame of Reference UID: both are derived from its series, the same each time
    again = hd.seg.segread(io.BytesIO(write_seg(data, labels, CLASSES, algorithm="m", version="1")))
    assert (seg.StudyInstanceUID, seg.FrameOfReferenceUID) == (again.StudyInstanceUID, again.FrameOfReferenceUID)
    assert seg.SOPInstanceUID != again.SOPInstanceUID and seg.SeriesInstanceUID != again.SeriesInstanceUID


def test_one_slice_and_a_class_no_one_coded() -> None:
    data = dicom_bytes(np.zeros((4, 6)))
    labels = np.zeros((1, 4, 6), np.uint8)
    labels[0, 1:3, 2:5] = 1

    seg = hd.seg.segread(io.BytesIO(write_seg(data, labels, ["background", "tumour"], algorithm="m", version="1")))

    segment = seg.SegmentSequence[0]
    assert segment.SegmentLabel == "tumour"
    assert _coded(segment.SegmentedPropertyTypeCodeSequence[0]) == ("85756007", "SCT", "Tissue")
    source = _dataset(data).SOPInstanceUID
    assert np.array_equal(seg.get_pixels_by_source_instance([source])[..., 0], labels == 1)


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("data", "named"),
    [(nifti_bytes(np.zeros((4, 6, 1), np.int16)), "NIfTI"), (png_bytes(np.zeros((6, 4), np.uint8)), "PNG")],
)
def test_an_input_that_is_not_dicom_is_refused(data: bytes, named: str) -> None:
    with pytest.raises(UnusableImage, match=f"references a DICOM series, and this input is {named}; ask for format"):
        write_seg(data, np.ones((1, 6, 4), np.uint8), CLASSES, algorithm="m", version="1")


def test_labels_that_do_not_fit_the_input_are_refused() -> None:
    data, volume, _ = _shuffled_series()
    with pytest.raises(ValueError, match=r"uint8 \[slices, rows, cols\] = \(6, 6, 8\).*got uint8 \(6, 8, 6\)"):
        write_seg(data, np.ones((6, 8, 6), np.uint8), CLASSES, algorithm="m", version="1")
    with pytest.raises(ValueError, match="holds class 9, but classes names only 6"):
        write_seg(data, np.full(volume.shape, 9, np.uint8), CLASSES, algorithm="m", version="1")


def test_an_all_background_label_map_is_refused() -> None:
    data, volume, _ = _shuffled_series()
    with pytest.raises(UnusableImage, match="holds no class; a DICOM SEG needs at least one segment"):
        write_seg(data, np.zeros(volume.shape, np.uint8), CLASSES, algorithm="m", version="1")


def test_a_zip_over_the_file_limit_is_refused_before_any_header_is_parsed() -> None:
    data, volume, _ = _shuffled_series()
    with pytest.raises(ImageTooLarge, match="6 files, over the limit of 5"):
        write_seg(
            data, np.ones(volume.shape, np.uint8), CLASSES, algorithm="m", version="1", limits=Limits(max_files=5)
        )

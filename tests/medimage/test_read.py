"""Reading: formats, axes, intensity and geometry from the fields the standards define, and every refusal."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from medimage import (
    ImageError,
    Limits,
    ModelSpec,
    canonical,
    labels_to_input,
    read_bytes,
    read_files,
    read_path,
    sniff,
    to_model,
)
from medimage.errors import UnreadableImage

from tests.imagefiles import (
    AXIAL,
    dicom_bytes,
    dicom_series,
    enhanced_ct_bytes,
    nifti_bytes,
    png_bytes,
    png_header_only,
)

SPEC = ModelSpec(classes=("background", "liver"), window=(-175.0, 250.0), spacing=(1.5, 1.5), stride=16)
WATER = 175 / 425  # 0 HU in the window -175..250


def refusal(call, *args) -> ImageError:  # type: ignore[no-untyped-def]
    with pytest.raises(ImageError) as info:
        call(*args)
    return info.value


# ---------------------------------------------------------------- pictures


def test_png_is_taken_as_displayed_and_scaled_by_its_bit_depth() -> None:
    image = np.zeros((3, 5), np.uint8)
    image[0, 4] = 255  # top row (anterior), last column (the patient's left)
    picture = read_bytes(png_bytes(image))
    assert picture.format == "png" and picture.shape == (5, 3, 1) and picture.intensity == "grey"
    assert picture.array[4, 0, 0] == 1.0 and picture.array.sum() == 1.0
    planes = to_model(picture, SPEC).planes  # RAS: x runs to the patient's right, y anterior
    assert planes.shape == (1, 5, 3) and planes[0, 0, 2] == 1.0
    deep = read_bytes(png_bytes(np.full((4, 4), 32768, np.uint16)))
    assert np.allclose(deep.array, 32768 / 65535)  # 16 bit: v / 65535, never v / 255


def test_rgba_becomes_luminance_and_exif_orientation_is_applied() -> None:
    from PIL import Image

    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[..., 3] = 7  # alpha is ignored
    assert np.allclose(read_bytes(png_bytes(rgba, "RGBA")).array, 200 / 255, atol=1e-3)
    upright = np.zeros((8, 16), np.uint8)
    upright[:2, :2] = 255  # top-left corner bright
    stored = np.ascontiguousarray(upright[::-1, ::-1])  # stored upside down, EXIF says "rotate 180"
    exif = Image.Exif()
    exif[0x0112] = 3
    buffer = io.BytesIO()
    Image.fromarray(stored).save(buffer, format="JPEG", quality=100, exif=exif.tobytes())
    turned = read_bytes(buffer.getvalue())
    assert turned.format == "jpeg" and turned.array[:2, :2, 0].mean() > 0.9 and turned.array[-2:, -2:, 0].max() < 0.1


# ---------------------------------------------------------------- DICOM


def test_dicom_slice_hu_spacing_and_axes() -> None:
    hu = np.full((6, 4), -1000.0)
    hu[0, 3] = 250  # row 0, column 3
    image = read_bytes(dicom_bytes(hu, spacing=(0.6, 0.8)))
    assert image.modality == "CT" and image.intensity == "hu" and image.shape == (4, 6, 1)
    assert image.array[3, 0, 0] == 250 and image.spacing[:2] == pytest.approx((0.8, 0.6))  # i: columns, j: rows
    assert image.affine[:3, :3] == pytest.approx(np.diag([-0.8, -0.6, image.spacing[2]]))  # LPS -> RAS


def test_enhanced_ct_reads_rescale_spacing_and_positions_from_functional_groups() -> None:
    image = read_bytes(enhanced_ct_bytes(np.full((3, 2, 2), 1024, np.uint16), spacing=(0.7, 0.8), gap=2.5))
    assert image.shape == (2, 2, 3) and np.all(image.array == 0.0)  # stored 1024 + intercept -1024 = water
    assert image.spacing == pytest.approx((0.8, 0.7, 2.5)) and image.spacing_source == "dicom"
    assert to_model(image, SPEC).planes == pytest.approx(WATER)  # 0.41, not 1.0


def test_a_slice_stored_rotated_180_degrees_gives_the_model_the_upright_input() -> None:
    hu = np.random.default_rng(0).uniform(-200, 300, (6, 4))
    upright = read_bytes(dicom_bytes(hu, orientation=AXIAL, position=(0, 0, 0)))
    # rotated pixels; IOP says rows run to the patient's right, columns anterior; the first pixel moves
    rotated = dicom_bytes(hu[::-1, ::-1].copy(), orientation=(-1, 0, 0, 0, -1, 0), position=(3 * 0.75, 5 * 0.75, 0))
    assert np.array_equal(to_model(upright, SPEC).planes, to_model(read_bytes(rotated), SPEC).planes)
    assert not np.array_equal(read_bytes(rotated).array, upright.array)


def test_sagittal_series_is_reoriented_and_a_lone_sagittal_slice_refused() -> None:
    volume = np.random.default_rng(1).uniform(-100, 100, (5, 6, 4))  # 5 slices of 6 rows x 4 columns
    sagittal = (0, 1, 0, 0, 0, -1)  # rows run posterior, columns inferior: the normal is left-right
    image = read_files(dicom_series(volume, orientation=sagittal))
    model_input = to_model(image, SPEC)
    assert model_input.ras_shape == (5, 4, 6)  # x: the 5 slices, y: the 4 columns, z: the 6 rows
    back = labels_to_input(np.ones(model_input.planes.shape, np.uint8), model_input)
    assert back.shape == image.shape
    lone = refusal(to_model, read_bytes(dicom_bytes(volume[0], orientation=sagittal)), SPEC)
    assert lone.status == 422 and "sagittal" in lone.message


def test_oblique_planes_are_refused_with_their_angle() -> None:
    angle = np.radians(35)
    oblique = (np.cos(angle), np.sin(angle), 0, -np.sin(angle), np.cos(angle), 0)
    error = refusal(to_model, read_bytes(dicom_bytes(np.zeros((4, 4)), orientation=oblique)), SPEC)
    assert error.status == 422 and "35 degrees" in error.message
    tilt = np.radians(5)  # a gantry tilt passes
    slight = (np.cos(tilt), np.sin(tilt), 0, -np.sin(tilt), np.cos(tilt), 0)
    assert to_model(read_bytes(dicom_bytes(np.zeros((4, 4)), orientation=slight)), SPEC).planes.shape == (1, 2, 2)


def test_series_is_sorted_by_position_not_by_upload_order() -> None:
    volume = np.stack([np.full((4, 4), 10.0 * s) for s in range(5)])
    image = read_files(dicom_series(volume, gap=2.0))
    assert [float(image.array[0, 0, k]) for k in range(5)] == [0, 10, 20, 30, 40]
    assert image.spacing[2] == pytest.approx(2.0) and image.affine[2, 3] == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda files: files[:2] + files[3:], "unevenly spaced"),  # a slice missing
        (lambda files: [*files, files[0]], "same position"),  # a slice twice
        (lambda files: [*files, ("other.dcm", dicom_bytes(np.zeros((5, 5)), position=(0, 0, 99)))], "slice sizes"),
    ],
    ids=["gap", "duplicate", "mixed-size"],
)
def test_broken_series_are_refused(edit, words) -> None:  # type: ignore[no-untyped-def]
    files = dicom_series(np.zeros((5, 4, 4)))
    files.sort()
    error = refusal(read_files, edit(files))
    assert error.status == 400 and words in error.message


def _edited(data: bytes, edit) -> bytes:  # type: ignore[no-untyped-def]
    from pydicom import dcmread

    ds = dcmread(io.BytesIO(data))
    edit(ds)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def test_modality_lut_sequence_and_signed_12_bit_values() -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    def lut(ds) -> None:  # type: ignore[no-untyped-def]
        item = Dataset()
        item.add_new(0x00283002, "US", [4, 0, 16])  # LUT Descriptor: 4 entries from stored value 0, 16 bits out
        item.ModalityLUTType = "HU"
        item.add_new(0x00283006, "US", [0, 100, 200, 300])  # LUT Data
        ds.ModalityLUTSequence = Sequence([item])
        del ds.RescaleSlope, ds.RescaleIntercept
        ds.PixelData = np.array([[0, 1], [2, 3]], np.int16).tobytes()

    image = read_bytes(_edited(dicom_bytes(np.zeros((2, 2)), intercept=0), lut))
    assert image.array[:, :, 0].T.tolist() == [[0, 100], [200, 300]]  # the LUT, not the stored values

    def twelve_bit(ds) -> None:  # type: ignore[no-untyped-def]
        ds.BitsStored, ds.HighBit = 12, 11
        ds.PixelData = np.array([[0x0C18, 0x07FF], [0, 1]], np.uint16).tobytes()  # -1000 and 2047 in 12 bits

    image = read_bytes(_edited(dicom_bytes(np.zeros((2, 2)), intercept=0), twelve_bit))
    assert image.array[:, :, 0].T.tolist() == [[-1000, 2047], [0, 1]]


def test_a_transfer_syntax_without_a_decoder_is_a_415_that_names_it() -> None:
    def mpeg(ds) -> None:  # type: ignore[no-untyped-def]
        from pydicom.encaps import encapsulate

        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 Main Profile
        ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + bytes(60)])  # an MPEG-2 sequence header, as a video

    error = refusal(read_bytes, _edited(dicom_bytes(np.zeros((4, 4))), mpeg))
    assert error.status == 415 and "MPEG2" in error.message and "1.2.840.10008.1.2.4.100" in error.message


def test_mr_is_not_windowed_as_hounsfield_units() -> None:
    error = refusal(to_model, read_bytes(dicom_bytes(np.zeros((4, 4)), modality="MR")), SPEC)
    assert error.status == 422 and "MR" in error.message and "CT" in error.message


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.5"], ids=["jpeg2000", "rle"])
def test_compressed_transfer_syntaxes_decode_to_the_same_hu(syntax: str) -> None:
    hu = np.round(np.random.default_rng(2).uniform(-1000, 1000, (64, 48)))
    assert np.array_equal(read_bytes(dicom_bytes(hu, transfer_syntax=syntax)).array[:, :, 0], hu.T)


def test_a_compressed_frame_larger_than_rows_and_columns_is_not_decoded() -> None:
    from pydicom import dcmread
    from pydicom.encaps import encapsulate

    small = dicom_bytes(np.zeros((64, 64)), transfer_syntax="1.2.840.10008.1.2.4.90")
    big = dcmread(io.BytesIO(dicom_bytes(np.zeros((512, 512)), transfer_syntax="1.2.840.10008.1.2.4.90")))
    ds = dcmread(io.BytesIO(small))
    ds.PixelData = encapsulate([next(iter(_frames(big)))])
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    error = refusal(read_bytes, buffer.getvalue())
    assert error.status == 400 and "512x512" in error.message and "64x64" in error.message


def _frames(ds):  # type: ignore[no-untyped-def]
    from pydicom.encaps import generate_frames

    return generate_frames(ds.PixelData, number_of_frames=1)


def test_zip_of_a_series_and_its_refusals() -> None:
    files = dicom_series(np.random.default_rng(3).uniform(-100, 100, (3, 4, 4)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", "not an image")
        for name, data in files:
            archive.writestr(f"series/{name}", data)
    assert sniff(buffer.getvalue()) == "zip" and read_bytes(buffer.getvalue()).shape == (4, 4, 3)
    climbing = io.BytesIO()
    with zipfile.ZipFile(climbing, "w") as archive:
        archive.writestr("../evil.dcm", files[0][1])
    assert "climbs out" in refusal(read_bytes, climbing.getvalue()).message
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("notes.txt", "x")
    assert "no DICOM" in refusal(read_bytes, empty.getvalue()).message
    many = refusal(read_bytes, buffer.getvalue(), Limits(max_files=2))
    assert many.status == 413


# ---------------------------------------------------------------- NIfTI


def test_nifti_keeps_its_axes_and_affine_and_spacing_comes_from_the_transform_used() -> None:
    volume = np.full((8, 6, 3), -1000, np.int16)
    volume[7, 0, 2] = 250
    affine = np.diag([0.8, 0.9, 2.5, 1.0])
    affine[:3, 3] = [10, 20, 30]
    for gz in (False, True):
        image = read_bytes(nifti_bytes(volume, affine, gz=gz))
        assert image.shape == (8, 6, 3) and image.array[7, 0, 2] == 250
        assert np.allclose(image.affine, affine) and image.spacing == pytest.approx((0.8, 0.9, 2.5))
    qform = np.diag([0.5, 0.5, 4.0, 1.0])  # the sform is broken: the declared qform is used, with its spacing
    image = read_bytes(nifti_bytes(volume, np.zeros((4, 4)), qform=qform, qform_code=1))
    assert image.detail["affine_source"] == "qform" and image.spacing == pytest.approx((0.5, 0.5, 4.0))


def test_nifti_in_lps_gives_the_same_model_input_as_in_ras() -> None:
    volume = np.random.default_rng(4).uniform(-200, 300, (8, 6, 3)).astype(np.float32)
    ras = read_bytes(nifti_bytes(volume, np.diag([0.8, 0.9, 2.5, 1.0])))
    lps_affine = np.array([[-0.8, 0, 0, 7 * 0.8], [0, -0.9, 0, 5 * 0.9], [0, 0, 2.5, 0], [0, 0, 0, 1]])
    lps = read_bytes(nifti_bytes(np.ascontiguousarray(volume[::-1, ::-1]), lps_affine))
    assert np.array_equal(to_model(ras, SPEC).planes, to_model(lps, SPEC).planes)
    assert np.allclose(canonical(lps).affine, canonical(ras).affine, atol=1e-5)


@pytest.mark.parametrize("bad", [np.zeros((4, 4)), np.full((4, 4), np.nan)], ids=["all-zero", "nan"])
def test_nifti_with_a_broken_affine_is_a_400_that_names_it(bad: np.ndarray) -> None:
    error = refusal(read_bytes, nifti_bytes(np.zeros((4, 4, 2), np.int16), bad))
    assert error.status == 400 and "sform" in error.message


def test_gzip_is_inflated_only_up_to_what_the_header_declares() -> None:
    import gzip

    import nibabel as nib

    raw = nib.Nifti1Image(np.zeros((2, 2, 2), np.int16), np.eye(4)).to_bytes()
    bomb = gzip.compress(raw + bytes(64 << 20))  # 2x2x2 declared, 64 MiB of zeros after it
    assert len(bomb) < 200_000
    image = read_bytes(bomb)
    assert image.shape == (2, 2, 2)
    declared_big = nib.Nifti1Image(np.zeros((2, 2, 2), np.int16), np.eye(4))
    declared_big.header.set_data_shape((512, 512, 1024))
    declared_big.header.set_data_dtype(np.complex128)
    header_only = declared_big.header.binaryblock + b"\0" * 4 + bytes(1024)
    error = refusal(read_bytes, header_only)
    assert error.status in (413, 415)


def test_a_nifti_gz_of_several_gzip_members_reads_whole() -> None:
    import gzip

    import nibabel as nib

    volume = np.arange(4 * 4 * 3, dtype=np.int16).reshape(4, 4, 3)
    raw = nib.Nifti1Image(volume, np.eye(4)).to_bytes()
    members = gzip.compress(raw[:200]) + gzip.compress(raw[200:500]) + gzip.compress(raw[500:])  # as bgzip writes
    assert np.array_equal(read_bytes(members).array, volume)


def test_truncated_nifti_says_how_much_is_missing() -> None:
    data = nifti_bytes(np.zeros((16, 16, 16), np.int16))
    error = refusal(read_bytes, data[: len(data) // 2])
    assert error.status == 400 and "truncated" in error.message


# ---------------------------------------------------------------- limits and refusals


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"", 400, "empty"),
        (b"GIF89a....", 415, "not a PNG"),
        (png_bytes(np.zeros((64, 64), np.uint8))[:60], 400, "complete"),
        (png_header_only(20000, 20000), 413, "20000x20000"),
        (dicom_bytes(None), 400, "no pixel data"),
        (nifti_bytes(np.zeros((64, 64, 4), np.int16))[:500], 400, "NIfTI"),
        (nifti_bytes(np.zeros((64, 64, 4), np.int16), gz=True)[:-20], 400, "truncated"),
        (nifti_bytes(np.zeros((4, 4, 4, 2), np.int16)), 400, "2-D slice or a 3-D volume"),
        (nifti_bytes(np.zeros((4, 4, 2), np.complex64)), 415, "grey-level"),
    ],
    ids=[
        "empty",
        "gif",
        "truncated-png",
        "huge-png",
        "dicom-no-pixels",
        "truncated-nii",
        "truncated-niigz",
        "4d",
        "complex",
    ],
)
def test_refusals_say_what_is_wrong(data: bytes, status: int, words: str) -> None:
    error = refusal(read_bytes, data)
    assert error.status == status and words in error.message


def test_the_model_grid_is_bounded_not_only_the_upload() -> None:
    tiny = read_bytes(png_bytes(np.zeros((2, 2), np.uint8)))
    assert to_model(tiny.with_spacing((100.0, 100.0)), SPEC).grid == (133, 133)  # geometry as declared
    error = refusal(to_model, tiny.with_spacing((10000.0, 10000.0)), SPEC)
    assert error.status == 413 and "13333x13333" in error.message
    volume = read_bytes(nifti_bytes(np.zeros((4, 4, 40), np.int16), np.diag([1.5, 1.5, 1.0, 1.0])))
    assert refusal(to_model, volume, SPEC, Limits(max_slices=39)).status == 413
    # the slice check counts the axial planes the model runs on, not the input's third axis
    coronal = read_bytes(nifti_bytes(np.zeros((4, 40, 4), np.int16), np.array(
        [[1.5, 0, 0, 0], [0, 0, 1.5, 0], [0, 1.0, 0, 0], [0, 0, 0, 1]])))  # fmt: skip
    assert refusal(to_model, coronal, SPEC, Limits(max_slices=39)).status == 413


def test_planes_per_run_keep_a_run_within_its_pixel_budget() -> None:
    limits = Limits(max_run_pixels=4 * 256 * 256)
    assert limits.planes_per_run((256, 256), 8) == 4
    assert limits.planes_per_run((1024, 1024), 8) == 1
    assert limits.planes_per_run((64, 64), 8) == 8


def test_read_path_names_the_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "junk.nii").write_bytes(b"not a nifti at all")
    assert str(tmp_path / "junk.nii") in refusal(read_path, tmp_path / "junk.nii").message
    assert "no such file" in refusal(read_path, tmp_path / "missing.nii.gz").message
    for name, data in dicom_series(np.zeros((3, 4, 4))):
        (tmp_path / name).write_bytes(data)
    assert read_path(tmp_path).shape == (4, 4, 3)


@pytest.mark.parametrize("tag_and_vr", [b"\x08\x00\x60\x00CS", b"\x28\x00\x30\x00DS"])
def test_an_element_with_an_unknown_vr_is_the_files_fault(tag_and_vr: bytes) -> None:
    """pydicom converts a value when it is first read: a damaged element (here an unknown VR, as a fuzzer made one
    in Modality) must be refused as the file's fault (400) wherever it would be read, never crash a reader."""
    data = dicom_bytes(np.zeros((8, 8)))
    at = data.index(tag_and_vr)
    damaged = data[: at + 4] + b"D0" + data[at + 6 :]
    with pytest.raises(UnreadableImage):
        read_bytes(damaged)

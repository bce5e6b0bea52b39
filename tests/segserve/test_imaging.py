"""Decoding: formats, axes, windowing, spacing, resampling and every refusal."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from segserve.errors import ServiceError
from segserve.imaging import (
    Limits,
    decode,
    model_grid,
    resample_labels,
    resample_slices,
    sniff,
    spectra_png,
)

from tests.segserve.conftest import dicom_bytes, nifti_bytes, png_bytes

WINDOW = (-175.0, 250.0)
LIMITS = Limits()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size (IHDR) with an empty image stream: what a decompression bomb looks like."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_png_turns_from_display_orientation_to_ras_and_scales() -> None:
    image = np.zeros((3, 5), np.uint8)
    image[0, 4] = 255  # top row (most anterior: y = 2), last column (patient's leftmost: x = 0)
    decoded = decode(png_bytes(image), WINDOW, LIMITS)
    assert decoded.kind == "png" and decoded.layout == "yx"
    assert decoded.slices.shape == (1, 5, 3)
    assert decoded.slices[0, 0, 2] == 1.0 and decoded.slices.sum() == 1.0
    assert decoded.spacing is None and decoded.spacing_source == "unknown"


def test_rgba_becomes_luminance_and_16_bit_scales_by_65535() -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[..., 3] = 7  # alpha is ignored
    assert np.allclose(decode(png_bytes(rgba, "RGBA"), WINDOW, LIMITS).slices, 200 / 255, atol=1e-3)
    deep = np.full((4, 4), 32768, np.uint16)
    assert np.allclose(decode(png_bytes(deep), WINDOW, LIMITS).slices, 32768 / 65535)


def test_spacing_parameter_overrides() -> None:
    decoded = decode(png_bytes(np.zeros((4, 4), np.uint8)), WINDOW, LIMITS, spacing=(0.7, 0.9))
    assert decoded.spacing == (0.7, 0.9) and decoded.spacing_source == "parameter"


def test_jpeg() -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((16, 8), 128, np.uint8)).save(buffer, format="JPEG")
    decoded = decode(buffer.getvalue(), WINDOW, LIMITS)
    assert decoded.kind == "jpeg" and decoded.slices.shape == (1, 8, 16)


def test_dicom_hu_windowing_and_spacing() -> None:
    hu = np.full((6, 4), -1000.0)
    hu[0, 3] = 250  # top of the window
    hu[1, 0] = 37.5  # middle of the window
    decoded = decode(dicom_bytes(hu, spacing=(0.6, 0.8)), WINDOW, LIMITS)
    assert decoded.kind == "dicom" and decoded.slices.shape == (1, 4, 6)
    # display orientation -> RAS: row r, column c -> x = cols-1-c, y = rows-1-r
    assert decoded.slices[0, 0, 5] == pytest.approx(1.0)
    assert decoded.slices[0, 3, 4] == pytest.approx(0.5, abs=0.01)
    assert decoded.slices[0, 1, 1] == 0.0  # -1000 HU clipped to the bottom
    assert decoded.spacing == (0.8, 0.6)  # x follows the column spacing


def test_nifti_volume_keeps_affine_and_axes() -> None:
    volume = np.full((8, 6, 3), -1000, np.int16)
    volume[7, 0, 2] = 250
    affine = np.diag([0.8, 0.9, 2.5, 1.0])
    affine[:3, 3] = [10, 20, 30]
    for gz in (False, True):
        decoded = decode(nifti_bytes(volume, affine, gz=gz), WINDOW, LIMITS)
        assert decoded.layout == "xyz" and decoded.slices.shape == (3, 8, 6)
        assert decoded.slices[2, 7, 0] == 1.0
        assert decoded.spacing == pytest.approx((0.8, 0.9)) and decoded.slice_thickness == pytest.approx(2.5)
        assert np.allclose(decoded.affine, affine)


def test_nifti_in_lps_is_reoriented_to_ras_for_the_model() -> None:
    volume = np.full((8, 6, 3), -1000, np.int16)
    volume[7, 0, 2] = 250
    affine = np.diag([-0.8, -0.9, 2.5, 1.0])  # x runs to the left, y to posterior: LPS
    decoded = decode(nifti_bytes(volume, affine), WINDOW, LIMITS)
    assert decoded.slices.shape == (3, 8, 6) and decoded.slices[2, 0, 5] == 1.0
    assert decoded.spacing == pytest.approx((0.8, 0.9))


def test_nifti_2d() -> None:
    decoded = decode(nifti_bytes(np.zeros((5, 7), np.float32)), WINDOW, LIMITS)
    assert decoded.layout == "xy" and decoded.slices.shape == (1, 5, 7)


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
    ],
    ids=["empty", "gif", "truncated-png", "huge-png", "dicom-no-pixels", "truncated-nii", "truncated-niigz", "4d"],
)
def test_refusals_say_what_is_wrong(data: bytes, status: int, words: str) -> None:
    with pytest.raises(ServiceError) as info:
        decode(data, WINDOW, LIMITS)
    assert info.value.status == status
    assert words in info.value.message


def test_gzip_bomb_is_refused_before_inflating() -> None:
    bomb = nifti_bytes(np.zeros((64, 64, 64), np.int16), gz=True)
    with pytest.raises(ServiceError) as info:
        decode(bomb, WINDOW, Limits(max_voxels=1000))
    assert info.value.status == 413


def test_sniff() -> None:
    assert sniff(png_bytes(np.zeros((2, 2), np.uint8))) == "png"
    assert sniff(dicom_bytes(np.zeros((2, 2)))) == "dicom"
    assert sniff(nifti_bytes(np.zeros((2, 2, 2), np.int16))) == "nifti"


def test_resampling_round_trip() -> None:
    assert model_grid((512, 400), (0.75, 0.75), (1.5, 1.5)) == (256, 200)
    assert model_grid((100, 100), None, (1.5, 1.5)) == (100, 100)
    slices = np.random.default_rng(0).random((2, 64, 48), dtype=np.float32)
    small = resample_slices(slices, (32, 24))
    assert small.shape == (2, 32, 24) and abs(small.mean() - slices.mean()) < 0.02
    labels = np.zeros((1, 32, 24), np.uint8)
    labels[0, 16:, :12] = 3
    back = resample_labels(labels, (64, 48))
    assert back.shape == (1, 64, 48) and set(np.unique(back)) == {0, 3}
    assert back[0, 40, 5] == 3 and back[0, 5, 40] == 0


def test_spectra_are_pngs_of_the_image_shape() -> None:
    magnitude, phase = spectra_png(np.random.default_rng(1).random((32, 20), dtype=np.float32))
    assert magnitude.startswith(b"\x89PNG") and phase.startswith(b"\x89PNG")
    assert struct.unpack(">II", magnitude[16:24]) == (32, 20)  # width = x, height = y

"""What an input may cost is bounded by what it declares, before the memory is taken; CPUs are the process's own."""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import sys
import tracemalloc

import nibabel as nib
import numpy as np
import pytest

from medimage import ImageError, Limits, available_cpus, read_bytes

from tests.imagefiles import dicom_bytes


def peak_bytes(call, *args) -> tuple[object, int]:  # type: ignore[no-untyped-def]
    """``call(*args)``'s result (or the ImageError it raised) and the peak of Python-traced memory meanwhile."""
    tracemalloc.start()
    try:
        try:
            result: object = call(*args)
        except ImageError as error:
            result = error
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def nifti_header(shape: tuple[int, ...], dtype: type) -> bytes:
    image = nib.Nifti1Image(np.zeros((2, 2, 2), np.int16), np.eye(4))
    image.header.set_data_shape(shape)
    image.header.set_data_dtype(dtype)
    return bytes(image.header.binaryblock) + b"\0" * 4


def test_a_gzip_that_inflates_far_past_its_header_costs_its_header() -> None:
    raw = nib.Nifti1Image(np.zeros((2, 2, 2), np.int16), np.eye(4)).to_bytes()
    bomb = gzip.compress(raw + bytes(256 << 20), compresslevel=9)  # 2x2x2 declared; 256 MiB of zeros after it
    assert len(bomb) < 1 << 20
    image, peak = peak_bytes(read_bytes, bomb)
    assert not isinstance(image, ImageError) and image.shape == (2, 2, 2)  # type: ignore[attr-defined]
    assert peak < 4 << 20  # inflated no further than the declared 16 bytes of voxels


@pytest.mark.parametrize(
    ("shape", "dtype", "status", "words"),
    [
        ((512, 512, 1024), np.complex128, 415, "grey-level"),
        ((512, 512, 1024), np.float32, 413, "voxels"),
        ((256, 256, 100), np.float32, 400, "truncated"),
    ],
    ids=["complex", "over-limit", "within-limit-but-absent"],
)
def test_a_header_that_declares_more_than_the_file_holds_allocates_nothing(shape, dtype, status, words) -> None:  # type: ignore[no-untyped-def]
    error, peak = peak_bytes(read_bytes, nifti_header(shape, dtype) + bytes(1024))
    assert isinstance(error, ImageError) and error.status == status and words in error.message
    assert peak < 4 << 20  # not the 26 MB to 4 GB the header declares


def test_deflated_dicom_is_read_and_its_inflation_bounded() -> None:
    from pydicom import dcmread
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds = dcmread(io.BytesIO(dicom_bytes(np.full((8, 8), 40.0))))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    assert np.all(read_bytes(buffer.getvalue()).array == 40.0)
    big = dcmread(io.BytesIO(dicom_bytes(np.zeros((2048, 2048)))))
    big.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buffer = io.BytesIO()
    big.save_as(buffer, enforce_file_format=True)
    error, peak = peak_bytes(read_bytes, buffer.getvalue(), Limits(max_voxels=1000))
    assert isinstance(error, ImageError) and error.status == 413 and "inflates past" in error.message
    assert peak < 4 << 20  # inflated only to the 1 MiB budget, not the 8 MB of pixel data


def test_a_jpeg_is_measured_before_it_is_decoded() -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (3000, 2000)).save(buffer, format="JPEG")
    error, peak = peak_bytes(read_bytes, buffer.getvalue(), Limits(max_pixels=1000 * 1000))
    assert isinstance(error, ImageError) and error.status == 413 and "3000x2000" in error.message
    assert peak < 1 << 20


@pytest.mark.skipif(shutil.which("taskset") is None, reason="util-linux's taskset is not installed")
def test_available_cpus_follows_the_affinity_mask() -> None:
    assert available_cpus() >= 1
    pinned = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c", "from medimage import available_cpus; print(available_cpus())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert pinned.stdout.strip() == "1"

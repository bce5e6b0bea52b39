"""``medimage.Volume``: the same anatomy, however the file stores it, shows the same radiological planes."""

from __future__ import annotations

import numpy as np
import pytest

from medimage import Volume, level_width, pack_series, read_bytes

from tests.imagefiles import dicom_series, nifti_bytes


def anatomy() -> np.ndarray:
    """HU on RAS+ ``[x, y, z]`` (x to the patient's right, y anterior, z superior): a marker in the right,
    anterior, superior corner, another at the left, posterior, inferior corner."""
    hu = np.full((8, 6, 4), -1000.0, np.float32)
    hu[6:, 4:, 3] = 500.0  # right, anterior, superior
    hu[:2, :2, 0] = 100.0  # left, posterior, inferior
    return hu


def pictures(volume: Volume) -> dict[str, np.ndarray]:
    bounds = level_width(40, 400)
    return {plane: volume.picture(plane, 0 if plane != "axial" else 3, bounds) for plane in volume.planes}


def test_ras_las_and_lps_dicom_show_the_same_planes() -> None:
    hu = anatomy()
    ras = read_bytes(nifti_bytes(hu, np.diag([0.8, 0.8, 2.5, 1.0])))
    las_affine = np.diag([-0.8, 0.8, 2.5, 1.0])
    las_affine[0, 3] = 0.8 * 7  # voxel 0 is the patient's right
    las = read_bytes(nifti_bytes(hu[::-1].copy(), las_affine))
    # DICOM rows run posterior (LPS +y), columns to the patient's left (LPS +x): [slices, rows, cols]
    dicom_hu = hu[::-1, ::-1, :].transpose(2, 1, 0)
    dicom = read_bytes(pack_series(dicom_series(dicom_hu, spacing=(0.8, 0.8), gap=2.5)))
    reference = pictures(Volume(ras))
    for image in (las, dicom):
        for plane, picture in pictures(Volume(image)).items():
            assert np.array_equal(picture, reference[plane]), (image.format, plane)


def test_radiological_convention() -> None:
    volume = Volume(read_bytes(nifti_bytes(anatomy(), np.diag([0.8, 0.8, 2.5, 1.0]))))
    assert {name: (p.count, p.size) for name, p in volume.planes.items()} == {
        "axial": (4, (8, 6)),
        "coronal": (6, (8, 4)),
        "sagittal": (8, (6, 4)),
    }
    assert volume.planes["coronal"].aspect == pytest.approx(2.5 / 0.8)
    bounds = level_width(40, 400)
    axial = volume.picture("axial", 3, bounds)
    assert axial.shape == (6, 8) and axial[0, 0] == 255  # right-anterior marker: top left
    coronal = volume.picture("coronal", 5, bounds)
    assert coronal[0, 0] == 255  # superior on top, patient's right on the left
    sagittal = volume.picture("sagittal", 7, bounds)
    assert sagittal[0, 0] == 255  # superior on top, anterior on the left
    low = volume.picture("axial", 0, bounds)
    assert low[-1, -1] == round(255 * (100 - (-160)) / 400)  # left-posterior marker: bottom right, windowed


def test_labels_follow_the_image_and_bounds_are_checked() -> None:
    hu = anatomy()
    image = read_bytes(nifti_bytes(hu))
    volume = Volume(image)
    with pytest.raises(LookupError):
        volume.label_picture("axial", 0)
    volume.with_labels((hu > 0).astype(np.uint8))
    assert np.array_equal(volume.label_picture("axial", 3) > 0, volume.picture("axial", 3, (0, 1)) > 0)
    with pytest.raises(IndexError):
        volume.picture("axial", 4, (0, 1))
    with pytest.raises(KeyError):
        volume.picture("oblique", 0, (0, 1))
    with pytest.raises(ValueError):
        volume.with_labels(np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(ValueError):
        level_width(40, 0)

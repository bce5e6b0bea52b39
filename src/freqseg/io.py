"""Reading medical images: NIfTI (nibabel), DICOM series (pydicom) and PNG (Pillow).

Every reader returns a ``Volume``: a float32 array indexed [x, y, z] in RAS
orientation (NIfTI's canonical one; DICOM's LPS is flipped to match), with the
voxel spacing in millimetres and the affine. Anything unreadable raises one
``DataError`` that names the file and says what is wrong with it, before any
training starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np


class DataError(ValueError):
    """Bad input data: the message names the file or field and what to do."""


@dataclass
class Volume:
    array: np.ndarray  # float32, [x, y, z]
    spacing: tuple[float, float, float]  # mm
    affine: np.ndarray  # 4x4, voxel index -> RAS mm

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.array.shape


NIFTI_SUFFIXES = (".nii", ".nii.gz")
PNG_SUFFIXES = (".png",)


def read_image(path: str | os.PathLike[str]) -> Volume:
    """Read a NIfTI file, a PNG, or a folder holding one DICOM series."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    if p.is_dir():
        return read_dicom_series(p)
    name = p.name.lower()
    if name.endswith(NIFTI_SUFFIXES):
        return read_nifti(p)
    if name.endswith(PNG_SUFFIXES):
        return read_png(p)
    if name.endswith(".dcm"):
        return read_dicom_series([p])
    raise DataError(f"{p}: unknown image type; use .nii, .nii.gz, .png, .dcm or a folder of DICOM files")


def read_nifti(path: str | os.PathLike[str]) -> Volume:
    p = Path(path)
    try:
        image = nib.as_closest_canonical(nib.load(str(p)))
        array = np.asarray(image.dataobj, dtype=np.float32)
    except Exception as exc:  # nibabel raises many kinds for truncated or corrupt files (EOFError, zlib.error, ...)
        raise DataError(f"{p}: not a readable NIfTI file ({type(exc).__name__}: {exc})") from exc
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise DataError(f"{p}: expected a 2-D or 3-D image, got {array.ndim} dimensions {array.shape}")
    zooms = image.header.get_zooms()
    spacing = (float(zooms[0]), float(zooms[1]), float(zooms[2]) if len(zooms) > 2 else 1.0)
    return Volume(array, spacing, image.affine.astype(np.float64))


def read_png(path: str | os.PathLike[str]) -> Volume:
    """A grey-level PNG (8 or 16 bit; colour is converted to luminance), as one slice of 1 mm pixels.

    A PNG is a picture in radiological display orientation, as a DICOM slice is (rows run anterior to posterior,
    the patient's right on the left), so it is turned into the same RAS [x, y] orientation as DICOM and NIfTI.
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    try:
        with Image.open(p) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I", "F"):
                pixels = np.asarray(image, dtype=np.float32)
            else:
                pixels = np.asarray(image.convert("L"), dtype=np.float32)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"{p}: not a readable PNG image ({exc})") from exc
    array = pixels.T[::-1, ::-1, None].copy()  # [rows, cols] -> RAS [x, y, 1]
    return Volume(array, (1.0, 1.0, 1.0), np.eye(4))


def read_dicom_series(source: Path | list[Path]) -> Volume:
    """One DICOM series: every slice must hold pixel data of one size; slices are ordered by position."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    files = sorted(f for f in source.iterdir() if f.is_file()) if isinstance(source, Path) else source
    where = source if isinstance(source, Path) else source[0]
    if not files:
        raise DataError(f"{where}: the folder holds no DICOM files")
    slices = []
    for file in files:
        try:
            dataset = pydicom.dcmread(file)
        except (InvalidDicomError, OSError, EOFError) as exc:
            raise DataError(f"{file}: not a readable DICOM file ({exc})") from exc
        if "PixelData" not in dataset:
            raise DataError(f"{file}: DICOM file without pixel data (is it a report or a structured document?)")
        slices.append((file, dataset))
    sizes = {(int(d.Rows), int(d.Columns)) for _, d in slices}
    if len(sizes) > 1:
        detail = ", ".join(f"{rows}x{cols}" for rows, cols in sorted(sizes))
        raise DataError(f"{where}: the series mixes slice sizes ({detail}); give one series per folder")
    first = slices[0][1]
    orientation = np.array(getattr(first, "ImageOrientationPatient", [1, 0, 0, 0, 1, 0]), dtype=np.float64)
    row_dir, col_dir = orientation[:3], orientation[3:]
    normal = np.cross(row_dir, col_dir)

    def position(item: tuple[Path, object]) -> float:
        ipp = getattr(item[1], "ImagePositionPatient", None)
        return float(np.dot(normal, np.array(ipp, dtype=np.float64))) if ipp is not None else 0.0

    slices.sort(key=position)
    planes = []
    for file, dataset in slices:
        try:
            pixels = dataset.pixel_array.astype(np.float32)
        except Exception as exc:  # a truncated or undecodable pixel stream
            raise DataError(f"{file}: cannot decode the pixel data ({exc})") from exc
        slope = float(getattr(dataset, "RescaleSlope", 1.0))
        intercept = float(getattr(dataset, "RescaleIntercept", 0.0))
        planes.append(pixels * slope + intercept)
    volume = np.stack(planes, axis=-1).transpose(1, 0, 2)  # [row, col, z] -> [x, y, z]
    row_spacing, col_spacing = (float(v) for v in getattr(first, "PixelSpacing", [1.0, 1.0]))
    positions = [position(s) for s in slices]
    gaps = np.diff(positions)
    thickness = float(np.median(gaps)) if len(gaps) else float(getattr(first, "SliceThickness", 1.0) or 1.0)
    # Affine in LPS (DICOM), then flipped to RAS like NIfTI's canonical orientation.
    affine = np.eye(4)
    affine[:3, 0] = row_dir * col_spacing
    affine[:3, 1] = col_dir * row_spacing
    affine[:3, 2] = normal * thickness
    affine[:3, 3] = np.array(getattr(slices[0][1], "ImagePositionPatient", [0, 0, 0]), dtype=np.float64)
    affine = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine
    image = nib.as_closest_canonical(nib.Nifti1Image(volume, affine))
    zooms = image.header.get_zooms()
    return Volume(np.asarray(image.dataobj, dtype=np.float32), tuple(float(z) for z in zooms[:3]), image.affine)  # type: ignore[arg-type]


def write_nifti(path: str | os.PathLike[str], array: np.ndarray, affine: np.ndarray) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, affine), str(path))

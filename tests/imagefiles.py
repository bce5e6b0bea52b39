"""Small image files for the tests, built with the libraries the field uses: DICOM (pydicom), NIfTI (nibabel), PNG.

Every builder takes the values in the modality's units and the geometry explicitly, so a test states what the
right answer is from the file's own fields.
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from collections.abc import Sequence

import numpy as np

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"


def png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size (IHDR) with an empty image stream: what a decompression bomb looks like."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _base(sop_class: str, modality: str, transfer_syntax: str) -> object:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    return ds


def _pixels(ds: object, stored: np.ndarray, signed: bool) -> None:
    frames, rows, columns = stored.shape
    ds.Rows, ds.Columns = rows, columns  # type: ignore[attr-defined]
    if frames > 1:
        ds.NumberOfFrames = frames  # type: ignore[attr-defined]
    ds.SamplesPerPixel = 1  # type: ignore[attr-defined]
    ds.PhotometricInterpretation = "MONOCHROME2"  # type: ignore[attr-defined]
    ds.BitsAllocated = ds.BitsStored = 16  # type: ignore[attr-defined]
    ds.HighBit = 15  # type: ignore[attr-defined]
    ds.PixelRepresentation = int(signed)  # type: ignore[attr-defined]
    ds.PixelData = stored.astype(np.int16 if signed else np.uint16).tobytes()  # type: ignore[attr-defined]


def _save(ds: object) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)  # type: ignore[attr-defined]
    return buffer.getvalue()


def dicom_bytes(
    hu: np.ndarray | None,
    spacing: tuple[float, float] = (0.75, 0.75),
    intercept: float = -1024,
    orientation: Sequence[float] | None = AXIAL,
    position: Sequence[float] | None = (0.0, 0.0, 0.0),
    modality: str = "CT",
    transfer_syntax: str | None = None,
    instance: int = 1,
) -> bytes:
    """A single-frame CT (or ``modality``) DICOM Part 10 file; ``hu`` [rows, cols] in modality units, ``None`` for
    no pixel data. ``spacing`` is Pixel Spacing: (between rows, between columns)."""
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

    ds = _base(CTImageStorage, modality, ExplicitVRLittleEndian)
    ds.PixelSpacing = [spacing[0], spacing[1]]  # type: ignore[attr-defined]
    ds.RescaleSlope = 1  # type: ignore[attr-defined]
    ds.RescaleIntercept = intercept  # type: ignore[attr-defined]
    ds.InstanceNumber = instance  # type: ignore[attr-defined]
    if orientation is not None:
        ds.ImageOrientationPatient = list(orientation)  # type: ignore[attr-defined]
    if position is not None:
        ds.ImagePositionPatient = list(position)  # type: ignore[attr-defined]
    if hu is not None:
        _pixels(ds, np.round(hu - intercept)[None], signed=True)
    if transfer_syntax is not None:
        ds.compress(transfer_syntax)  # type: ignore[attr-defined]
    return _save(ds)


def dicom_series(
    volume: np.ndarray,
    spacing: tuple[float, float] = (0.75, 0.75),
    gap: float = 2.0,
    orientation: Sequence[float] = AXIAL,
    origin: Sequence[float] = (0.0, 0.0, 0.0),
) -> list[tuple[str, bytes]]:
    """A series of single-frame files from ``volume`` [slices, rows, cols] (HU), slice ``s`` at ``origin + s * gap``
    along the normal of ``orientation``; returned out of order, as uploads often are."""
    normal = np.cross(orientation[:3], orientation[3:])
    files = [
        (
            f"slice{s:03d}.dcm",
            dicom_bytes(
                plane, spacing, orientation=orientation, position=list(np.add(origin, s * gap * normal)), instance=s + 1
            ),
        )
        for s, plane in enumerate(volume)
    ]
    return files[1::2] + files[0::2]


def enhanced_ct_bytes(
    stored: np.ndarray,
    intercept: float = -1024.0,
    spacing: tuple[float, float] = (0.7, 0.8),
    gap: float = 2.5,
    orientation: Sequence[float] = AXIAL,
) -> bytes:
    """An Enhanced CT Image (multi-frame) whose rescale, pixel spacing and orientation live only in the shared
    functional group and whose positions live only in the per-frame groups (PS3.3 C.7.6.16). ``stored`` is
    [frames, rows, cols] of stored (unsigned) values."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence as DicomSequence
    from pydicom.uid import ExplicitVRLittleEndian

    ds = _base(ENHANCED_CT, "CT", ExplicitVRLittleEndian)
    measures = Dataset()
    measures.PixelSpacing = list(spacing)
    measures.SliceThickness = gap
    orient = Dataset()
    orient.ImageOrientationPatient = list(orientation)
    transform = Dataset()
    transform.RescaleIntercept = intercept
    transform.RescaleSlope = 1
    transform.RescaleType = "HU"
    shared = Dataset()
    shared.PixelMeasuresSequence = DicomSequence([measures])
    shared.PlaneOrientationSequence = DicomSequence([orient])
    shared.PixelValueTransformationSequence = DicomSequence([transform])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    normal = np.cross(orientation[:3], orientation[3:])
    per_frame = []
    for f in range(stored.shape[0]):
        position = Dataset()
        position.ImagePositionPatient = [float(v) for v in normal * f * gap]
        group = Dataset()
        group.PlanePositionSequence = DicomSequence([position])
        per_frame.append(group)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    _pixels(ds, stored, signed=False)
    return _save(ds)


def nifti_bytes(
    volume: np.ndarray,
    affine: np.ndarray | None = None,
    gz: bool = False,
    sform_code: int = 2,
    qform_code: int = 0,
    qform: np.ndarray | None = None,
) -> bytes:
    """A NIfTI-1 file of ``volume`` with ``affine`` as its sform (default 0.8 x 0.8 x 2.5 mm, RAS)."""
    import nibabel as nib

    matrix = np.diag([0.8, 0.8, 2.5, 1.0]) if affine is None else np.asarray(affine, dtype=np.float64)
    image = nib.Nifti1Image(volume, None)
    image.header.set_sform(matrix, code=sform_code)
    image.header.set_qform(qform if qform is not None else None, code=qform_code)
    data = image.to_bytes()
    return gzip.compress(data) if gz else data

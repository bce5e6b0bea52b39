"""DICOM images: one file (single- or multi-frame, Enhanced CT/MR included) or a series of files, with pydicom.

What is read from where (DICOM PS3.3 unless noted):

- pixels: the Image Pixel module (C.7.6.3): Rows, Columns, Samples per Pixel (1: grey only), Photometric
  Interpretation, Bits Allocated/Stored and Pixel Representation (signed or not; pydicom applies them), Number of
  Frames (C.7.6.6). Compressed frames (PS3.5 A.4: JPEG, JPEG-LS, JPEG 2000, HTJ2K, RLE) decode through pydicom's
  plugins (pylibjpeg with its openjpeg and libjpeg plugins); a syntax without an installed decoder is a 415 that
  names it. Each compressed frame's own header is checked against Rows and Columns before it is decoded.
  Deflated Explicit VR Little Endian (PS3.5 A.5) is inflated within the voxel budget.
- geometry, per frame: the Image Plane module (C.7.6.2): Image Position (Patient) (0020,0032), Image Orientation
  (Patient) (0020,0037), Pixel Spacing (0028,0030) = [between rows, between columns]; for Enhanced multi-frame
  images the same attributes inside the Plane Position, Plane Orientation and Pixel Measures functional group
  macros (C.7.6.16.2.3-5), a per-frame group overriding the shared one. The affine follows C.7.6.2.1.1: the
  column index runs along the first orientation vector, the row index along the second; slices are ordered by
  their position projected on the normal, and the third column of the affine runs from the first slice's position
  to the last's (so a gantry tilt stays in the geometry). LPS+ is turned into RAS+.
- intensity: the Modality LUT module (C.11.1): the Modality LUT Sequence, else Rescale Slope/Intercept; for
  Enhanced images the Pixel Value Transformation macro (C.7.6.16.2.9) of each frame. Modality (0008,0060) says
  what the values are: CT values are Hounsfield units, other modalities are not (the caller checks the model).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medimage.codestream import frame_size
from medimage.errors import ImageError, ImageTooLarge, UnreadableImage, UnsupportedImage
from medimage.image import F32, LPS_TO_RAS, Image, checked_affine
from medimage.inflate import RAW_DEFLATE, BoundedInflater
from medimage.limits import Limits

DEFLATED = "1.2.840.10008.1.2.1.99"
ORIENTATION_TOLERANCE = 1e-3  # direction cosines of two slices that count as one orientation
GAP_TOLERANCE = 0.1  # a series whose slice gaps differ from their median by more than this share is irregular
DEFAULT_IOP = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # axial, as a secondary capture without geometry is shown


REFERENCE_UIDS = (
    ("SOPClassUID", "SOP Class UID (0008,0016)"),
    ("SOPInstanceUID", "SOP Instance UID (0008,0018)"),
    ("SeriesInstanceUID", "Series Instance UID (0020,000E)"),
)
"""What another object (a DICOM SEG) references an image by (PS3.3 C.12.1, C.7.3.1)."""


def missing_reference(datasets: Sequence[Any]) -> str | None:
    """The first of ``REFERENCE_UIDS`` that one of ``datasets`` lacks or leaves empty (its name and tag), or None
    when all are there. Anonymisers that blank UIDs leave files that no SEG can point at."""
    for keyword, name in REFERENCE_UIDS:
        if any(not str(ds.get(keyword, "") or "") for ds in datasets):
            return name
    return None


def is_dicom(head: bytes) -> bool:
    """A DICOM Part 10 file: a 128-byte preamble, then ``DICM`` (PS3.10 7.1)."""
    return len(head) >= 132 and head[128:132] == b"DICM"


@dataclass
class _Frame:
    """One plane: where it lies, how its stored values become modality values, and where it comes from."""

    dataset: Any
    index: int  # frame number within the dataset (0 for single-frame)
    position: np.ndarray | None  # Image Position (Patient), mm, LPS
    orientation: np.ndarray | None  # Image Orientation (Patient): row direction, then column direction
    pixel_spacing: tuple[float, float] | None  # mm between rows, between columns
    thickness: float | None
    slope: float
    intercept: float
    name: str


def read_dicom(files: Sequence[tuple[str, bytes]], limits: Limits) -> Image:
    """One DICOM image (``files`` holds one file) or a series (several), as an ``Image``.

    Args:
        files: ``(name, bytes)`` pairs; names appear in error messages only.
        limits: bounds checked before any pixel is decoded.

    Raises:
        UnreadableImage (400), UnsupportedImage (415), ImageTooLarge (413), UnusableImage (422 from callers).
    """
    frames_, affine, geometry = _stack(files, limits)
    planes = [_hu(frame, pixels) for frame, pixels in zip(frames_, _decode(frames_), strict=True)]
    array: F32 = np.ascontiguousarray(np.stack([p.T for p in planes], axis=2), dtype=np.float32)
    first = frames_[0].dataset
    modality = str(first.get("Modality", "") or "") or None
    rescale_type = str(_rescale_item(first, frames_[0].index).get("RescaleType", "") or "")
    syntax = first.file_meta.get("TransferSyntaxUID", "")
    return Image(
        array=array,
        affine=affine,
        format="dicom",
        modality=modality,
        intensity="hu" if modality == "CT" or rescale_type == "HU" else "raw",
        spacing_source="dicom" if frames_[0].pixel_spacing is not None else "unknown",
        detail={
            "files": len(files),
            "frames": len(frames_),
            "transfer_syntax": getattr(syntax, "name", str(syntax)),
            "geometry": geometry,
            "sop_class": str(getattr(first.get("SOPClassUID", ""), "name", "")),
            "references": missing_reference(list({id(f.dataset): f.dataset for f in frames_}.values())) is None,
        },
    )


def slice_sources(files: Sequence[tuple[str, bytes]], limits: Limits) -> list[tuple[Any, int]]:
    """Where each slice of ``read_dicom(files, limits)`` comes from, in its order ``k``: the parsed dataset (pixel
    data read, not decoded) and the frame index within it (0 for a single-frame file). Same checks and errors as
    ``read_dicom``, short of decoding; the DICOM SEG writer references the source frames through it."""
    frames, _, _ = _stack(files, limits)
    return [(frame.dataset, frame.index) for frame in frames]


def _stack(files: Sequence[tuple[str, bytes]], limits: Limits) -> tuple[list[_Frame], np.ndarray, str]:
    """The frames of ``files`` in slice order, the affine and the geometry's source: everything but the pixels."""
    if not files:
        raise UnreadableImage("no DICOM file was given; send the files of one series")
    limits.check_files(len(files))
    datasets = [(name, _parse(name, data, limits)) for name, data in files]
    voxels = 0
    for name, ds in datasets:
        rows, columns, frames = _check_pixel_module(name, ds, limits)
        voxels += rows * columns * frames
    limits.check_voxels("DICOM series", (voxels,))
    frames_ = [frame for name, ds in datasets for frame in _frames(name, ds)]
    if len(datasets) > 1:
        _check_one_series(datasets)
    return _geometry(frames_)


# ---------------------------------------------------------------- parsing


def _parse(name: str, data: bytes, limits: Limits) -> Any:
    import pydicom

    if not is_dicom(data):
        raise UnreadableImage(f"{name}: not a DICOM Part 10 file (no 'DICM' at byte 128)")
    try:
        data = _inflate_if_deflated(data, limits)
        ds = pydicom.dcmread(io.BytesIO(data))
        ds.file_meta.get("TransferSyntaxUID")
        # pydicom converts an element's value when it is first read; read them all here, so that a damaged one (an
        # unknown VR, a value that does not parse) is refused as this file's fault wherever it would be read later
        for element in ds.iterall():
            _ = element.value
    except ImageError:
        raise
    except Exception as exc:  # InvalidDicomError, EOFError, struct errors... for damaged files
        raise UnreadableImage(f"{name}: the DICOM file cannot be read ({type(exc).__name__}: {exc})") from exc
    return ds


def _inflate_if_deflated(data: bytes, limits: Limits) -> bytes:
    """Deflated Explicit VR Little Endian inflated here, within the voxel budget, as explicit little endian."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import read_dataset
    from pydicom.filewriter import write_file_meta_info
    from pydicom.uid import ExplicitVRLittleEndian

    if DEFLATED.encode() not in data[:4096]:
        return data
    stream = io.BytesIO(data)
    stream.seek(132)
    meta = read_dataset(stream, is_implicit_VR=False, is_little_endian=True, stop_when=lambda t, *_: t.group != 2)
    if str(meta.get("TransferSyntaxUID", "")) != DEFLATED:
        return data
    budget = limits.max_voxels * 4 + (1 << 20)
    body = BoundedInflater(data[stream.tell() :], RAW_DEFLATE, "the deflated DICOM dataset").inflate_to(budget + 1)
    if len(body) > budget:
        raise ImageTooLarge(f"the deflated DICOM inflates past {budget} bytes, more than the voxel limit allows")
    from pydicom.dataset import FileMetaDataset

    file_meta = FileMetaDataset(meta)
    file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = DicomBytesIO()
    out.write(data[:132])
    write_file_meta_info(out, file_meta, enforce_standard=True)
    out.write(body)
    return out.getvalue()


def _check_pixel_module(name: str, ds: Any, limits: Limits) -> tuple[int, int, int]:
    """Rows, columns and frames, once the Image Pixel module says the pixels are grey and within the limits."""
    from pydicom.pixels.decoders.base import get_decoder

    if "PixelData" not in ds:
        kind = "a report or structured document" if "FloatPixelData" not in ds else "float pixel data"
        raise UnreadableImage(f"{name}: the DICOM file has no pixel data (is it {kind}?); send an image instance")
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if rows <= 0 or columns <= 0 or frames <= 0:
        raise UnreadableImage(f"{name}: the DICOM says {columns}x{rows} pixels in {frames} frames: it has no pixels")
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1 or str(ds.get("PhotometricInterpretation", "MONOCHROME2")) not in (
        "MONOCHROME1",
        "MONOCHROME2",
    ):
        raise UnreadableImage(f"{name}: the DICOM holds colour pixels; send a greyscale (MONOCHROME) image")
    limits.check_plane(f"DICOM image {name}", columns, rows)
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if syntax is None:
        raise UnreadableImage(f"{name}: the DICOM file meta has no Transfer Syntax UID (0002,0010)")
    try:
        available = get_decoder(syntax).is_available
    except NotImplementedError:
        available = False
    if not available:
        raise UnsupportedImage(
            f"{name}: the pixel data's transfer syntax {getattr(syntax, 'name', '') or syntax} ({syntax}) has no "
            "decoder here; convert it (e.g. `gdcmconv --raw in.dcm out.dcm`) or send NIfTI",
            transfer_syntax=str(syntax),
        )
    return rows, columns, frames


def _check_one_series(datasets: list[tuple[str, Any]]) -> None:
    series = {str(ds.get("SeriesInstanceUID", "")) for _, ds in datasets}
    if len(series) > 1:
        raise UnreadableImage(
            f"the upload mixes {len(series)} DICOM series (Series Instance UID differs); send one series at a time"
        )
    multi = [name for name, ds in datasets if int(ds.get("NumberOfFrames", 1) or 1) > 1]
    if multi:
        raise UnreadableImage(f"{multi[0]} is a multi-frame image inside a series of files; send it on its own")
    sizes = {(int(ds.Rows), int(ds.Columns)) for _, ds in datasets}
    if len(sizes) > 1:
        detail = ", ".join(f"{c}x{r}" for r, c in sorted(sizes))
        raise UnreadableImage(f"the series mixes slice sizes ({detail}); send one series")


# ---------------------------------------------------------------- functional groups and frames


def _macro(ds: Any, frame: int, sequence: str) -> Any:
    """The first item of a functional group macro for ``frame``: per-frame first, then shared (C.7.6.16)."""
    groups = []
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and frame < len(per_frame):
        groups.append(per_frame[frame])
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        groups.append(shared[0])
    for group in groups:
        items = group.get(sequence)
        if items:
            return items[0]
    return None


def _rescale_item(ds: Any, frame: int) -> Any:
    return _macro(ds, frame, "PixelValueTransformationSequence") or ds


def _numbers(value: Any, count: int, what: str, name: str) -> np.ndarray | None:
    if value is None or value == "":
        return None
    try:
        numbers = np.array([float(v) for v in (value if isinstance(value, Sequence | np.ndarray) else [value])])
    except (TypeError, ValueError) as exc:
        raise UnreadableImage(f"{name}: {what} {value!r} is not {count} numbers") from exc
    if numbers.size != count or not np.isfinite(numbers).all():
        raise UnreadableImage(f"{name}: {what} {list(numbers)} must be {count} finite numbers")
    return numbers


def _frames(name: str, ds: Any) -> list[_Frame]:
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    out = []
    for index in range(frames):
        label = name if frames == 1 else f"{name} frame {index + 1}"
        plane = _macro(ds, index, "PlanePositionSequence") or ds
        orient = _macro(ds, index, "PlaneOrientationSequence") or ds
        measures = _macro(ds, index, "PixelMeasuresSequence") or ds
        rescale = _rescale_item(ds, index)
        spacing = _numbers(measures.get("PixelSpacing"), 2, "Pixel Spacing", label)
        if spacing is not None and spacing.min() <= 0:
            raise UnreadableImage(f"{label}: Pixel Spacing {list(spacing)} must be positive")
        thickness = _numbers(measures.get("SpacingBetweenSlices") or measures.get("SliceThickness"), 1, "Slice", label)
        slope = _numbers(rescale.get("RescaleSlope"), 1, "Rescale Slope", label)
        intercept = _numbers(rescale.get("RescaleIntercept"), 1, "Rescale Intercept", label)
        out.append(
            _Frame(
                dataset=ds,
                index=index,
                position=_numbers(plane.get("ImagePositionPatient"), 3, "Image Position (Patient)", label),
                orientation=_numbers(orient.get("ImageOrientationPatient"), 6, "Image Orientation (Patient)", label),
                pixel_spacing=(float(spacing[0]), float(spacing[1])) if spacing is not None else None,
                thickness=abs(float(thickness[0])) if thickness is not None and thickness[0] else None,
                slope=float(slope[0]) if slope is not None and slope[0] else 1.0,
                intercept=float(intercept[0]) if intercept is not None else 0.0,
                name=label,
            )
        )
    return out


# ---------------------------------------------------------------- geometry


def _geometry(frames: list[_Frame]) -> tuple[list[_Frame], np.ndarray, str]:
    """Frames in slice order, the voxel-to-RAS affine, and whether the geometry was read or assumed."""
    have = [f.orientation is not None and f.position is not None for f in frames]
    if any(have) and not all(have):
        missing = next(f.name for f, ok in zip(frames, have, strict=True) if not ok)
        raise UnreadableImage(f"{missing} lacks Image Position/Orientation (Patient) that the other slices have")
    source = "read" if all(have) else "assumed axial"
    iop = frames[0].orientation if frames[0].orientation is not None else np.array(DEFAULT_IOP)
    row_dir, col_dir = iop[:3], iop[3:]
    if (
        abs(np.linalg.norm(row_dir) - 1) > 0.01
        or abs(np.linalg.norm(col_dir) - 1) > 0.01
        or abs(row_dir @ col_dir) > 0.01
    ):
        raise UnreadableImage(
            f"{frames[0].name}: Image Orientation (Patient) {list(iop)} is not two orthogonal unit vectors"
        )
    for f in frames[1:]:
        if f.orientation is not None and np.abs(f.orientation - iop).max() > ORIENTATION_TOLERANCE:
            raise UnreadableImage(
                f"the series mixes slice orientations ({frames[0].name} and {f.name}); send one stack"
            )
    spacings = {f.pixel_spacing for f in frames}
    if len(spacings) > 1:
        raise UnreadableImage(f"the series mixes pixel spacings {sorted(s for s in spacings if s)}; send one stack")
    normal = np.cross(row_dir, col_dir)
    if all(have):
        frames = sorted(frames, key=lambda f: float(normal @ f.position))
        depths = np.array([float(normal @ f.position) for f in frames])
        gaps = np.diff(depths)
        if gaps.size and gaps.min() < 1e-3:
            at = int(np.argmin(gaps))
            raise UnreadableImage(
                f"{frames[at].name} and {frames[at + 1].name} lie at the same position: the upload mixes series, "
                "phases or echoes; send one stack"
            )
        if gaps.size > 1 and np.abs(gaps - np.median(gaps)).max() > GAP_TOLERANCE * np.median(gaps):
            raise UnreadableImage(
                f"the slices are unevenly spaced (gaps from {gaps.min():.3g} to {gaps.max():.3g} mm): a slice is "
                "missing or the upload mixes series; send the whole series"
            )
    else:
        frames = sorted(frames, key=lambda f: int(f.dataset.get("InstanceNumber", 0) or 0))
    row_mm, col_mm = frames[0].pixel_spacing or (1.0, 1.0)
    first = frames[0].position if frames[0].position is not None else np.zeros(3)
    if len(frames) > 1 and all(have):
        step = (frames[-1].position - first) / (len(frames) - 1)  # type: ignore[operator]
    else:
        step = normal * (frames[0].thickness or 1.0)
    lps = np.eye(4)
    lps[:3, 0] = row_dir * col_mm  # column index i moves along a row, one column spacing per step
    lps[:3, 1] = col_dir * row_mm  # row index j moves down a column, one row spacing per step
    lps[:3, 2] = step
    lps[:3, 3] = first
    return frames, checked_affine(LPS_TO_RAS @ lps, "DICOM geometry"), source


# ---------------------------------------------------------------- pixels and intensity


def _decode(frames: list[_Frame]) -> list[np.ndarray]:
    """Each frame's stored values [rows, columns], each compressed frame's header checked first."""
    arrays: dict[int, np.ndarray] = {}
    for frame in frames:
        ds = frame.dataset
        if id(ds) not in arrays:
            _check_codestreams(frame.name, ds)
            try:
                pixels = np.asarray(ds.pixel_array)
            except Exception as exc:  # decoders raise many types for damaged streams
                syntax = ds.file_meta.get("TransferSyntaxUID", "")
                raise UnreadableImage(
                    f"{frame.name}: the pixel data cannot be decoded ({type(exc).__name__}: {exc}); transfer syntax "
                    f"{getattr(syntax, 'name', syntax)}. Is the file complete?"
                ) from exc
            arrays[id(ds)] = pixels.reshape(-1, int(ds.Rows), int(ds.Columns))
    return [arrays[id(f.dataset)][f.index] for f in frames]


def _check_codestreams(name: str, ds: Any) -> None:
    from pydicom.encaps import generate_frames
    from pydicom.uid import RLELossless

    syntax = ds.file_meta.TransferSyntaxUID
    if not syntax.is_compressed or syntax == RLELossless:
        return
    rows, columns, count = int(ds.Rows), int(ds.Columns), int(ds.get("NumberOfFrames", 1) or 1)
    try:
        for number, frame in enumerate(generate_frames(ds.PixelData, number_of_frames=count), 1):
            size = frame_size(frame)
            if size != (columns, rows):
                said = "no frame header" if size is None else f"a {size[0]}x{size[1]} frame"
                raise UnreadableImage(
                    f"{name}: compressed frame {number} holds {said}, but Rows and Columns say {columns}x{rows}; "
                    "the file is inconsistent and was not decoded"
                )
            if number == count:
                break
    except ImageError:
        raise
    except Exception as exc:  # a broken encapsulation (item tags, lengths)
        raise UnreadableImage(f"{name}: the compressed pixel data is damaged ({type(exc).__name__}: {exc})") from exc


def _hu(frame: _Frame, stored: np.ndarray) -> np.ndarray:
    """Modality values of one frame: the Modality LUT Sequence if present, else Rescale Slope and Intercept."""
    ds = frame.dataset
    if ds.get("ModalityLUTSequence"):
        from pydicom.pixels.processing import apply_modality_lut

        return np.asarray(apply_modality_lut(stored, ds), dtype=np.float32)
    return stored.astype(np.float32) * np.float32(frame.slope) + np.float32(frame.intercept)

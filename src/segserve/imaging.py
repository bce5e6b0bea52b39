"""Decoding inputs (PNG, JPEG, DICOM, NIfTI) into windowed slices on the model's axes, and back.

Axis conventions, the one thing that is easy to get wrong here: the model's two
input axes are a NIfTI voxel array's first two axes (``array[:, :, z]``, "xy").
PNG, JPEG and DICOM pixels are ``[rows, cols] = [y, x]``, so they are transposed
on the way in and the label map is transposed back on the way out. Every input
becomes a ``Decoded``: float32 slices ``[Z, X, Y]`` with values in [0, 1] (CT
windowed, or 8/16-bit grey levels taken as already windowed), plus what is
needed to answer in the input's own geometry (spacing, affine, layout).

Limits are checked before pixels are decoded, so a 20000x20000 PNG or a gzip bomb
costs a header read, not gigabytes.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
from PIL import Image

from segserve.errors import ServiceError, bad_input

Image.MAX_IMAGE_PIXELS = None  # the service checks sizes itself, with a clearer message

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]

FORMATS = ("png", "jpeg", "dicom", "nifti")


@dataclass
class Limits:
    """Bounds on what one request may make the service decode."""

    max_pixels: int = 4096 * 4096  # per slice
    max_voxels: int = 512 * 512 * 1024  # per volume


@dataclass
class Decoded:
    """An input as slices on the model's axes, and how to answer in the input's own geometry."""

    kind: str  # one of FORMATS
    slices: F32  # [Z, X, Y], values in [0, 1]
    spacing: tuple[float, float] | None  # mm along X and Y, None when the input does not say
    spacing_source: str  # "dicom", "nifti", "parameter" or "unknown"
    slice_thickness: float | None = None  # mm along Z (volumes)
    layout: str = "yx"  # answer axes: "yx" ([rows, cols] images), "xy" / "xyz" (NIfTI arrays)
    answer_spacing: list[float] | None = None  # NIfTI: mm per axis of the input's own array
    orientation: npt.NDArray[Any] | None = None  # NIfTI: nibabel orientation from the input's axes to RAS
    affine: list[list[float]] | None = None  # NIfTI's, to answer with the same one
    extra: dict[str, Any] = field(default_factory=dict)


def sniff(data: bytes) -> str:
    """The input's format from its first bytes (content types lie; magic numbers rarely do)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(data) >= 132 and data[128:132] == b"DICM":
        return "dicom"
    if data.startswith(b"\x1f\x8b"):
        return "nifti"  # gzip: only NIfTI is accepted compressed; the header check below confirms it
    if len(data) >= 348 and (
        int.from_bytes(data[:4], "little") in (348, 540) or int.from_bytes(data[:4], "big") in (348, 540)
    ):
        return "nifti"  # sizeof_hdr: 348 for NIfTI-1, 540 for NIfTI-2, in either byte order
    head = data[:16]
    raise ServiceError(
        415,
        "unsupported_format",
        f"the body is not a PNG, JPEG, DICOM (Part 10, with 'DICM' at byte 128) or NIfTI (.nii or .nii.gz) file "
        f"(it starts {head!r}); send one of those, raw or as a multipart upload",
        valid=list(FORMATS),
    )


def decode(
    data: bytes,
    window: tuple[float, float],
    limits: Limits,
    spacing: tuple[float, float] | None = None,
) -> Decoded:
    """Any supported input as windowed slices; ``spacing`` (mm, x then y) overrides what the file says."""
    if not data:
        raise bad_input("the request body is empty; send an image (PNG, JPEG, DICOM or NIfTI)")
    kind = sniff(data)
    if kind in ("png", "jpeg"):
        decoded = decode_picture(data, kind, limits)
    elif kind == "dicom":
        decoded = decode_dicom(data, window, limits)
    else:
        decoded = decode_nifti(data, window, limits)
    if spacing is not None:
        decoded.spacing, decoded.spacing_source = spacing, "parameter"
    return decoded


def _check_slice(kind: str, width: int, height: int, limits: Limits) -> None:
    if width <= 0 or height <= 0:
        raise bad_input(f"the {kind} image is {width}x{height} pixels: it has no pixels")
    if width * height > limits.max_pixels:
        raise ServiceError(
            413,
            "image_too_large",
            f"the {kind} image is {width}x{height} = {width * height} pixels, over this service's limit of "
            f"{limits.max_pixels} per slice; downsample it (a CT slice is typically 512x512)",
        )


def decode_picture(data: bytes, kind: str, limits: Limits) -> Decoded:
    """PNG or JPEG: grey levels taken as already windowed.

    8-bit grey is ``v / 255``; 16-bit grey is ``v / 65535`` (the same meaning, more
    precision); colour (RGB, RGBA, palette) becomes luminance with alpha ignored, as
    screenshots and exported figures are usually colour files holding grey pixels.
    """
    image: Image.Image
    try:
        image = Image.open(io.BytesIO(data))
        _check_slice(kind.upper(), image.width, image.height, limits)
        image.load()
    except ServiceError:
        raise
    except Exception as exc:  # PIL raises many types for broken files
        raise bad_input(f"the {kind.upper()} file cannot be decoded ({exc}); is it complete?") from exc
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        pixels = np.asarray(image, dtype=np.float32)
        scale = 65535.0
    elif mode == "F":
        raise bad_input("floating-point images are not accepted; send an 8- or 16-bit grey PNG, DICOM or NIfTI")
    else:
        if mode not in ("L",):
            if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
                image = image.convert("RGBA").convert("RGB")
            image = image.convert("L")
        pixels = np.asarray(image, dtype=np.float32)
        scale = 255.0
    values = np.clip(pixels / scale, 0.0, 1.0).astype(np.float32)
    return Decoded(
        kind=kind,
        slices=display_to_model(values[None]),
        spacing=None,
        spacing_source="unknown",
        extra={"mode": mode},
    )


def display_to_model(planes: F32) -> F32:
    """[Z, rows, cols] pictures -> [Z, X, Y] model slices.

    A PNG, JPEG or axial DICOM is shown radiologically (rows run anterior to posterior, the patient's right on the
    left), while the model's axes are a RAS array's x (towards the right) and y (towards anterior): transpose,
    then flip both axes. ``model_to_display`` undoes it.
    """
    return np.ascontiguousarray(planes.transpose(0, 2, 1)[:, ::-1, ::-1])


def model_to_display(slices: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return np.ascontiguousarray(slices[:, ::-1, ::-1].transpose(0, 2, 1))


def ras_to_input(labels: npt.NDArray[Any], orientation: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Undo a NIfTI's reorientation to RAS: labels [X, Y, Z] back on the input array's own axes."""
    from nibabel import orientations

    back = orientations.ornt_transform(orientations.axcodes2ornt("RAS"), orientation)
    return np.asarray(orientations.apply_orientation(labels, back))


def window_hu(hu: npt.NDArray[Any], window: tuple[float, float]) -> F32:
    """Clip Hounsfield units to the model's window and scale to [0, 1]."""
    low, high = window
    out: F32 = ((np.clip(hu, low, high) - low) / (high - low)).astype(np.float32)
    return out


def decode_dicom(data: bytes, window: tuple[float, float], limits: Limits) -> Decoded:
    """A DICOM Part 10 file: HU from RescaleSlope/Intercept, spacing from PixelSpacing (row, col)."""
    import pydicom

    try:
        ds = pydicom.dcmread(io.BytesIO(data))
    except Exception as exc:  # InvalidDicomError, EOFError, BytesLengthException (a ValueError), ...
        raise bad_input(f"the DICOM file cannot be read ({type(exc).__name__}: {exc}); is it complete?") from exc
    try:
        return _decode_dataset(ds, window, limits)
    except ServiceError:
        raise
    except Exception as exc:  # pydicom parses elements lazily: a damaged one fails on first access, in any type
        raise bad_input(
            f"the DICOM file has an unreadable element ({type(exc).__name__}: {exc}); is it complete?"
        ) from exc


def _decode_dataset(ds: Any, window: tuple[float, float], limits: Limits) -> Decoded:
    if "PixelData" not in ds:
        raise bad_input("the DICOM file has no pixel data (PixelData is missing); send an image instance")
    rows, cols = int(ds.get("Rows", 0)), int(ds.get("Columns", 0))
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    _check_slice("DICOM", cols, rows, limits)
    if rows * cols * frames > limits.max_voxels:
        raise ServiceError(413, "image_too_large", f"the DICOM has {frames} frames of {cols}x{rows}: too many voxels")
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise bad_input("the DICOM holds colour pixels (SamplesPerPixel != 1); send a greyscale CT image")
    try:
        pixels = np.asarray(ds.pixel_array, dtype=np.float32)
    except Exception as exc:
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "unknown")
        raise bad_input(
            f"the DICOM pixel data cannot be decoded ({exc}); transfer syntax {syntax}. "
            "Send uncompressed DICOM (e.g. `gdcmconv --raw in.dcm out.dcm`) or NIfTI"
        ) from exc
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    hu = pixels * slope + intercept
    if hu.ndim == 2:
        hu = hu[None]
    spacing: tuple[float, float] | None = None
    source = "unknown"
    if "PixelSpacing" in ds:
        try:
            row_mm, col_mm = (float(v) for v in ds.PixelSpacing)
            if row_mm > 0 and col_mm > 0:
                spacing, source = (col_mm, row_mm), "dicom"  # x runs along a row: the column spacing
        except (TypeError, ValueError):
            pass
    thickness = ds.get("SliceThickness")
    return Decoded(
        kind="dicom",
        slices=display_to_model(window_hu(hu, window)),
        spacing=spacing,
        spacing_source=source,
        slice_thickness=float(thickness) if thickness else None,
        extra={"frames": frames},
    )


def _gunzip(data: bytes, limit: int) -> bytes:
    """Decompress, refusing to inflate past ``limit`` bytes (a gzip bomb costs nothing)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise bad_input(f"the gzip stream is corrupt ({exc}); send the .nii.gz file intact") from exc
    if len(out) > limit:
        raise ServiceError(413, "image_too_large", f"the NIfTI file inflates past {limit} bytes; send a smaller volume")
    if not inflater.eof:
        raise bad_input("the .nii.gz file is truncated (the gzip stream ends early); send the whole file")
    return out


def decode_nifti(data: bytes, window: tuple[float, float], limits: Limits) -> Decoded:
    """A NIfTI-1 or -2 volume (2-D or 3-D; .nii or .nii.gz) in HU; spacing from the header's zooms."""
    import nibabel as nib

    if data.startswith(b"\x1f\x8b"):
        data = _gunzip(data, limits.max_voxels * 8 + 1024)
    image: Any = None
    errors = []
    for cls in (nib.Nifti1Image, nib.Nifti2Image):
        try:
            image = cls.from_bytes(data)
            break
        except Exception as exc:  # nibabel raises several types for a wrong header
            errors.append(str(exc))
    if image is None:
        raise bad_input(f"the body is not a NIfTI file nibabel can read ({errors[-1]})")
    shape = tuple(int(s) for s in image.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) not in (2, 3):
        raise bad_input(f"the NIfTI array has shape {tuple(image.shape)}; send a 2-D slice or a 3-D volume")
    _check_slice("NIfTI", shape[0], shape[1], limits)
    if int(np.prod(shape)) > limits.max_voxels:
        raise ServiceError(413, "image_too_large", f"the NIfTI volume {shape} has more than {limits.max_voxels} voxels")
    try:
        array = np.asarray(image.dataobj, dtype=np.float32).reshape(shape)
    except Exception as exc:
        raise bad_input(f"the NIfTI data cannot be read ({exc}); is the file truncated?") from exc
    if not np.isfinite(array).all():
        array = np.nan_to_num(array, nan=window[0], posinf=window[1], neginf=window[0])
    zooms = [float(z) for z in image.header.get_zooms()[: len(shape)]]
    volume = array[:, :, None] if len(shape) == 2 else array
    # The model was trained on RAS-canonical arrays (nibabel's as_closest_canonical): reorient on the way in,
    # and back on the way out, so the answer lies on the input's own voxel grid.
    orientation = nib.orientations.io_orientation(np.asarray(image.affine))
    canonical = nib.orientations.apply_orientation(volume, orientation)
    axis_zooms = [*zooms, 1.0][:3]
    canonical_zooms = [0.0] * 3
    for axis, (target, _) in enumerate(orientation):
        canonical_zooms[int(target)] = axis_zooms[axis]
    spacing: tuple[float, float] | None = (
        (canonical_zooms[0], canonical_zooms[1]) if min(canonical_zooms[:2]) > 0 else None
    )
    return Decoded(
        kind="nifti",
        slices=np.ascontiguousarray(window_hu(canonical, window).transpose(2, 0, 1)),
        spacing=spacing,
        answer_spacing=zooms if min(zooms) > 0 else None,
        orientation=orientation,
        spacing_source="nifti" if spacing else "unknown",
        slice_thickness=zooms[2] if len(shape) == 3 and zooms[2] > 0 else None,
        layout="xy" if len(shape) == 2 else "xyz",
        affine=[[float(v) for v in row] for row in np.asarray(image.affine)],
        extra={"version": 2 if isinstance(image, nib.Nifti2Image) else 1},
    )


# ---------------------------------------------------------------- resampling


def resample_slices(slices: F32, size: tuple[int, int]) -> F32:
    """Bilinear resize of every slice [Z, X, Y] to ``size`` = (X', Y')."""
    return _resize(slices, size, "F", Image.Resampling.BILINEAR)


def resample_labels(labels: U8, size: tuple[int, int]) -> U8:
    """Nearest-neighbour resize of label maps [Z, X', Y'] back to ``size`` = (X, Y)."""
    return _resize(labels, size, "L", Image.Resampling.NEAREST)


Planes = TypeVar("Planes", F32, U8)


def _resize(planes: Planes, size: tuple[int, int], mode: str, method: Image.Resampling) -> Planes:
    if planes.shape[1:] == size:
        return planes
    out = np.empty((planes.shape[0], *size), planes.dtype)
    for i, plane in enumerate(planes):
        # PIL's width is the array's second axis.
        out[i] = np.asarray(Image.fromarray(plane, mode=mode).resize((size[1], size[0]), method), dtype=planes.dtype)
    return cast(Planes, out)


def model_grid(
    shape: tuple[int, int], spacing: tuple[float, float] | None, target: tuple[float, float]
) -> tuple[int, int]:
    """The slice size at the model's spacing (unchanged when the input's spacing is unknown or equal)."""
    if spacing is None:
        return shape
    sizes = []
    for n, have, want in zip(shape, spacing, target, strict=True):
        sizes.append(n if abs(have - want) < 1e-3 * want else max(1, round(n * have / want)))
    return sizes[0], sizes[1]


# ---------------------------------------------------------------- spectra (for the page)


def spectra_png(slice_xy: F32) -> tuple[bytes, bytes]:
    """The slice's centred log-magnitude and phase spectra as 8-bit PNGs in the image's orientation.

    The page shows them beside the image because the model's encoder works in the
    frequency domain: the magnitude says which scales carry energy, the phase where.
    """
    image = model_to_display(slice_xy[None])[0]  # the picture's own orientation
    spectrum = np.fft.fftshift(np.fft.fft2(image - image.mean()))
    magnitude = np.log1p(np.abs(spectrum))
    top = float(magnitude.max()) or 1.0
    mag8 = (magnitude / top * 255).astype(np.uint8)
    phase8 = ((np.angle(spectrum) + np.pi) / (2 * np.pi) * 255).astype(np.uint8)
    return encode_png(mag8), encode_png(phase8)


def encode_png(array: U8, compress_level: int = 1) -> bytes:
    """An 8-bit grey PNG; level 1 because label maps compress well at any level and speed matters."""
    buffer = io.BytesIO()
    Image.fromarray(array, mode="L").save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1, mtime=0)

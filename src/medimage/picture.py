"""PNG and JPEG pictures of a slice, read with Pillow (its decompression-bomb guard left on).

A picture is taken as one axial slice shown radiologically (rows run anterior to posterior, the patient's right on
the left of the picture, as a DICOM axial slice is displayed), with grey levels already windowed:

- 8-bit grey is ``v / 255``, 16-bit grey ``v / 65535`` (the same meaning, finer steps); colour (RGB, palette,
  with or without alpha) becomes luminance (ITU-R 601-2, Pillow's ``L``), alpha ignored; floating-point pictures
  are refused (their scale is unknown).
- an EXIF Orientation tag (JPEG, and PNG's eXIf chunk; EXIF 2.32 section 4.6.4 A, tag 0x0112) is applied first,
  as every viewer shows the picture turned upright.
- the spacing is unknown: the caller gives it, or the model's own spacing stands in.
"""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np

from medimage.codestream import frame_size
from medimage.errors import ImageError, ImageTooLarge, UnreadableImage, UnsupportedImage
from medimage.image import Image
from medimage.limits import Limits

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
DISPLAY_AFFINE = np.diag([-1.0, -1.0, 1.0, 1.0])  # column index -> patient's left, row index -> posterior


def picture_format(head: bytes) -> str | None:
    if head.startswith(PNG_MAGIC):
        return "png"
    if head.startswith(JPEG_MAGIC):
        return "jpeg"
    return None


def read_picture(data: bytes, limits: Limits) -> Image:
    """A PNG or JPEG as a one-slice ``Image`` of grey levels in [0, 1] (see the module).

    Raises:
        ImageTooLarge (413): more pixels than ``limits.max_pixels`` (checked from the header, before decoding).
        UnreadableImage (400): truncated or corrupt. UnsupportedImage (415): floating-point pixels.
    """
    from PIL import Image as PILImage
    from PIL import ImageOps

    kind = picture_format(data) or "picture"
    declared = _declared_size(data, kind)
    if declared is not None:
        limits.check_plane(kind.upper(), *declared)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            opened = PILImage.open(io.BytesIO(data))
            limits.check_plane(kind.upper(), opened.width, opened.height)
            opened.load()
            picture: PILImage.Image = ImageOps.exif_transpose(opened)
    except ImageError:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"the {kind.upper()} is too large to decode safely ({exc})") from exc
    except Exception as exc:  # Pillow raises many types for broken files
        raise UnreadableImage(f"the {kind.upper()} file cannot be decoded ({exc}); is it complete?") from exc
    mode = picture.mode
    if mode == "F":
        raise UnsupportedImage(
            "floating-point pictures are not accepted; send an 8- or 16-bit grey PNG, DICOM or NIfTI"
        )
    if mode in SIXTEEN_BIT:
        grey = np.asarray(picture, dtype=np.float32) / 65535.0
    else:
        if mode != "L":
            if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in picture.info):
                picture = picture.convert("RGBA").convert("RGB")
            picture = picture.convert("L")
        grey = np.asarray(picture, dtype=np.float32) / 255.0
    array = np.ascontiguousarray(np.clip(grey, 0.0, 1.0).T[:, :, None], dtype=np.float32)  # [rows, cols] -> [i, j, 1]
    return Image(
        array=array,
        affine=DISPLAY_AFFINE.copy(),
        format=kind,
        modality=None,
        intensity="grey",
        spacing_source="unknown",
        detail={"mode": mode},
    )


def _declared_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) from the PNG IHDR chunk (PNG 11.2.2) or the JPEG frame header, before Pillow opens it."""
    if kind == "png" and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if kind == "jpeg":
        return frame_size(data)
    return None


def encode_png(array: np.ndarray, compress_level: int = 1) -> bytes:
    """An 8-bit grey PNG of ``array`` [rows, cols] (uint8); level 1 because label maps compress well at any level."""
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(array, dtype=np.uint8), mode="L").save(
        buffer, format="PNG", compress_level=compress_level
    )
    return buffer.getvalue()

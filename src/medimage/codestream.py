"""The frame size a JPEG or JPEG 2000 codestream declares in its own header, read before decoding.

A decoder allocates what the codestream says, not what the DICOM Rows and Columns say; a small file whose frame
header claims 20000x20000 pixels would make it allocate gigabytes. Reading the header first lets the caller refuse
a frame that disagrees with the dataset before any pixel is decoded.

- JPEG (ITU-T T.81 B.2.2, baseline, extended and lossless) and JPEG-LS (ITU-T T.87, SOF55): the SOFn segment's
  number of lines (Y) and samples per line (X).
- JPEG 2000 and HTJ2K (ISO/IEC 15444-1 A.5.1): the SIZ segment's Xsiz - XOsiz by Ysiz - YOsiz.
RLE Lossless (PS3.5 G) frames have no size of their own: pydicom decodes them into Rows x Columns.
"""

from __future__ import annotations

import struct

JPEG_SOF = {0xFFC0 + n for n in range(16) if n not in (4, 8, 12)} | {0xFFF7}  # not DHT, JPG, DAC; SOF55 for -LS
J2K_SOC_SIZ = b"\xff\x4f\xff\x51"
JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  "


def frame_size(frame: bytes) -> tuple[int, int] | None:
    """``(columns, rows)`` declared by a JPEG, JPEG-LS or JPEG 2000 codestream; ``None`` if it has no such header
    (a caller then decodes nothing: an unrecognised stream is not decoded either)."""
    if frame.startswith(b"\xff\xd8"):
        return _jpeg_size(frame)
    if frame.startswith(JP2_SIGNATURE):
        start = frame.find(b"jp2c")
        frame = frame[start + 4 :] if start >= 0 else b""
    if frame.startswith(J2K_SOC_SIZ) and len(frame) >= 28:
        xsiz, ysiz, xosiz, yosiz = struct.unpack(">IIII", frame[8:24])
        return xsiz - xosiz, ysiz - yosiz
    return None


def _jpeg_size(frame: bytes) -> tuple[int, int] | None:
    offset = 2
    while offset + 4 <= len(frame):
        if frame[offset] != 0xFF:
            return None
        marker = struct.unpack(">H", frame[offset : offset + 2])[0]
        if marker in (0xFF01, *range(0xFFD0, 0xFFD8)):  # markers without a length
            offset += 2
            continue
        (length,) = struct.unpack(">H", frame[offset + 2 : offset + 4])
        if marker in JPEG_SOF:
            if offset + 9 > len(frame):
                return None
            rows, columns = struct.unpack(">HH", frame[offset + 5 : offset + 9])
            return columns, rows
        if marker == 0xFFDA:  # start of scan before any frame header
            return None
        offset += 2 + length
    return None

"""Bounded decompression: a deflate stream inflated on demand, never past what the caller asked for.

A few kilobytes of deflate can inflate to gigabytes, so every compressed input (a .nii.gz, a Deflated Explicit VR
Little Endian DICOM) is inflated only as far as the size its own header declares, or a budget, allows; what lies
beyond is never inflated.
"""

from __future__ import annotations

import zlib

from medimage.errors import UnreadableImage

GZIP_MAGIC = b"\x1f\x8b"
GZIP = 16 + zlib.MAX_WBITS  # zlib's wbits for a gzip wrapper (RFC 1952)
RAW_DEFLATE = -zlib.MAX_WBITS  # no wrapper (RFC 1951), as DICOM's deflated transfer syntax (PS3.5 A.5)


class BoundedInflater:
    """``data`` inflated on demand with ``wbits``. For gzip, several members one after another (as bgzip and
    parallel compressors write them, RFC 1952 section 2.2) read as one stream. ``what`` names the stream in
    errors."""

    def __init__(self, data: bytes, wbits: int = GZIP, what: str = "the gzip stream") -> None:
        self.wbits = wbits
        self.what = what
        self.inflater = zlib.decompressobj(wbits)
        self.pending = data
        self.chunks: list[bytes] = []
        self.length = 0

    def inflate_to(self, size: int) -> bytes:
        """The first ``size`` inflated bytes (fewer if the stream ends first); nothing past them is inflated."""
        try:
            while self.length < size:
                if self.inflater.eof:
                    rest = self.inflater.unused_data
                    if self.wbits != GZIP or not rest.startswith(GZIP_MAGIC):
                        break
                    self.inflater, self.pending = zlib.decompressobj(self.wbits), rest
                chunk = self.inflater.decompress(self.pending, size - self.length)
                self.pending = self.inflater.unconsumed_tail
                self.chunks.append(chunk)
                self.length += len(chunk)
                if not chunk and not self.pending and not self.inflater.eof:
                    break
        except zlib.error as exc:
            raise UnreadableImage(f"{self.what} is corrupt ({exc}); send the file intact") from exc
        whole = b"".join(self.chunks)  # a single chunk is returned as it is, without a copy
        self.chunks = [whole]
        return whole if len(whole) <= size else whole[:size]

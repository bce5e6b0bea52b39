"""ByteView: an immutable view of a cached value, as groupcache's ByteView.

Values leave the cache as ByteViews so that no caller can change what other
callers will read. Reading never copies: the view holds an immutable ``bytes``
(or a read-only memoryview of one, after slicing).
"""

from __future__ import annotations

from typing import overload


class ByteView:
    __slots__ = ("_data",)

    def __init__(self, data: bytes | bytearray | memoryview = b""):
        if isinstance(data, bytes):
            self._data: bytes | memoryview = data
        elif isinstance(data, memoryview):
            self._data = data.toreadonly()
        elif isinstance(data, bytearray):
            self._data = bytes(data)  # a bytearray could change under us: copy once, on the way in
        else:
            raise TypeError(f"ByteView holds bytes, not {type(data).__name__}")

    def __len__(self) -> int:
        return len(self._data)

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> ByteView: ...
    def __getitem__(self, index: int | slice) -> int | ByteView:
        if isinstance(index, slice):
            view = self._data if isinstance(self._data, memoryview) else memoryview(self._data)
            return ByteView(view[index])
        return self._data[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ByteView):
            return self._data == other._data
        if isinstance(other, bytes | bytearray | memoryview):
            return self._data == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(bytes(self._data))

    def __bytes__(self) -> bytes:
        return self.bytes()

    def bytes(self) -> bytes:
        """The value as bytes; no copy unless this view is a slice."""
        data = self._data
        return data if isinstance(data, bytes) else data.tobytes()

    def memoryview(self) -> memoryview:
        """A read-only memoryview, never a copy."""
        return memoryview(self._data).toreadonly()

    def __str__(self) -> str:
        return self.bytes().decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        preview = self.bytes()[:32]
        return f"ByteView({preview!r}{'...' if len(self) > 32 else ''}, {len(self)} bytes)"

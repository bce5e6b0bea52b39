"""Read-only, case-insensitive view of the request's headers, straight over the ASGI list."""

from __future__ import annotations

from collections.abc import Iterator, Mapping


class Headers(Mapping[str, str]):
    """Request headers: ``h["Content-Type"]``, ``h.get(...)``, ``h.get_all("Accept")``.

    ASGI already gives lower-cased names as bytes; decoding is latin-1, as HTTP/1.1
    defines header bytes. Repeated headers are joined with ", " by ``[]``/``get``.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: list[tuple[bytes, bytes]]):
        self._raw = raw

    def get_all(self, name: str) -> list[str]:
        key = name.lower().encode("latin-1")
        return [value.decode("latin-1") for k, value in self._raw if k == key]

    def __getitem__(self, name: str) -> str:
        values = self.get_all(name)
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower().encode("latin-1")
        return any(k == key for k, _ in self._raw)

    def __iter__(self) -> Iterator[str]:
        seen: dict[str, None] = {}
        for k, _ in self._raw:
            seen.setdefault(k.decode("latin-1"))
        return iter(seen)

    def __len__(self) -> int:
        return len({k for k, _ in self._raw})

    def __repr__(self) -> str:
        return f"Headers({[(k.decode('latin-1'), v.decode('latin-1')) for k, v in self._raw]})"

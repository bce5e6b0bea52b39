"""Range requests (RFC 9110 section 14): which bytes of a representation a ``Range`` field asks for."""

from __future__ import annotations

import re
from typing import Literal

_SPEC = re.compile(r"(\d*)-(\d*)", re.ASCII)


def byte_range(field: str, size: int) -> tuple[int, int] | Literal[False] | None:
    """The part of a ``size``-byte representation that ``field`` asks for, as ``(first, last)`` inclusive.

    ``None``: ignore the field and send the whole representation, as RFC 9110 section 14.2 requires for another
    range unit and allows for an invalid range set (``bytes=5-2``, section 14.1.1), for a representation with no
    bytes, and for several satisfiable ranges (gee sends no ``multipart/byteranges``). ``False``: no range is
    satisfiable (``bytes=20-`` of 10 bytes, ``bytes=-0``), which answers 416 (section 15.5.17).
    """
    unit, equals, range_set = field.partition("=")
    if not equals or unit.strip().lower() != "bytes" or size == 0:
        return None
    chosen: list[tuple[int, int]] = []
    specs = [spec.strip(" \t") for spec in range_set.split(",")]
    if not any(specs):
        return None  # range-set is 1#range-spec: an empty set is invalid
    for spec in filter(None, specs):  # empty list elements are allowed (section 5.6.1)
        match = _SPEC.fullmatch(spec)
        if match is None:
            return None
        first, last = match.groups()
        if first:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
            if last and int(last) < start:
                return None  # invalid (section 14.1.1)
            if start < size:
                chosen.append((start, end))
        elif last:
            suffix = int(last)  # the last `suffix` bytes; a suffix of 0 is unsatisfiable
            if suffix:
                chosen.append((max(size - suffix, 0), size - 1))
        else:
            return None  # "-" alone
    if not chosen:
        return False
    return chosen[0] if len(chosen) == 1 else None

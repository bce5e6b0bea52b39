"""Header fields: a read-only view of the request's, and the encodings that turn the response's text into bytes.

Request fields keep their bytes: ASGI gives them as bytes and they are decoded as Latin-1, which maps every byte
to one character and back (RFC 9110 section 5.5: field values are octets, historically ISO-8859-1).

Response fields are text that handlers write, so each is encoded as its specification says, never by accident:

- ``field_name``: a token (RFC 9110 section 5.6.2); anything else is refused.
- ``field_value``: Latin-1, the charset HTTP/1.1 field values historically carry; text outside it, and the
  control characters RFC 9110 section 5.5 forbids (CR and LF would split the header), are refused with an
  error naming the field and the fix.
- ``uri_reference``: ``Location``'s value, a URI reference (RFC 9110 section 10.2.2, RFC 3986 section 3.5);
  text that is not one is mapped as RFC 3987 section 3.1 maps an IRI, by percent-encoding the UTF-8 of every
  character a URI cannot hold.
- ``content_disposition``: the file name as an RFC 8187 ``filename*`` parameter (RFC 6266 section 4.3).

Cookies have their own module (``gee.cookies``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from urllib.parse import quote

URI_CHARACTERS = "!#$%&'()*+,/:;=?@[]~"
"""What ``urllib.parse.quote`` must leave alone in a URI besides letters, digits and ``-._~``: RFC 3986 section
2.2's reserved characters, and ``%`` so that escapes already made stay as they are."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # CTLs but HTAB (RFC 9110 section 5.5)
_RFC8187_SAFE = "!#$&+^`|"  # attr-char (RFC 8187 section 3.2.1) besides what quote() always leaves


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


def is_token(text: str) -> bool:
    """Whether ``text`` is an RFC 9110 section 5.6.2 token (a field name, a cookie name)."""
    return _TOKEN.fullmatch(text) is not None


@lru_cache(maxsize=512)
def field_name(name: str) -> bytes:
    """A response field's name as ASGI sends it: lower-case ASCII; a name that is not a token raises ValueError."""
    if not is_token(name):
        raise ValueError(
            f"{name!r} is not a valid header name: RFC 9110 section 5.6.2 allows ASCII letters, digits and "
            "!#$%&'*+-.^_`|~ only"
        )
    return name.lower().encode("ascii")


def field_value(name: str, value: str) -> bytes:
    """A response field's value as bytes: Latin-1 text; anything else raises ValueError saying what to do."""
    if _FORBIDDEN.search(value):
        raise ValueError(
            f"the value of header {name!r} holds a control character ({value!r}); RFC 9110 section 5.5 forbids them "
            "in field values, and CR or LF would split the header: remove them"
        )
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"the value of header {name!r} holds {value[exc.start : exc.end]!r}, which HTTP field values cannot carry "
            "(RFC 9110 section 5.5: ASCII, historically Latin-1); percent-encode it, or use the header's own "
            "encoding for international text where it defines one (RFC 8187)"
        ) from None


def uri_reference(uri: str) -> str:
    """A ``Location`` value: ``uri`` with every character a URI cannot hold percent-encoded as UTF-8 (RFC 3987
    section 3.1), so ``/wiki/日本`` goes out as ``/wiki/%E6%97%A5%E6%9C%AC``; escapes already there are kept."""
    return quote(uri, safe=URI_CHARACTERS)


def content_disposition(kind: str, filename: str) -> str:
    """``Content-Disposition`` with the file name as an RFC 8187 ext-value, which carries any text:
    ``attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`` (RFC 6266 section 4.3)."""
    return f"{kind}; filename*=UTF-8''{quote(filename, safe=_RFC8187_SAFE)}"

"""Cookies: reading the ``Cookie`` request header and writing ``Set-Cookie``, as Gin does.

Reading follows Go's ``net/http`` cookie reader, which Gin uses, and RFC 6265 section 5.4's ``name=value; ...``
list: each pair stands alone, so a malformed pair (a name that is not a token, a value with bytes outside
cookie-octet) is skipped and the rest are kept; the first of two pairs with one name wins, as the most specific
cookie comes first. Values are then unescaped as Gin's ``c.Cookie`` does (``url.QueryUnescape``), since gee,
like Gin, escapes the values it sets with ``url.QueryEscape``: every text survives the round trip and goes out
inside RFC 6265 section 4.1.1's cookie-octet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote_plus

from gee.headers import is_token

# cookie-octet (RFC 6265 section 4.1.1) as Go reads it: printable ASCII but '"', ';' and '\', plus space and comma.
_COOKIE_VALUE = re.compile(r"[\x20\x21\x23-\x3a\x3c-\x5b\x5d-\x7e]*")
_PATH_SAFE = "/!$%&'()*+,:=@~"  # RFC 3986 pchar and '/', without ';' (it would end the attribute)
_SAME_SITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


def parse_cookies(fields: Iterable[str]) -> dict[str, str]:
    """The cookies of ``Cookie`` header fields, name to unescaped value; malformed pairs are skipped."""
    cookies: dict[str, str] = {}
    for field in fields:
        for pair in field.split(";"):
            name, _, value = pair.strip(" \t\r\n").partition("=")
            name = name.strip(" \t\r\n")
            if name in cookies or not is_token(name):
                continue
            if len(value) > 1 and value[0] == value[-1] == '"':
                value = value[1:-1]
            if _COOKIE_VALUE.fullmatch(value) is None:
                continue
            cookies[name] = _unescape(value)
    return cookies


def _unescape(value: str) -> str:
    """Gin's ``url.QueryUnescape``; a value that is not an escaped UTF-8 text is kept as it came."""
    if "%" not in value and "+" not in value:
        return value
    try:
        return unquote_plus(value, errors="strict")
    except UnicodeDecodeError:
        return value


def set_cookie(
    name: str,
    value: str,
    *,
    max_age: int | None,
    path: str,
    domain: str | None,
    secure: bool,
    httponly: bool,
    samesite: str | None,
) -> bytes:
    """A ``Set-Cookie`` value (RFC 6265 section 4.1), attributes in Go's order; bad arguments raise ValueError."""
    if not is_token(name):
        raise ValueError(
            f"cookie name {name!r} is not a token (RFC 6265 section 4.1.1): use ASCII letters, digits and "
            "!#$%&'*+-.^_`|~; the value, not the name, may hold any text"
        )
    parts = [f"{name}={quote_plus(value, safe='')}"]
    if path:
        parts.append(f"Path={quote(path, safe=_PATH_SAFE)}")
    if domain:
        parts.append(f"Domain={_domain(domain)}")
    if max_age is not None:
        parts.append(f"Max-Age={max(max_age, 0)}")
    if httponly:
        parts.append("HttpOnly")
    if secure:
        parts.append("Secure")
    if samesite:
        canonical = _SAME_SITE.get(samesite.lower())
        if canonical is None:
            raise ValueError(f"samesite must be 'Strict', 'Lax' or 'None' (RFC 6265bis), not {samesite!r}")
        parts.append(f"SameSite={canonical}")
    return "; ".join(parts).encode("ascii")


def _domain(domain: str) -> str:
    """The Domain attribute: an ASCII host name; an international one as its IDNA A-labels (RFC 6265 5.1.2)."""
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"cookie domain {domain!r} is not a host name ({exc}); give the site's host name") from None
    if not re.fullmatch(r"\.?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?", ascii_domain):
        raise ValueError(f"cookie domain {domain!r} is not a host name; give the site's host name, as example.org")
    return ascii_domain

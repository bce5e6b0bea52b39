"""Per-group request-body size limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gee.errors import HTTPError

if TYPE_CHECKING:
    from gee.context import Context
    from gee.types import Handler


def body_limit(max_bytes: int) -> Handler:
    """Cap request bodies at ``max_bytes`` for the routes below (413 past it).

    A declared ``Content-Length`` over the limit is refused before any of the body
    is read; a chunked body is cut off as soon as it passes the limit.
    """
    if max_bytes < 0:
        raise ValueError(f"body_limit needs max_bytes >= 0, not {max_bytes}")

    async def limit_body(c: Context) -> None:
        c.max_body_bytes = max_bytes
        declared = c.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise HTTPError(413, f"request body of {declared} bytes is over the limit of {max_bytes} bytes")

    return limit_body

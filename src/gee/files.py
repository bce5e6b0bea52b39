"""File responses (validators, preconditions, one byte range) and safe static directories.

``prepare_file`` answers as RFC 9110 asks of a GET or HEAD for a file: a strong ``ETag`` and ``Last-Modified``;
the preconditions of section 13 in their order (``gee.preconditions``: 412, 304); then one byte range of
section 14 (``gee.ranges``: 206, or 416 with ``Content-Range: bytes */size``), only for GET and only when
``If-Range``, if sent, still names the file.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import stat
from collections.abc import AsyncIterator
from email.utils import formatdate
from typing import TYPE_CHECKING

from gee import preconditions
from gee.headers import content_disposition
from gee.ranges import byte_range

if TYPE_CHECKING:
    from gee.context import Context
    from gee.types import Handler

SMALL_FILE = 64 * 1024  # read at once; larger files stream in chunks of this size from a thread
NOT_FOUND = "404 page not found"


def _content_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path)
    if guessed is None:
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/javascript", "application/json"):
        return f"{guessed}; charset=utf-8"
    return guessed


async def _chunks(path: str, start: int, length: int) -> AsyncIterator[bytes]:
    """``length`` bytes of ``path`` from ``start``, read in a thread; the file is open only while they are sent."""
    loop = asyncio.get_running_loop()
    handle = await loop.run_in_executor(None, open, path, "rb")
    with handle:
        handle.seek(start)
        while length > 0:
            data = await loop.run_in_executor(None, handle.read, min(SMALL_FILE, length))
            if not data:
                return
            length -= len(data)
            yield data


async def _no_body() -> AsyncIterator[bytes]:
    """A HEAD answer: the headers of the file, none of its bytes."""
    return
    yield


def prepare_file(c: Context, path: str, *, filename: str | None = None, attachment: bool = False) -> None:
    """Set up ``c``'s response to send ``path``; a missing file answers 404."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        c.string(404, NOT_FOUND)
        return
    if not stat.S_ISREG(info.st_mode):
        c.string(404, NOT_FOUND)
        return
    size = info.st_size
    modified = int(info.st_mtime)  # Last-Modified has whole seconds
    etag = f'"{info.st_mtime_ns:x}-{size:x}"'
    c.header("etag", etag)
    refused = preconditions.evaluate(c.headers, c.method, etag, modified)
    if refused == 304:  # the validators only: RFC 9110 section 15.4.5
        c.status(304)
        return
    if refused == 412:
        c.string(412, "precondition failed: the file is not in the state If-Match / If-Unmodified-Since asks for")
        return
    c.header("last-modified", formatdate(modified, usegmt=True))
    c.header("accept-ranges", "bytes")
    if attachment or filename:
        kind = "attachment" if attachment else "inline"
        c.header("content-disposition", content_disposition(kind, filename or os.path.basename(path)))
    content_type = _content_type(filename or path)
    start, length, status = 0, size, 200
    requested = c.headers.get("range") if c.method == "GET" else None
    if requested is not None and preconditions.range_allowed(c.headers, etag, modified):
        chosen = byte_range(requested, size)
        if chosen is False:
            c.header("content-range", f"bytes */{size}")
            c.string(416, f"range {requested!r} is outside the file's {size} bytes")
            return
        if chosen is not None:
            start, end = chosen
            length, status = end - start + 1, 206
            c.header("content-range", f"bytes {start}-{end}/{size}")
    if c.method == "HEAD":
        c.data_from_reader(status, content_type, _no_body(), length)
    elif length <= SMALL_FILE:
        with open(path, "rb") as handle:
            handle.seek(start)
            c.data(status, content_type, handle.read(length))
    else:
        c.data_from_reader(status, content_type, _chunks(path, start, length), length)


def safe_join(root: str, relative: str) -> str | None:
    """``root/relative`` when it stays inside ``root`` once symlinks resolve; else None."""
    if "\x00" in relative:
        return None
    candidate = os.path.realpath(os.path.join(root, relative.lstrip("/")))
    if candidate != root and not candidate.startswith(root.rstrip(os.sep) + os.sep):
        return None
    return candidate


def static_handler(directory: str) -> Handler:
    root = os.path.realpath(directory)
    if not os.path.isdir(root):
        raise ValueError(f"static directory {directory!r} does not exist or is not a directory")

    async def serve_static(c: Context) -> None:
        target = safe_join(root, c.param("filepath"))
        if target is None:
            c.string(404, NOT_FOUND)
            return
        if os.path.isdir(target):
            target = os.path.join(target, "index.html")
        prepare_file(c, target)

    return serve_static


def static_file_handler(file: str) -> Handler:
    async def serve_file(c: Context) -> None:
        prepare_file(c, file)

    return serve_file

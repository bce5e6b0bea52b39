"""File responses (ETag, Last-Modified, 304, byte ranges) and safe static directories."""

from __future__ import annotations

import asyncio
import mimetypes
import os
import stat
from collections.abc import AsyncIterator
from email.utils import formatdate, parsedate_to_datetime
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import quote

if TYPE_CHECKING:
    from gee.context import Context, Handler

SMALL_FILE = 64 * 1024  # read at once; larger files stream in chunks of this size from a thread
NOT_FOUND = "404 page not found"


def _content_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path)
    if guessed is None:
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/javascript", "application/json"):
        return f"{guessed}; charset=utf-8"
    return guessed


def _parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """One ``bytes=`` range as (start, end inclusive); None to ignore the header; False if unsatisfiable."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None  # other units and multi-range requests get the whole file, as RFC 9110 allows
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                return False
            return max(size - suffix, 0), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start > end or start < 0:
        return None
    if start >= size:
        return False
    return start, min(end, size - 1)


async def _chunks(handle: BinaryIO, length: int) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    try:
        while length > 0:
            data = await loop.run_in_executor(None, handle.read, min(SMALL_FILE, length))
            if not data:
                return
            length -= len(data)
            yield data
    finally:
        handle.close()


async def _no_body() -> AsyncIterator[bytes]:
    """A HEAD answer: the headers of the file, none of its bytes."""
    return
    yield


def _not_modified(c: Context, etag: str, mtime: float) -> bool:
    if_none_match = c.headers.get("if-none-match")
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or etag in tags
    if_modified_since = c.headers.get("if-modified-since")
    if if_modified_since:
        try:
            return int(mtime) <= parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError):
            return False
    return False


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
    etag = f'"{info.st_mtime_ns:x}-{size:x}"'
    last_modified = formatdate(info.st_mtime, usegmt=True)
    c.header("etag", etag)
    c.header("last-modified", last_modified)
    c.header("accept-ranges", "bytes")
    if attachment or filename:
        name = filename or os.path.basename(path)
        kind = "attachment" if attachment else "inline"
        c.header("content-disposition", f"{kind}; filename*=UTF-8''{quote(name)}")
    content_type = _content_type(filename or path)
    if _not_modified(c, etag, info.st_mtime):
        c.status(304)
        return
    start, length, status = 0, size, 200
    requested = c.headers.get("range") if c.method == "GET" else None
    if_range = c.headers.get("if-range")
    if requested and (if_range is None or if_range in (etag, last_modified)):
        chosen = _parse_range(requested, size)
        if chosen is False:
            c.header("content-range", f"bytes */{size}")
            c.string(416, f"range {requested!r} is outside the file's {size} bytes")
            return
        if chosen is not None:
            assert not isinstance(chosen, bool)
            start, end = chosen
            length, status = end - start + 1, 206
            c.header("content-range", f"bytes {start}-{end}/{size}")
    if c.method == "HEAD":
        c.data(status, content_type, b"")
        c.header("content-length", str(length))
        c._body_iter = _no_body()
        return
    handle = open(path, "rb")  # noqa: SIM115 - closed by _chunks once the body is sent
    if start:
        handle.seek(start)
    if length <= SMALL_FILE:
        with handle:
            c.data(status, content_type, handle.read(length))
        return
    c.data(status, content_type, b"")
    c.header("content-length", str(length))
    c._body_iter = _chunks(handle, length)


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

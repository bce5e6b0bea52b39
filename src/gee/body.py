"""The request body: one source over ASGI's receive channel that every body reader goes through.

``c.body()``, ``c.read_json()``, ``c.form()``, ``c.bind()`` and ``c.stream_body()`` all read this source, and so
does the disconnect listener of a streamed response; none of them calls ``receive`` on its own. What arrives is
kept, so readers may follow one another in any order (a middleware reads the body, the handler parses it as a
form), and no reader waits for a message that an earlier reader already took: after the last body message,
ASGI's ``receive`` only answers once the client leaves.

The body counts against a limit (``max_body_bytes``): a declared ``Content-Length`` over it answers 413 before a
byte is read, and a body that grows past it answers 413 as soon as it does. With no limit, a body read by
``stream_body`` is handed on and not kept, so that an upload of any size can go to disk: such a body can be read
only once, and a second reader is told so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from gee.errors import ClientDisconnected, HTTPError
from gee.types import Receive

_NOT_KEPT = (
    "the request body was already streamed (by c.stream_body(), a multipart c.form() or a streamed response) and "
    "not kept, since this route has no body limit (max_body_bytes is None); read it with `await c.body()` first "
    "when more than one reader needs it, or set a limit"
)


class RequestBody:
    """The body of one request, received once and kept for every reader (see the module's docstring)."""

    __slots__ = (
        "_body",
        "_chunks",
        "_complete",
        "_error",
        "_keep",
        "_limit",
        "_lock",
        "_receive",
        "_received",
        "_streamed",
    )

    def __init__(self, receive: Receive, limit: int | None, declared_length: str | None):
        self._receive = receive
        self._limit = limit
        self._chunks: list[bytes] = []
        self._body: bytes | None = None
        self._keep = limit is not None
        self._received = 0
        self._complete = False
        self._streamed = False  # a chunk went to a reader without being kept
        self._error: HTTPError | ClientDisconnected | None = None  # raised again to every later reader
        self._lock = asyncio.Lock()
        declared = int(declared_length) if declared_length is not None and declared_length.isdigit() else 0
        if limit is not None and declared > limit:
            self._error = HTTPError(413, f"request body of {declared} bytes is over the limit of {limit} bytes")

    async def read(self) -> bytes:
        """The whole body; kept, so a second call and every other reader get the same bytes."""
        if self._body is None:
            if self._streamed:
                raise RuntimeError(_NOT_KEPT)
            self._keep = True  # this reader holds it all anyway
            async for _ in self.stream():
                pass
            self._body = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
            self._chunks = [self._body] if self._body else []
        return self._body

    async def stream(self) -> AsyncIterator[bytes]:
        """The body chunk by chunk: first what is kept, then what arrives; HTTPError 413 past the limit,
        ClientDisconnected if the client leaves on the way."""
        if self._streamed:
            raise RuntimeError(_NOT_KEPT)
        chunks = self._chunks
        index = sent = 0
        while True:
            if chunks is not self._chunks:  # read() joined what was kept into one chunk: go on from the same byte
                chunks, index = self._chunks, 1
                if chunks and sent < len(chunks[0]):
                    rest = chunks[0][sent:]
                    sent += len(rest)
                    yield rest
            elif index < len(chunks):
                chunk = chunks[index]
                index += 1
                sent += len(chunk)
                yield chunk
            elif self._complete:
                return
            else:
                chunk = await self._pull()
                if chunk and not self._keep:
                    yield chunk

    async def disconnected(self) -> None:
        """Return once the client has gone, for a response that streams: the rest of the body is received first
        (and kept, as for any reader), then ``http.disconnect`` is awaited."""
        try:
            while not self._complete:
                await self._pull()
        except ClientDisconnected:
            return
        except HTTPError:
            pass  # over the limit: readers get the 413; what remains of the body is dropped below
        while (await self._receive())["type"] != "http.disconnect":
            pass

    async def _pull(self) -> bytes:
        """Receive one message: its chunk is kept (or marked as handed on), or the error is kept for every reader."""
        async with self._lock:
            if self._error is not None:
                raise self._error
            if self._complete:
                return b""
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._error = ClientDisconnected("the client closed the connection before the request body ended")
                raise self._error
            chunk: bytes = message.get("body", b"")
            self._received += len(chunk)
            if self._limit is not None and self._received > self._limit:
                self._error = HTTPError(413, f"request body is over the limit of {self._limit} bytes")
                raise self._error
            if not message.get("more_body", False):
                self._complete = True
            if chunk:
                if self._keep:
                    self._chunks.append(chunk)
                else:
                    self._streamed = True
            return chunk

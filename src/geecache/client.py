"""A small HTTP/1.1 client for peer requests: keep-alive connections per peer, one request at a time on each.

Peers ask each other one thing, over and over: a GET of a short path that answers a small protobuf. A
general-purpose client spends most of a round trip on generality (aiohttp: URL objects, cookie jars, tracing
hooks, multidicts); this one writes the request in one buffer, parses the answer with httptools (the parser uvicorn
uses) in an ``asyncio.Protocol``, and keeps the connection for the next request. docs/benchmarks.md has the round
trips beside aiohttp's and httpx's (``benchmarks/geecache_peer.py``).

What it keeps from a full client: a bounded pool per peer (``max_connections`` open at once; callers beyond it wait),
a deadline over the whole exchange (connect, send, answer), a bound on the answer's size (``max_answer_bytes``,
checked against Content-Length before the body is read, and as a chunked body grows), TLS for ``https://`` peers,
and one retry on a fresh connection when a kept-alive one turns out to have been closed by the peer before any
byte of the answer came back (the race every keep-alive client has with a server's idle timeout). No redirects,
cookies, proxies or compression: peers need none. Every failure is a ``ClientError`` that names the peer and what
went wrong; a connection that failed in any way is closed, never reused.

A client belongs to the event loop it was made on (``Client.request`` checks).
"""

from __future__ import annotations

import asyncio
import collections
import re
import ssl
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

import httptools

DEFAULT_MAX_ANSWER_BYTES = 64 << 20
_TOKEN_SAFE = re.compile(r"[!-~]+").fullmatch  # method and target: visible ASCII, no space, no CR or LF
_NAME_SAFE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+").fullmatch  # header names: RFC 9110 tokens (no ':')
_VALUE_SAFE = re.compile(r"[ -~]*").fullmatch  # header values: printable ASCII, no CR or LF


class ClientError(Exception):
    """A request that got no usable answer: connection refused or lost, timed out, malformed or too large."""


@dataclass
class Answer:
    """A peer's answer: status, headers (names lower-cased, the last value of a repeated name wins) and body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class _Connection(asyncio.Protocol):
    """One TCP connection; ``exchange`` sends a request and waits for its whole answer."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_answer_bytes: int) -> None:
        self.loop = loop
        self.max_answer_bytes = max_answer_bytes
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.used = False  # has carried an exchange before: a failure before the answer may be a stale keep-alive
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Answer] | None = None
        self._answer = Answer(0)
        self._chunks: list[bytes] = []
        self._size = 0
        self._received = False  # a byte of the current answer arrived
        self._header_name = b""

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's TCPTransport does not subclass it

    def data_received(self, data: bytes) -> None:
        self._received = True
        if self._waiter is None:  # bytes nobody asked for: the connection is out of step
            self._fail(ClientError(f"the peer sent {len(data)} bytes with no request outstanding"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ClientError("the peer switched protocols"))
        except httptools.HttpParserError as exc:
            # A callback's own ClientError reaches here wrapped by httptools: it is the exception's context.
            cause = exc.__context__
            self._fail(cause if isinstance(cause, ClientError) else ClientError(f"malformed answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            reason = f": {exc}" if exc else ""
            self._waiter.set_exception(ClientError(f"the peer closed the connection before answering{reason}"))

    # ------------------------------------------------------------------ httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._answer.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._answer.status = self._parser.get_status_code()
        length = self._answer.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_answer_bytes:
            raise ClientError(f"the answer declares {length} bytes, over the limit of {self.max_answer_bytes}")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self.max_answer_bytes:
            raise ClientError(f"the answer passed the limit of {self.max_answer_bytes} bytes")
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        self._answer.body = b"".join(self._chunks)
        if not self._parser.should_keep_alive():
            self._close()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(self._answer)

    # ------------------------------------------------------------------ use

    async def exchange(self, request: bytes) -> Answer:
        assert self.transport is not None
        self._answer, self._chunks, self._size, self._received = Answer(0), [], 0, False
        self._waiter = self.loop.create_future()
        self.transport.write(request)
        try:
            return await self._waiter
        except BaseException:
            self._close()  # cancelled or failed half-way: the connection is out of step
            raise
        finally:
            self.used = True

    @property
    def answered_nothing(self) -> bool:
        return not self._received

    def _fail(self, exc: ClientError) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self._close()

    def _close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _Peer:
    """The connections to one origin: idle ones to reuse, and a bound on how many are open."""

    def __init__(self, host: str, port: int, netloc: str, tls: ssl.SSLContext | None, max_connections: int) -> None:
        self.host, self.port, self.netloc, self.tls = host, port, netloc, tls
        self.idle: collections.deque[_Connection] = collections.deque()
        self.slots = asyncio.Semaphore(max_connections)


class Client:
    """Keep-alive HTTP/1.1 requests to peers, each exchange under one deadline.

    Args:
        timeout: seconds for one request's whole exchange (waiting for a free connection, connecting, sending,
            the whole answer).
        max_connections: connections open at once to one peer; further requests wait for one (within timeout).
        max_answer_bytes: the largest answer body accepted.

    Example::

        client = Client(timeout=2.0)
        answer = await client.request("GET", "http://10.0.0.2:8001", "/_groupcache/scores/alice")
        await client.close()
    """

    def __init__(
        self, timeout: float = 2.0, max_connections: int = 100, max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    ) -> None:
        self.timeout = timeout
        self.max_connections = max_connections
        self.max_answer_bytes = max_answer_bytes
        self.loop = asyncio.get_running_loop()
        self._peers: dict[str, _Peer] = {}
        self._closed = False

    async def request(
        self, method: str, origin: str, target: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Answer:
        """Send ``method target`` to ``origin`` (``http://host:port`` or ``https://...``) and return the answer.

        ``target`` goes out exactly as given (already percent-encoded), so a signature over it covers what the
        peer reads.

        Raises:
            ClientError: no answer within ``timeout``, a refused or lost connection, a malformed answer, or one
                over ``max_answer_bytes``.
            ValueError: a target or header that would not be one line of ASCII (it could smuggle a request).
        """
        if asyncio.get_running_loop() is not self.loop:
            raise RuntimeError("a geecache Client serves the event loop it was made on; make one per loop")
        if self._closed:
            raise ClientError("the client is closed")
        peer = self._peers.get(origin) or self._peer(origin)
        fields = (headers or {}).items()
        safe_fields = all(_NAME_SAFE(name) and _VALUE_SAFE(value) for name, value in fields)
        if not _TOKEN_SAFE(method + target) or not safe_fields:
            raise ValueError(
                f"{method} {target!r}: the target and header values must be printable ASCII on one line, "
                "and header names tokens (RFC 9110 5.1)"
            )
        lines = [f"{method} {target} HTTP/1.1", f"host: {peer.netloc}", f"content-length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in fields]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body
        try:
            async with asyncio.timeout(self.timeout):
                async with peer.slots:
                    return await self._exchange(peer, request)
        except TimeoutError as exc:
            raise ClientError(f"{origin} did not answer {method} {target} within {self.timeout:g} s") from exc
        except ClientError as exc:
            raise ClientError(f"{origin}, {method} {target}: {exc}") from exc

    async def _exchange(self, peer: _Peer, request: bytes) -> Answer:
        while peer.idle:
            connection = peer.idle.pop()
            if connection.closed:
                continue
            try:
                answer = await connection.exchange(request)
            except ClientError:
                if connection.answered_nothing:  # closed by the peer while idle: try a fresh connection
                    break
                raise
            return self._keep(peer, connection, answer)
        connection = await self._connect(peer)
        return self._keep(peer, connection, await connection.exchange(request))

    def _keep(self, peer: _Peer, connection: _Connection, answer: Answer) -> Answer:
        if self._closed:
            connection._close()
        elif not connection.closed:
            peer.idle.append(connection)
        return answer

    async def _connect(self, peer: _Peer) -> _Connection:
        try:
            _, connection = await self.loop.create_connection(
                lambda: _Connection(self.loop, self.max_answer_bytes), peer.host, peer.port, ssl=peer.tls
            )
        except OSError as exc:
            raise ClientError(f"cannot connect: {exc.strerror or exc}") from exc
        return connection

    def _peer(self, origin: str) -> _Peer:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
            raise ClientError(f"{origin!r} is not an http:// or https:// origin (host and port, no user)")
        tls = ssl.create_default_context() if parts.scheme == "https" else None
        port = parts.port or (443 if tls else 80)
        peer = self._peers[origin] = _Peer(parts.hostname, port, parts.netloc, tls, self.max_connections)
        return peer

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Close every idle connection; connections in use close when their exchange ends."""
        self._closed = True
        for peer in self._peers.values():
            while peer.idle:
                peer.idle.pop()._close()

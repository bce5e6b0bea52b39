"""The servers gee runs on: uvicorn (the default) with the deadlines and memory budget a public server needs, and
granian.

uvicorn (httptools, uvloop) is the default because of ``guarded_protocol`` below. granian (a Rust HTTP server with an
ASGI interface) serves gee 1.13-1.19x more requests per second on one core (docs/benchmarks.md,
``benchmarks/gee_http.py --servers uvicorn,granian``); it bounds a request's headers by its own settings (a header
read deadline, ``header_timeout`` here, and a per-connection buffer) but has no deadline for a body nor a budget for
bodies in flight, so a route that reads bodies from the open internet is better served by uvicorn.
``run_granian`` serves an engine in granian's worker processes (``Engine.run(server="granian")``);
``embedded_granian`` serves it in the running event loop, beside other servers of the same process (granian calls
this mode experimental).

uvicorn bounds the size of a request's headers but not the time they take, nor the time a body takes, nor the
memory all unfinished bodies hold together, and with httptools not even the headers' size: as many half-sent
requests as the file-descriptor limit lock every other client out, and uploads that stop one byte short pin their
bodies for as long as the client keeps the connection open. ``guarded_protocol`` closes a connection whose request
headers are not complete ``header_timeout`` seconds after its first byte (slowloris), or whose body is not
complete ``body_timeout`` seconds after its headers; answers 431 to a request line and headers over
``max_header_bytes``; and answers 503 to a request whose declared body would take the bytes being received past
``max_buffered_bytes`` across all connections. Pair it with uvicorn's ``limit_concurrency`` (connections
beyond it answer 503) and ``timeout_keep_alive`` (idle connections between requests).

    uvicorn.Config(engine, http=guarded_protocol(header_timeout=10, body_timeout=60), limit_concurrency=1000)
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

if TYPE_CHECKING:
    from granian.server.embed import Server as EmbeddedServer

log = logging.getLogger("gee.serving")
SERVERS = ("uvicorn", "granian")


def _granian_options(header_timeout: float) -> dict[str, Any]:
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    return {
        "interface": Interfaces.ASGI,
        "websockets": False,
        "log_access": False,
        "http1_settings": HTTP1Settings(header_read_timeout=max(1, round(header_timeout * 1000))),
    }


def run_granian(app: Any, host: str, port: int, *, workers: int = 1, header_timeout: float = 10.0) -> None:
    """Serve ``app`` with granian until stopped (SIGINT, SIGTERM), in ``workers`` processes.

    ``app`` is the ASGI app itself (each worker is forked from this process, so it needs no import string), or an
    import string ``"package.module:app"``.

    Args:
        header_timeout: seconds a connection may take to send a request's headers (granian's header read timeout).
    """
    from granian.server import Server

    target = app if isinstance(app, str) else "gee-engine"
    server = Server(target, address=host, port=port, workers=workers, **_granian_options(header_timeout))
    if isinstance(app, str):
        server.serve()
    else:
        server.serve(target_loader=lambda _target: app)


def embedded_granian(app: Any, host: str, port: int, *, header_timeout: float = 10.0) -> EmbeddedServer:
    """granian's embedded server for ``app`` on ``host:port``, to run in the current event loop: ``await
    server.serve()`` binds the port before its first suspension and serves until ``server.stop()``."""
    from granian.server.embed import Server

    return Server(app, address=host, port=port, log_enabled=False, **_granian_options(header_timeout))


def guarded_protocol(
    header_timeout: float = 10.0,
    body_timeout: float = 60.0,
    max_buffered_bytes: int = 256 << 20,
    max_header_bytes: int = 64 << 10,
) -> type[HttpToolsProtocol]:
    """A protocol class for ``uvicorn.Config(http=...)``; each call makes one with its own shared byte budget.

    Args:
        header_timeout: seconds from a request's first byte (or the connection's opening) to its last header.
        body_timeout: seconds from the last header to the body's last byte.
        max_buffered_bytes: request-body bytes being received at once, over all connections of the server.
        max_header_bytes: bytes of one request's target and headers (names and values).
    """
    budget = {"in_flight": 0}

    class GuardedProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            self._deadline: asyncio.TimerHandle | None = None
            self._reserved = 0
            self._refused = False
            self._header_bytes = 0
            super().connection_made(transport)
            self._arm(header_timeout, "its request headers")

        def _arm(self, seconds: float, what: str) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expire, what, seconds)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self, what: str, seconds: float) -> None:
            if not self.transport.is_closing():
                log.info("closing a connection that did not send %s within %g s", what, seconds)
                self.transport.close()

        def _release(self) -> None:
            budget["in_flight"] -= self._reserved
            self._reserved = 0

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._header_bytes = 0
            self._refused = False
            if self._deadline is None:
                self._arm(header_timeout, "its request headers")

        def _count(self, size: int) -> bool:
            """Count header bytes; False (and a 431 sent) once the request passes ``max_header_bytes``."""
            self._header_bytes += size
            if self._header_bytes > max_header_bytes and not self._refused:
                self._disarm()
                self._refuse(431, "Request Header Fields Too Large", f"over {max_header_bytes} bytes of headers")
            return not self._refused

        def on_url(self, url: bytes) -> None:
            if self._count(len(url)):
                super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            if self._count(len(name) + len(value) + 4):
                super().on_header(name, value)

        def on_headers_complete(self) -> None:
            if self._refused:
                return
            length = next((int(v) for k, v in self.headers if k == b"content-length" and v.isdigit()), 0)
            if length and budget["in_flight"] + length > max_buffered_bytes:
                self._disarm()
                self._refuse(503, "Service Unavailable", "the server is receiving as many request bodies as it holds")
                return
            self._reserved = length
            budget["in_flight"] += length
            self._arm(body_timeout, "its request body")
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if self._refused:
                return
            if not any(k == b"content-length" for k, _ in self.headers):  # chunked: count as it comes
                self._reserved += len(body)
                budget["in_flight"] += len(body)
                if budget["in_flight"] > max_buffered_bytes:
                    self._release()
                    self.transport.close()
                    return
            super().on_body(body)

        def on_message_complete(self) -> None:
            self._disarm()
            self._release()
            if not self._refused:
                super().on_message_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            self._release()
            super().connection_lost(exc)

        def _refuse(self, status: int, reason: str, why: str) -> None:
            """Answer ``status`` before the application runs, and close: the request cannot be read on."""
            self._refused = True
            text = f"{why}; retry shortly".encode() if status == 503 else why.encode()
            head = f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n".encode()
            head += b"retry-after: 1\r\n" if status == 503 else b""
            head += b"connection: close\r\ncontent-length: %d\r\n\r\n" % len(text)
            self.transport.write(head + text)
            self.transport.close()

    GuardedProtocol.__name__ = GuardedProtocol.__qualname__ = "GuardedProtocol"
    return GuardedProtocol

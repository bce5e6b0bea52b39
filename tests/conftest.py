"""Shared fixtures: a real uvicorn server on an ephemeral 127.0.0.1 port."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn


def listening_socket() -> socket.socket:
    """A socket on an ephemeral 127.0.0.1 port, already listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def running_server(app: Any, sock: socket.socket | None = None, **options: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn (httptools, uvloop) in a thread; yields its base URL.

    The socket is bound and listening before the server starts, so clients can
    connect at once: connections wait in the backlog until uvicorn accepts them.
    """
    sock = sock or listening_socket()
    port = sock.getsockname()[1]
    options.setdefault("http", "httptools")
    config = uvicorn.Config(app, loop="uvloop", log_level="warning", access_log=False, lifespan="on", **options)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def serve() -> Callable[..., Any]:
    return running_server


def raw_request(base_url: str, data: bytes, read_until_close: bool = True) -> bytes:
    """Send raw bytes to the server (for requests httpx refuses to build) and read the answer."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(data)
        chunks = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close and b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)

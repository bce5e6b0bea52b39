"""Streams and server-sent events stop, and ``c.stream``/``c.sse`` return, once the client leaves.

uvicorn (httptools, uvloop) on 127.0.0.1 keeps accepting sends after the client has gone, so only a listener
for ``http.disconnect`` can tell; every wait here has a deadline.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest

import gee

from tests.conftest import running_server


class Produced:
    """What the server's generator did, watched from the test thread."""

    def __init__(self) -> None:
        self.chunks = 0
        self.closed = threading.Event()  # the generator's finally ran
        self.returned = threading.Event()  # the handler's ``await c.stream(...)`` returned


def streaming_app(produced: Produced) -> gee.Engine:
    r = gee.default()

    async def ticks() -> AsyncIterator[str]:
        try:
            while True:
                produced.chunks += 1
                yield f"tick {produced.chunks}\n"
                await asyncio.sleep(0.02)
        finally:
            produced.closed.set()

    async def waits_forever() -> AsyncIterator[str]:
        try:
            produced.chunks += 1
            yield "tick 1\n"
            await asyncio.Event().wait()  # a source with nothing more to say, ever
        finally:
            produced.closed.set()

    def blocking_ticks() -> Iterator[bytes]:
        try:
            while True:
                produced.chunks += 1
                yield b"tick %d\n" % produced.chunks
                time.sleep(0.005)
        finally:
            produced.closed.set()

    async def events() -> AsyncIterator[dict[str, int]]:
        try:
            while True:
                produced.chunks += 1
                yield {"tick": produced.chunks}
                await asyncio.sleep(0.02)
        finally:
            produced.closed.set()

    def route(path: str, start: Callable[[gee.Context], Awaitable[None]], method: str = "GET") -> None:
        async def handler(c: gee.Context) -> None:
            await start(c)
            produced.returned.set()

        r.add_route(method, path, handler)

    route("/stream", lambda c: c.stream(200, ticks(), "text/plain"))
    route("/waits", lambda c: c.stream(200, waits_forever(), "text/plain"))
    route("/blocking", lambda c: c.stream(200, blocking_ticks(), "text/plain"))
    route("/events", lambda c: c.sse(events()))
    route("/upload-stream", lambda c: c.stream(200, ticks(), "text/plain"), "POST")
    return r


def read_then_leave(url: str, request: bytes, ticks: int) -> bytes:
    """Send ``request`` on a raw connection, read until ``ticks`` chunks came, then close it."""
    host, port = url.removeprefix("http://").split(":")
    received = b""
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(request)
        deadline = time.monotonic() + 5
        while received.count(b"tick") < ticks and time.monotonic() < deadline:
            received += conn.recv(65536)
    return received


@pytest.mark.parametrize(
    ("request_bytes", "ticks"),
    [
        (b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", 3),
        (b"GET /waits HTTP/1.1\r\nHost: x\r\n\r\n", 1),
        (b"GET /blocking HTTP/1.1\r\nHost: x\r\n\r\n", 3),
        (b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n", 3),
        (b"POST /upload-stream HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 3),  # an unread body
    ],
    ids=["async-generator", "waiting-generator", "plain-generator", "sse", "unread-body"],
)
def test_stream_stops_and_returns_when_the_client_leaves(request_bytes, ticks):
    produced = Produced()
    with running_server(streaming_app(produced)) as url:
        received = read_then_leave(url, request_bytes, ticks)
        assert received.startswith(b"HTTP/1.1 200 ") and received.count(b"tick") >= ticks
        assert produced.returned.wait(3), "c.stream did not return after the client left"
        assert produced.closed.is_set(), "the generator was not closed"
        after_return = produced.chunks
        time.sleep(0.3)
        assert produced.chunks == after_return
        with httpx.Client(base_url=url, timeout=5) as client, client.stream("GET", "/stream") as response:
            assert response.status_code == 200 and next(response.iter_lines()).startswith("tick")  # still serving


def test_a_finished_stream_still_ends_normally_over_real_http():
    r = gee.Engine()

    async def three() -> AsyncIterator[bytes]:
        for i in range(3):
            yield b"%d\n" % i

    r.get("/three", lambda c: c.stream(200, three(), "text/plain"))
    r.get("/events", lambda c: c.sse(three_events()))

    async def three_events() -> AsyncIterator[str]:
        for i in range(3):
            yield str(i)

    with running_server(r) as url, httpx.Client(base_url=url, timeout=5) as client:
        assert client.get("/three").text == "0\n1\n2\n"
        assert client.get("/events").text == "data: 0\n\ndata: 1\n\ndata: 2\n\n"


def test_a_generator_that_fails_is_logged_and_the_server_goes_on(caplog):
    r = gee.default()

    async def broken() -> AsyncIterator[bytes]:
        yield b"first\n"
        raise RuntimeError("the source broke")

    r.get("/broken", lambda c: c.stream(200, broken(), "text/plain"))
    r.get("/ok", lambda c: c.string(200, "ok"))
    with running_server(r) as url, httpx.Client(base_url=url, timeout=5) as client:
        with pytest.raises(httpx.HTTPError):
            client.get("/broken")
        assert client.get("/ok").text == "ok"
    assert "the source broke" in caplog.text


def open_files(path: pathlib.Path) -> int:
    """How many descriptors of this process (the server's thread included) have ``path`` open."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == str(path)
        except OSError:
            continue
    return count


def test_a_large_file_download_stops_and_closes_the_file_when_the_client_leaves(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (8 << 20))
    r = gee.Engine()
    r.static_file("/big.bin", str(big))
    with running_server(r) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            assert conn.recv(65536).startswith(b"HTTP/1.1 200 ")
        deadline = time.monotonic() + 3
        while open_files(big) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert open_files(big) == 0
        with httpx.Client(base_url=url, timeout=5) as client:  # the next download is served
            response = client.get("/big.bin", headers={"range": "bytes=0-99"})
            assert response.status_code == 206 and response.content == b"x" * 100

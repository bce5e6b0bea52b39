"""The guarded protocol on a real uvicorn: slow headers and slow bodies are cut off, and bodies in flight are
bounded across connections, so half-sent requests cannot lock other clients out or pin memory."""

from __future__ import annotations

import socket
import time

import httpx

import gee
from gee.serving import guarded_protocol

from tests.conftest import running_server


def engine() -> gee.Engine:
    app = gee.Engine(max_body_bytes=16 << 20)

    @app.post("/echo")
    async def echo(c: gee.Context) -> None:
        c.string(200, str(len(await c.body())))

    @app.get("/ping")
    async def ping(c: gee.Context) -> None:
        c.string(200, "pong")

    return app


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True once the server closes ``sock`` (recv gives b'' or a reset) before ``seconds`` pass."""
    sock.settimeout(0.1)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True
    return False


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def test_half_sent_headers_are_cut_off_and_do_not_lock_others_out() -> None:
    protocol = guarded_protocol(header_timeout=1.0, body_timeout=5.0)
    with running_server(engine(), http=protocol, limit_concurrency=10) as url:
        slow = [connect(url) for _ in range(8)]
        for sock in slow:
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # never finished
        assert httpx.get(f"{url}/ping", timeout=5).text == "pong"  # a room left for a real client
        start = time.monotonic()
        assert all(closed_within(sock, 3.0) for sock in slow)
        assert time.monotonic() - start < 3.0
        silent = connect(url)  # a connection that never sends a byte is cut off too
        assert closed_within(silent, 3.0)
        for sock in [*slow, silent]:
            sock.close()
        assert httpx.get(f"{url}/ping", timeout=5).text == "pong"


def test_a_body_that_stops_short_is_cut_off_and_the_budget_refuses_more() -> None:
    protocol = guarded_protocol(header_timeout=5.0, body_timeout=1.5, max_buffered_bytes=3 << 20)
    with running_server(engine(), http=protocol) as url:
        stalled = []
        for _ in range(2):
            sock = connect(url)
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1048576\r\n\r\n" + bytes(1048575))
            stalled.append(sock)
        time.sleep(0.2)
        refused = httpx.post(f"{url}/echo", content=bytes(2 << 20), timeout=5)  # 2 MiB + the 2 stalled > 3 MiB
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert httpx.post(f"{url}/echo", content=bytes(512 << 10), timeout=5).text == str(512 << 10)  # fits
        assert all(closed_within(sock, 4.0) for sock in stalled)  # cut off after body_timeout
        for sock in stalled:
            sock.close()
        time.sleep(0.1)
        assert httpx.post(f"{url}/echo", content=bytes(2 << 20), timeout=5).text == str(2 << 20)  # budget freed


def test_headers_over_the_limit_get_431_before_the_application_runs() -> None:
    protocol = guarded_protocol(max_header_bytes=16 << 10)
    with running_server(engine(), http=protocol) as url:
        sock = connect(url)
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (64 << 10) + b"\r\n\r\n")
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 431 ") and b"16384 bytes of headers" in answer
        assert closed_within(sock, 2.0)
        sock.close()
        assert httpx.get(f"{url}/ping", headers={"x-fine": "b" * 1000}, timeout=5).text == "pong"


GRANIAN_APP = """
import sys
import gee

app = gee.Engine()

@app.get("/users/:id")
async def user(c):
    c.json(200, {"id": c.param("id")})

@app.post("/echo")
async def echo(c):
    c.string(200, str(len(await c.body())))

app.run("127.0.0.1", int(sys.argv[1]), server="granian", header_timeout=1.0)
"""


def test_engine_runs_on_granian_with_a_header_deadline(tmp_path) -> None:
    import subprocess
    import sys

    script = tmp_path / "app.py"
    script.write_text(GRANIAN_APP)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, str(script), str(port)], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.get(f"{url}/users/a%2Fb", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "granian did not start"
                time.sleep(0.05)
        assert answer.status_code == 200 and answer.json() == {"id": "a/b"}
        assert httpx.post(f"{url}/echo", content=b"x" * 100_000, timeout=5).text == "100000"
        assert httpx.get(f"{url}/nope", timeout=5).status_code == 404
        with connect(url) as slow:  # headers that never end: granian's header deadline closes the connection
            slow.sendall(b"GET /users/1 HTTP/1.1\r\nhost: x\r\n")
            assert closed_within(slow, 5)
    finally:
        process.terminate()
        assert process.wait(timeout=15) is not None


def test_engine_run_refuses_an_unknown_server_or_option() -> None:
    import pytest

    with pytest.raises(ValueError, match="uvicorn, granian"):
        gee.Engine().run(server="hypercorn")
    with pytest.raises(ValueError, match="header_timeout only"):
        gee.Engine().run(server="granian", limit_concurrency=10)

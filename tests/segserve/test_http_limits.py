"""A node under half-sent requests, measured as a process: slow headers and stalled uploads are cut off, memory
stays within the body budget, and other clients are served meanwhile."""

from __future__ import annotations

import contextlib
import pathlib
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.gee.test_serving import closed_within
from tests.imagefiles import png_bytes
from tests.processes import running
from tests.segserve.conftest import Node, phantom

BUDGET = 24 << 20


@pytest.fixture(scope="module")
def strict(standin: pathlib.Path) -> Iterator[Node]:
    limits = [
        *("--max-body-bytes", str(16 << 20), "--max-buffered-bytes", str(BUDGET)),
        *("--header-timeout", "1", "--body-timeout", "2", "--max-connections", "64"),
    ]
    with running([Node(standin, *limits)]) as (node,):
        yield node


def connect(node: Node) -> socket.socket:
    host, port = node.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def test_uploads_that_stop_one_byte_short_are_bounded_in_memory_and_time(strict: Node) -> None:
    before = strict.rss_kib()
    stalled = []
    for _ in range(20):  # 20 x 8 MiB declared: 160 MiB if each were held
        sock = connect(strict)
        head = b"POST /v1/segment HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % (8 << 20)
        sock.sendall(head)
        with contextlib.suppress(OSError):  # refused (503) and closed while sending: the budget at work
            sock.sendall(bytes((8 << 20) - 1))
        stalled.append(sock)
    peak_mib = (max(strict.rss_kib() for _ in range(5) if time.sleep(0.1) is None) - before) / 1024
    assert peak_mib < BUDGET / (1 << 20) + 24, f"RSS grew {peak_mib:.0f} MiB for 20 stalled uploads"
    answer = httpx.post(f"{strict.url}/v1/segment", content=png_bytes(phantom()), timeout=10)
    assert answer.status_code in (200, 503)  # served, or told to retry: never left hanging
    start = time.monotonic()
    assert all(closed_within(sock, 5.0) for sock in stalled)
    assert time.monotonic() - start < 5.0
    for sock in stalled:
        sock.close()
    assert httpx.post(f"{strict.url}/v1/segment", content=png_bytes(phantom()), timeout=10).status_code == 200


def test_half_sent_headers_do_not_lock_other_clients_out(strict: Node) -> None:
    slow = [connect(strict) for _ in range(40)]
    for sock in slow:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    started = time.monotonic()
    assert httpx.get(f"{strict.url}/healthz", timeout=5).status_code == 200
    assert time.monotonic() - started < 2.0
    assert all(closed_within(sock, 4.0) for sock in slow)
    for sock in slow:
        sock.close()

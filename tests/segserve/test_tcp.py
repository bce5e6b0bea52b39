"""The JSON-over-TCP endpoint end to end: frames, ops, many requests in flight, and every broken frame."""

from __future__ import annotations

import base64
import socket
import struct
import time

import httpx
import numpy as np
import pytest

from tests.imagefiles import png_bytes
from tests.segserve.conftest import LIVER, Node, labels_of, phantom, tcp_call, tcp_read


def connect(node: Node) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", node.tcp_port), timeout=20)
    return sock


def test_segment_models_health(node: Node) -> None:
    with connect(node) as sock:
        image = base64.b64encode(png_bytes(phantom())).decode()
        tcp_call(sock, {"id": "a", "op": "segment", "image": image, "format": "json"})
        answer = tcp_read(sock)
        assert answer["id"] == "a" and answer["ok"] is True
        assert answer["result"]["shape"] == [200, 256] and "liver" in answer["result"]["present"]
        tcp_call(sock, {"id": 2, "op": "segment", "image": image, "format": "png", "classes": ["liver"]})
        png = tcp_read(sock)["result"]
        labels = labels_of(base64.b64decode(png["data"]))
        assert png["content_type"] == "image/png" and set(np.unique(labels)) == {0, LIVER}
        tcp_call(sock, {"id": 3, "op": "models"})
        assert tcp_read(sock)["result"]["models"][0]["classes"][LIVER] == "liver"
        tcp_call(sock, {"id": 4, "op": "health"})
        assert tcp_read(sock)["result"]["status"] == "ok"


def test_many_requests_in_flight_on_one_connection(node: Node) -> None:
    images = {i: base64.b64encode(png_bytes(phantom(48 + i, 64))).decode() for i in range(12)}
    with connect(node) as sock:
        for i, image in images.items():
            tcp_call(sock, {"id": i, "op": "segment", "image": image})
        answers = {}
        for _ in images:
            answer = tcp_read(sock)
            answers[answer["id"]] = answer
    assert sorted(answers) == sorted(images)
    assert all(answers[i]["result"]["shape"] == [48 + i, 64] for i in images)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"{not json", "bad_frame"),
        (b"\xff\xfe", "bad_frame"),
        (b"[1, 2]", "bad_frame"),
        (b'{"id": 9, "op": "dance"}', "unknown_op"),
        (b'{"id": 9, "op": "segment"}', "bad_request"),
        (b'{"id": 9, "op": "segment", "image": "@@@"}', "bad_request"),
        (b'{"id": 9, "op": "segment", "image": "aGVsbG8="}', "unsupported_format"),
        (b'{"id": 9, "op": "segment", "image": "aGVsbG8=", "format": "gif"}', "unknown_format"),
    ],
)
def test_bad_frames_get_an_error_frame_and_the_connection_goes_on(node: Node, frame: bytes, code: str) -> None:
    with connect(node) as sock:
        tcp_call(sock, frame)
        answer = tcp_read(sock)
        assert answer["ok"] is False and answer["error"]["code"] == code and answer["error"]["message"]
        tcp_call(sock, {"id": "next", "op": "health"})
        assert tcp_read(sock) == {"id": "next", "ok": True, "result": tcp_read_health(node)}


def tcp_read_health(node: Node) -> dict:
    return httpx.get(f"{node.url}/healthz").json()


def test_frame_over_the_maximum_is_refused_and_closed(node: Node) -> None:
    with connect(node) as sock:
        sock.sendall(struct.pack(">I", 1 << 30))
        answer = tcp_read(sock)
        assert answer["error"]["code"] == "frame_too_large" and answer["error"]["max_frame"] == 4 << 20
        assert sock.recv(1) == b""


def test_a_length_that_lies_times_out_with_an_error(node: Node) -> None:
    with connect(node) as sock:
        sock.sendall(struct.pack(">I", 1000) + b'{"id": 1}')  # announces 1000 bytes, sends 9
        start = time.monotonic()
        answer = tcp_read(sock)
        assert answer["error"]["code"] == "incomplete_frame" and time.monotonic() - start < 5
        assert sock.recv(1) == b""


def test_idle_connections_are_closed(node: Node) -> None:
    with connect(node) as sock:
        assert sock.recv(1) == b""  # idle timeout is 1 s on the test node


def test_client_disconnecting_mid_request_leaves_the_server_serving(node: Node) -> None:
    for _ in range(5):
        sock = connect(node)
        image = base64.b64encode(png_bytes(np.random.default_rng().integers(0, 255, (96, 96), np.uint8))).decode()
        tcp_call(sock, {"id": 1, "op": "segment", "image": image})
        sock.close()  # gone before the answer
        half = connect(node)
        half.sendall(struct.pack(">I", 50) + b'{"id":')  # and one that stops mid-frame
        half.close()
    with connect(node) as sock:
        tcp_call(sock, {"id": "alive", "op": "health"})
        assert tcp_read(sock)["ok"] is True

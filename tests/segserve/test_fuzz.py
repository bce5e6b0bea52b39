"""Random bodies and frames at both endpoints: every one gets a clear answer, and the node keeps serving."""

from __future__ import annotations

import base64
import json
import socket
import struct

import httpx
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.imagefiles import dicom_bytes, nifti_bytes, png_bytes
from tests.segserve.conftest import Node, tcp_call, tcp_read

MAGICS = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"\x1f\x8b", b"\x5c\x01\x00\x00", b"\x00" * 128 + b"DICM"]
VALID = [
    png_bytes(np.zeros((16, 16), np.uint8)),
    dicom_bytes(np.zeros((8, 8))),
    nifti_bytes(np.zeros((8, 8, 2), np.int16)),
    nifti_bytes(np.zeros((8, 8, 2), np.int16), gz=True),
]


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Pure noise, noise behind a real magic number, or a real file cut or flipped somewhere."""
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.binary(max_size=2048))
    if kind == 1:
        return draw(st.sampled_from(MAGICS)) + draw(st.binary(max_size=2048))
    data = bytearray(draw(st.sampled_from(VALID)))
    cut = draw(st.integers(0, len(data)))
    for _ in range(draw(st.integers(0, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[:cut] if draw(st.booleans()) else data)


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(
    body=bodies(),
    fmt=st.sampled_from([None, "json", "png", "nifti", "x"]),
    classes=st.sampled_from([None, "liver", "??"]),
)
def test_http_fuzz(node: Node, body: bytes, fmt: str | None, classes: str | None) -> None:
    params = {k: v for k, v in (("format", fmt), ("classes", classes)) if v is not None}
    response = httpx.post(f"{node.url}/v1/segment", content=body, params=params, timeout=30)
    assert response.status_code in (200, 400, 406, 413, 415), response.text
    if response.status_code != 200:
        error = response.json()["error"]
        assert error["code"] and error["message"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.binary(max_size=512))
    if kind == 1:
        return json.dumps(draw(json_values)).encode()
    request = {
        "id": draw(st.integers() | st.text(max_size=8)),
        "op": draw(st.sampled_from(["segment", "models", "health", "nope", 7])),
        "image": draw(st.sampled_from([base64.b64encode(v).decode() for v in VALID] + ["", "!!", 3])),
        "format": draw(st.sampled_from(["json", "png", "nifti", "bad", None])),
    }
    if request["image"] and isinstance(request["image"], str) and draw(st.booleans()):
        request["image"] = base64.b64encode(draw(bodies())).decode()
    return json.dumps(request).encode()


@FUZZ
@given(frame=frames())
def test_tcp_fuzz(node: Node, frame: bytes) -> None:
    with socket.create_connection(("127.0.0.1", node.tcp_port), timeout=20) as sock:
        sock.sendall(struct.pack(">I", len(frame)) + frame)
        answer = tcp_read(sock)
        assert isinstance(answer["ok"], bool)
        if not answer["ok"]:
            assert answer["error"]["code"] and answer["error"]["message"]
        tcp_call(sock, {"id": "after", "op": "health"})
        assert tcp_read(sock)["id"] == "after"

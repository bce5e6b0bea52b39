"""segserve fixtures: the stand-in model, real node processes on 127.0.0.1, and test images."""

from __future__ import annotations

import io
import json
import os
import pathlib
import socket
import struct
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.processes import ReadyProcess
from tests.segserve import standin_model

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "src" / "segserve" / "assets" / "default.onnx"
SAMPLES = ROOT / "src" / "segserve" / "assets" / "samples"
CLUSTER_SECRET = "segserve-test-cluster-secret-0123456789"  # for the test clusters only
LIVER = 5  # the stand-in labels a flat region of intensity 5/12 as class 5, "liver"


def phantom(height: int = 200, width: int = 256) -> np.ndarray:
    """An 8-bit slice: background 0 and a rectangle the stand-in calls liver, off-centre so axes matter."""
    image = np.zeros((height, width), np.uint8)
    image[40:120, 30:200] = round(255 * LIVER / 12)
    return image


def labels_of(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)))


class Node(ReadyProcess):
    """A real ``python -m segserve`` process; ``start`` returns once it printed its ready line."""

    def __init__(
        self,
        model: pathlib.Path | str,
        *args: str,
        port: int = 0,
        peer_port: int = 0,
        peers: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.model = str(model)
        self.port = port
        self.peer_port = peer_port
        self.args = list(args)
        self.peers = peers
        self.env = env or {}
        self.url = ""
        self.peer_url = ""
        self.tcp_port = -1

    def start(self) -> Node:
        command = [
            sys.executable, "-m", "segserve",
            *(["--model", self.model] if self.model else []),  # "": the bundled model in --precision
            "--port", str(self.port),
            "--peer-port", str(self.peer_port),
            "--tcp-port", "0",
            "--threads", "1",
            *(["--peers", ",".join(self.peers)] if self.peers else []),
            *self.args,
        ]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": "1", **({"GEECACHE_SECRET": CLUSTER_SECRET} if self.peers else {})}
        line = self.launch(command, "segserve", env={**env, **self.env}, cwd=ROOT)
        fields = dict(part.split("=", 1) for part in line.split()[2:])
        self.url = fields["http"]
        self.peer_url = fields["peer"]
        self.tcp_port = int(fields["tcp"])
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rss_kib(self) -> int:
        for line in pathlib.Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def metric(self, name: str) -> float:
        import httpx

        for line in httpx.get(f"{self.url}/metrics", timeout=10).text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise KeyError(name)


def tcp_call(sock: socket.socket, message: dict[str, Any] | bytes) -> None:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    sock.sendall(struct.pack(">I", len(body)) + body)


def tcp_read(sock: socket.socket) -> dict[str, Any]:
    header = _read_exactly(sock, 4)
    (length,) = struct.unpack(">I", header)
    return json.loads(_read_exactly(sock, length))  # type: ignore[no-any-return]


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    chunks = b""
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            raise ConnectionError(f"closed after {len(chunks)} of {n} bytes")
        chunks += chunk
    return chunks


@pytest.fixture(scope="session")
def standin(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    import onnx

    path = tmp_path_factory.mktemp("models") / "standin.onnx"
    onnx.save(standin_model.build(), str(path))
    return path


@pytest.fixture(scope="session")
def slow_standin(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    import onnx

    path = tmp_path_factory.mktemp("models") / "slow.onnx"
    onnx.save(standin_model.build(slow=4), str(path))
    return path


@pytest.fixture(scope="session")
def slower_standin(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The stand-in at about 80 ms per 256x256 slice on 2 cores: volumes that are still running when a test acts."""
    import onnx

    path = tmp_path_factory.mktemp("models") / "slower.onnx"
    onnx.save(standin_model.build(slow=12, width=64), str(path))
    return path


@pytest.fixture(scope="session")
def bundled() -> pathlib.Path:
    if not BUNDLED.is_file():
        pytest.skip(f"the bundled model {BUNDLED.relative_to(ROOT)} is not committed yet (freqseg export pending)")
    return BUNDLED


@pytest.fixture(scope="module")
def node(standin: pathlib.Path) -> Iterator[Node]:
    """One node on the stand-in model, shared by a test module; small limits so the limit tests are cheap."""
    server = Node(standin, "--max-body-bytes", str(4 << 20), "--idle-timeout", "1", "--max-frame-bytes", str(4 << 20))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def hu_for(index: int) -> float:
    """The HU that the window maps to the stand-in's centre of class ``index``."""
    return -175 + 425 * index / 12

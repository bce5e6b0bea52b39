"""Real node processes on 127.0.0.1 for the multi-process tests."""

from __future__ import annotations

import os
import pathlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.processes import ReadyProcess, free_port, running

HERE = pathlib.Path(__file__).resolve().parent


SECRET = "test-cluster-secret-0123456789abcdef"  # a cluster secret for the test clusters (never a real one)


class NodeProcess(ReadyProcess):
    def __init__(
        self,
        self_url: str,
        peers: list[str],
        api_port: int,
        group: str = "scores",
        delay: float = 0.0,
        trusted: bool = False,
        server: str = "uvicorn",
    ):
        self.url = self_url
        self.server = server
        self.peers = peers
        self.api = f"http://127.0.0.1:{api_port}"
        self.group = group
        self.delay = delay
        self.trusted = trusted

    def start(self) -> None:
        command = [
            sys.executable, "-m", "geecache", "node",
            "--self", self.url,
            "--peers", ",".join(self.peers),
            "--group", self.group,
            "--cache-bytes", str(64 << 20),
            "--getter", "cluster_getter:get_value",
            "--app-dir", str(HERE),
            "--api", self.api.removeprefix("http://"),
            "--timeout", "1",
            "--server", self.server,
            *(["--trusted-network"] if self.trusted else []),
        ]  # fmt: skip
        env = {**os.environ, "GETTER_DELAY": str(self.delay)}
        if not self.trusted:
            env["GEECACHE_SECRET"] = SECRET
        self.launch(command, f"node {self.url}", env=env)

    def stats(self) -> dict:
        return httpx.get(f"{self.api}/api/stats").json()["group"]


@contextmanager
def python_cluster(
    size: int,
    delay: float = 0.0,
    extra_peers: list[str] | None = None,
    trusted: bool = False,
    servers: list[str] | None = None,
) -> Iterator[list[NodeProcess]]:
    """``size`` nodes signing with ``SECRET``, or unsigned read-only ones (``trusted``, for Go peers); node ``i``
    runs on ``servers[i]`` (default: uvicorn for all)."""
    urls = [f"http://127.0.0.1:{free_port()}" for _ in range(size)]
    peers = urls + (extra_peers or [])
    kinds = servers or ["uvicorn"] * size
    processes = [
        NodeProcess(url, peers, free_port(), delay=delay, trusted=trusted, server=kind)
        for url, kind in zip(urls, kinds, strict=True)
    ]
    with running(processes) as nodes:
        yield nodes

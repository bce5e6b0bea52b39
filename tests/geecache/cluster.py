"""Real node processes on 127.0.0.1 for the multi-process tests."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

HERE = pathlib.Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NodeProcess:
    def __init__(self, self_url: str, peers: list[str], api_port: int, group: str = "scores", delay: float = 0.0):
        self.url = self_url
        self.peers = peers
        self.api = f"http://127.0.0.1:{api_port}"
        self.group = group
        self.delay = delay
        self.process: subprocess.Popen[str] | None = None

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
        ]  # fmt: skip
        env = {**os.environ, "GETTER_DELAY": str(self.delay)}
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # the node prints this once its sockets listen
        if "ready" not in line:
            self.process.kill()
            raise RuntimeError(f"node {self.url} did not start: {line!r} (exit {self.process.wait()})")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def stats(self) -> dict:
        return httpx.get(f"{self.api}/api/stats").json()["group"]


@contextmanager
def python_cluster(size: int, delay: float = 0.0, extra_peers: list[str] | None = None) -> Iterator[list[NodeProcess]]:
    urls = [f"http://127.0.0.1:{free_port()}" for _ in range(size)]
    peers = urls + (extra_peers or [])
    nodes = [NodeProcess(url, peers, free_port(), delay=delay) for url in urls]
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.stop()

"""Real server processes on 127.0.0.1 for the multi-process tests: a free port, start until ready, stop."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ReadyProcess:
    """A child that prints one line holding "ready" once its sockets listen: waiting for that line, not sleeping,
    is what makes a test's first request safe."""

    process: subprocess.Popen[str] | None = None

    def launch(self, command: Sequence[str], what: str, **popen: Any) -> str:
        """Start ``command`` and return its ready line; a child that says anything else is killed and reported."""
        self.process = subprocess.Popen(list(command), stdout=subprocess.PIPE, text=True, **popen)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "ready" not in line:
            self.process.kill()
            raise RuntimeError(f"{what} did not start: {line!r} (exit {self.process.wait()})")
        return line

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


Node = TypeVar("Node")


@contextmanager
def running(nodes: list[Node]) -> Iterator[list[Node]]:
    """Start every node (each has ``start()``), yield them, and stop them all whatever happens."""
    try:
        for node in nodes:
            node.start()  # type: ignore[attr-defined]
        yield nodes
    finally:
        for node in nodes:
            node.stop()  # type: ignore[attr-defined]

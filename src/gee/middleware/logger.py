"""Access log middleware: one line per request once the response is known, as Gin's Logger."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gee.context import Context
    from gee.types import Handler


@dataclass(frozen=True)
class LogEntry:
    """What a custom formatter receives (Gin's ``LogFormatterParams``)."""

    time: datetime
    status: int
    latency: float  # seconds
    client_ip: str
    method: str
    path: str
    error: str

    def __str__(self) -> str:
        stamp = self.time.strftime("%Y/%m/%d - %H:%M:%S")
        line = (
            f"[GEE] {stamp} | {self.status:3d} | {_duration(self.latency):>10} | {self.client_ip:>15} | "
            f"{self.method:<7} {self.path!r}"
        )
        return f"{line} | {self.error}" if self.error else line


def _duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3f}ms"
    return f"{seconds:.3f}s"


def logger(
    *,
    skip_paths: Iterable[str] = (),
    formatter: Callable[[LogEntry], str] = str,
    log: logging.Logger | None = None,
) -> Handler:
    """Log method, path, status, latency and client of each request, except ``skip_paths``.

    Lines go to the ``gee.access`` logger at INFO unless ``log`` names another, so
    standard logging configuration decides where they end up.
    """
    skip = frozenset(skip_paths)
    out = log or logging.getLogger("gee.access")

    async def log_request(c: Context) -> None:
        if c.path in skip:
            await c.next()
            return
        start = time.perf_counter()
        failed: BaseException | None = None
        try:
            await c.next()
        except BaseException as exc:  # still log it: the engine answers 500
            failed = exc
            raise
        finally:
            path = c.path
            query = c.scope.get("query_string", b"")
            if query:
                path += "?" + query.decode("latin-1")
            errors = "; ".join(str(e) for e in c.errors)
            entry = LogEntry(
                time=datetime.now(),
                status=500 if failed is not None else c.response_status,
                latency=time.perf_counter() - start,
                client_ip=c.client_ip,
                method=c.method,
                path=path,
                error=errors or (repr(failed) if failed is not None else ""),
            )
            out.info(formatter(entry))

    return log_request

"""JSON over TCP: length-prefixed frames, several requests in flight per connection.

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON
(one object). Requests carry ``id`` (echoed back), ``op`` (``segment``, ``models``,
``health``) and, for ``segment``, ``image`` (base64) plus optional ``format``,
``classes`` and ``spacing``. Answers carry the same ``id``, ``ok``, and ``result`` or
``error: {code, message}``. Answers may come back in any order: match them by ``id``.

Failure rules: a frame that is not a JSON object gets an error frame and the
connection goes on (the framing is still intact). A frame longer than
``max_frame`` bytes, or one that does not arrive within ``idle_timeout`` (a length
that lies), gets an error frame and the connection is closed, since the stream can
no longer be re-synchronised. A connection idle for ``idle_timeout`` seconds with
nothing in flight is closed. At most ``max_in_flight`` requests run per connection;
beyond that the request is refused with ``busy``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import struct
import time
from typing import Any

from segserve.errors import ServiceError
from segserve.service import Service

log = logging.getLogger("segserve.tcp")
HEADER = struct.Struct(">I")


def encode_frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return HEADER.pack(len(body)) + body


def error_frame(request_id: Any, code: str, message: str, **detail: Any) -> bytes:
    return encode_frame({"id": request_id, "ok": False, "error": {"code": code, "message": message, **detail}})


class TCPServer:
    """Serves the framed JSON protocol for one ``Service`` on asyncio streams."""

    def __init__(
        self, service: Service, *, max_frame: int = 64 << 20, idle_timeout: float = 60.0, max_in_flight: int = 32
    ) -> None:
        self.service = service
        self.max_frame = max_frame
        self.idle_timeout = idle_timeout
        self.max_in_flight = max_in_flight
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 9000, **kwargs: Any) -> asyncio.Server:
        self.server = await asyncio.start_server(self.handle, host, port, limit=1 << 16, **kwargs)
        return self.server

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        tasks: set[asyncio.Task[None]] = set()
        lock = asyncio.Lock()

        async def send(frame: bytes) -> None:
            async with lock:
                writer.write(frame)
                await writer.drain()

        try:
            while True:
                try:
                    header = await asyncio.wait_for(reader.readexactly(4), self.idle_timeout)
                except TimeoutError:
                    if tasks:
                        continue  # answers are still being computed: not idle
                    return
                (length,) = HEADER.unpack(header)
                if length > self.max_frame:
                    await send(
                        error_frame(
                            None,
                            "frame_too_large",
                            f"frame of {length} bytes is over the maximum of {self.max_frame}; closing",
                            max_frame=self.max_frame,
                        )
                    )
                    return
                try:
                    payload = await asyncio.wait_for(reader.readexactly(length), self.idle_timeout)
                except TimeoutError:
                    await send(
                        error_frame(
                            None,
                            "incomplete_frame",
                            f"the frame announced {length} bytes, which did not arrive within {self.idle_timeout} s; "
                            "closing (check the length prefix: 4 bytes, big-endian, body only)",
                        )
                    )
                    return
                request = self._parse(payload)
                if isinstance(request, bytes):
                    await send(request)
                    continue
                if len(tasks) >= self.max_in_flight:
                    await send(
                        error_frame(
                            request.get("id"),
                            "busy",
                            f"over {self.max_in_flight} requests in flight on this connection; wait for answers",
                        )
                    )
                    continue
                task = asyncio.create_task(self._answer(request, send))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away; its in-flight requests finish and their answers are dropped
        finally:
            for task in tasks:
                task.cancel()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _parse(self, payload: bytes) -> dict[str, Any] | bytes:
        """The request object, or an error frame to send back."""
        try:
            request = json.loads(payload)
        except UnicodeDecodeError as exc:
            return error_frame(None, "bad_frame", f"frame is not UTF-8 ({exc.reason} at byte {exc.start})")
        except json.JSONDecodeError as exc:
            return error_frame(None, "bad_frame", f"frame is not JSON: {exc.msg} at line {exc.lineno} col {exc.colno}")
        except RecursionError:
            return error_frame(None, "bad_frame", "frame nests JSON too deeply")
        if not isinstance(request, dict):
            return error_frame(None, "bad_frame", f"a frame must hold a JSON object, not {type(request).__name__}")
        request_id = request.get("id")
        if request_id is not None and not isinstance(request_id, str | int):
            return error_frame(None, "bad_request", "id must be a string or an integer")
        return request

    async def _answer(self, request: dict[str, Any], send: Any) -> None:
        request_id = request.get("id")
        start = time.perf_counter()
        status = 200
        try:
            result = await self._run(request)
            frame = encode_frame({"id": request_id, "ok": True, "result": result})
        except ServiceError as error:
            status = error.status
            frame = error_frame(request_id, error.code, error.message, **error.detail)
        except Exception as exc:
            status = 500
            log.exception("tcp request failed")
            frame = error_frame(request_id, "internal", f"{type(exc).__name__}; see the server log")
        finally:
            self.service.counters.observe("tcp", status, time.perf_counter() - start)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await send(frame)

    async def _run(self, request: dict[str, Any]) -> Any:
        op = request.get("op")
        if op == "health":
            return self.service.health()
        if op == "models":
            return self.service.describe()
        if op != "segment":
            valid = ["segment", "models", "health"]
            raise ServiceError(400, "unknown_op", f"op {op!r} is not one of {', '.join(valid)}", valid=valid)
        image = request.get("image")
        if not isinstance(image, str) or not image:
            raise ServiceError(400, "bad_request", "segment needs 'image': the file's bytes in base64")
        try:
            data = base64.b64decode(image, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ServiceError(400, "bad_request", f"'image' is not valid base64: {exc}") from exc
        classes = request.get("classes")
        if classes is not None and not isinstance(classes, str | list):
            raise ServiceError(400, "bad_request", "'classes' must be a list of class names or a comma-separated text")
        fmt = request.get("format", "json")
        if not isinstance(fmt, str):
            raise ServiceError(400, "unknown_format", "'format' must be one of png, nifti, json")
        options = self.service.options(format=fmt, classes=classes, spacing=request.get("spacing"))
        answer = await self.service.segment(data, options)
        if answer.format == "json":
            return json.loads(answer.body)
        return {
            "format": answer.format,
            "content_type": answer.content_type,
            "data": base64.b64encode(answer.body).decode(),
        }

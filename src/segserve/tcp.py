"""JSON over TCP: length-prefixed frames, several requests in flight per connection.

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON
(one object). Requests carry ``id`` (echoed back), ``op`` (``segment``, ``submit``,
``job``, ``cancel``, ``result``, ``models``, ``health``) and, for ``segment`` and
``submit``, ``image`` (base64) or ``files`` (a series' files, each base64), plus
optional ``format``, ``classes`` and ``spacing``; ``job``, ``cancel`` and ``result``
name a ``job``. Answers carry the same ``id``, ``ok``, and ``result`` or
``error: {code, message}``. Answers may come back in any order: match them by ``id``.

With an API token (``token``), a connection must first send ``{"op": "auth", "token":
...}``: until then every op but ``health`` is answered ``unauthorized``, and a wrong
token is answered so and the connection closed.

Failure rules: a frame that cannot be read as a request (not UTF-8, not JSON, not an
object, an integer of more digits than Python reads, more than ``MAX_COMMAS`` commas)
gets a ``bad_frame`` error frame and the connection goes on (the framing is still
intact). A frame longer than ``max_frame`` bytes, one whose body does not arrive
within ``frame_timeout`` (a length that lies, or a client that stalls mid-frame), or
one the server-wide receive budget cannot take gets an error frame and the connection
is closed, since the stream can no longer be re-synchronised. A connection idle for
``idle_timeout`` seconds with nothing in flight is closed. At most ``max_in_flight``
requests run per connection; beyond that the request is refused with ``busy``.

Limits (``TCPServer`` keyword arguments), each bounding what one client can make the
server hold or how long it can hold it:

- ``max_frame`` (64 MiB): the largest frame body accepted.
- ``idle_timeout`` (60 s): a connection with no frame and nothing in flight is closed.
- ``max_in_flight`` (32): requests running at once on one connection.
- ``max_connections`` (256): connections open at once; one more gets a ``busy`` error
  frame and is closed, so that clients holding connections cannot hang new ones.
- ``max_buffered_bytes`` (256 MiB): frame bytes being received at once over all
  connections. A frame's announced length is reserved before its body is read and
  released once it is parsed; a frame the budget cannot take gets ``busy`` and the
  connection is closed. Frames announcing 60 MiB and never finishing would otherwise
  hold memory without bound. It must be at least ``max_frame``.
- ``frame_timeout`` (the smaller of 10 s and ``idle_timeout``): seconds to receive one
  frame's body once its header arrived; shorter than ``idle_timeout`` because a
  half-sent frame holds a connection slot and part of the receive budget. At 64 MiB
  frames, 10 s asks for about 7 MB/s.
- ``write_timeout`` (30 s): every frame sent must be taken by the client (the
  transport's buffer drained below its high-water mark) within this time, else the
  connection is closed and its requests in flight are cancelled.
- ``max_pending_bytes`` (16 MiB): when an answer is ready while more than this many
  bytes of earlier answers are still unsent on the connection, the connection is
  closed: a client that sends requests but does not read the answers would otherwise
  make the server hold every answer. One answer may be larger on its own.

Fixed rules, since no request needs more: ``classes`` lists at most as many names as
the model has classes, or is a text of at most ``MAX_CLASSES_TEXT`` characters;
``format`` is at most ``MAX_FORMAT_CHARS`` characters; ``spacing`` is at most two
numbers or a short text. Error messages quote at most ``ECHO_CHARS`` characters of
what the client sent. Payloads (and images) over ``OFF_LOOP_BYTES`` are parsed (and
decoded) in a worker thread; those steps hold the GIL, so this only splits the pause
the other connections see, and the comma bound is what keeps a parse short.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import json
import logging
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from segserve.errors import ECHO_CHARS, ServiceError, clip
from segserve.results import OUTPUT_FORMATS
from segserve.service import Answer, Options, Service

log = logging.getLogger("segserve.tcp")
HEADER = struct.Struct(">I")

OPS = ("segment", "submit", "job", "cancel", "result", "models", "health", "auth")

MAX_COMMAS = 1 << 14
"""Commas a frame may hold. Every JSON value past the first in an array or object needs one, so this bounds the
objects a parse creates (a 57 MiB frame of ``{},{},...`` paused a node for 0.9 s and left it 1 GB larger); a request
has a few fields, and its largest, the base64 image, holds no comma. Counting them takes 15 ms for 60 MiB."""
MAX_CLASSES_TEXT = 4096
"""Characters of ``classes`` given as comma-separated text: every class name of a model, with room to spare."""
MAX_FORMAT_CHARS = 16
MAX_MODEL_CHARS = 128
MAX_JOB_CHARS = 200
OFF_LOOP_BYTES = 1 << 20
"""Payloads and images larger than this are parsed or decoded in a worker thread rather than on the event loop."""
LINGER = 1.0
"""Seconds a connection closed after an error frame keeps reading (and dropping) what the client still sends: closing
a socket with unread input makes the kernel reset the connection, which throws the error frame away before the
client reads it."""


def encode_frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return HEADER.pack(len(body)) + body


def error_frame(request_id: Any, code: str, message: str, **detail: Any) -> bytes:
    return encode_frame({"id": request_id, "ok": False, "error": {"code": code, "message": message, **detail}})


def result_frame(request_id: Any, result: bytes) -> bytes:
    """The answer frame for a result that is already compact JSON, spliced in rather than parsed and re-encoded: a
    result can be tens of MB, and re-encoding it on the event loop would pause every connection."""
    head = b'{"id":' + json.dumps(request_id).encode() + b',"ok":true,"result":'
    return b"".join((HEADER.pack(len(head) + len(result) + 1), head, result, b"}"))


class Connection:
    """One client's streams and requests in flight, and the rules for writing to it."""

    def __init__(self, server: TCPServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.tasks: set[asyncio.Task[None]] = set()
        self.authenticated = server.token is None

    async def send(self, frame: bytes) -> None:
        """Queue ``frame`` and wait until the client takes it; a client that does not is closed.

        Raises ``ConnectionError`` once the connection is closed, so that callers stop.
        """
        transport = self.writer.transport
        if transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        pending = transport.get_write_buffer_size()
        if pending > self.server.max_pending_bytes:
            self.abort(f"{pending} bytes of answers unsent, over max_pending_bytes={self.server.max_pending_bytes}")
            raise ConnectionResetError("the client does not read its answers")
        self.writer.write(frame)
        try:
            await asyncio.wait_for(self.writer.drain(), self.server.write_timeout)
        except TimeoutError:
            self.abort(f"an answer not taken within write_timeout={self.server.write_timeout} s")
            raise ConnectionResetError("the client does not read its answers") from None

    def abort(self, why: str) -> None:
        """Drop the connection now, unsent bytes and all, and cancel its requests in flight."""
        log.info("closing TCP client %s: %s", self.writer.get_extra_info("peername"), why)
        self.writer.transport.abort()
        for task in self.tasks:
            task.cancel()

    async def finish(self, frame: bytes) -> None:
        """Send a last error frame, then stop writing, and drop input for up to ``LINGER`` seconds so that the
        frame reaches the client before the connection closes."""
        with contextlib.suppress(ConnectionError):
            await self.send(frame)
            if self.writer.can_write_eof():
                self.writer.write_eof()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LINGER):
                    while await self.reader.read(1 << 16):
                        pass

    async def close(self) -> None:
        """Close, flushing what is unsent for at most ``write_timeout`` seconds, then abort."""
        for task in self.tasks:
            task.cancel()
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), self.server.write_timeout)
        except TimeoutError:
            self.writer.transport.abort()
        except OSError:
            pass  # the client reset the connection (or TLS failed to close cleanly): it is closed either way


class TCPServer:
    """Serves the framed JSON protocol for one ``Service`` on asyncio streams, within the limits of the module's
    docstring. ``connections`` counts the connections open and ``buffered`` the frame bytes reserved now."""

    def __init__(
        self,
        service: Service,
        *,
        max_frame: int = 64 << 20,
        idle_timeout: float = 60.0,
        max_in_flight: int = 32,
        max_connections: int = 256,
        max_buffered_bytes: int = 256 << 20,
        frame_timeout: float | None = None,
        write_timeout: float = 30.0,
        max_pending_bytes: int = 16 << 20,
        token: str | None = None,
    ) -> None:
        if max_buffered_bytes < max_frame:
            raise ValueError(
                f"max_buffered_bytes ({max_buffered_bytes}) is below max_frame ({max_frame}), so a frame of the "
                "largest size allowed could never be received: raise max_buffered_bytes or lower max_frame"
            )
        self.service = service
        self.max_frame = max_frame
        self.idle_timeout = idle_timeout
        self.max_in_flight = max_in_flight
        self.max_connections = max_connections
        self.max_buffered_bytes = max_buffered_bytes
        self.frame_timeout = min(10.0, idle_timeout) if frame_timeout is None else frame_timeout
        self.write_timeout = write_timeout
        self.max_pending_bytes = max_pending_bytes
        self.token = token
        self.connections = 0
        self.buffered = 0
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
        connection = Connection(self, reader, writer)
        if self.connections >= self.max_connections:
            message = f"the server has {self.connections} connections open, its maximum; retry later"
            await connection.finish(error_frame(None, "busy", message, max_connections=self.max_connections))
            await connection.close()
            return
        self.connections += 1
        try:
            await self._serve(connection)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away, or was closed for not reading: its requests in flight are cancelled
        finally:
            self.connections -= 1
            await connection.close()

    async def _serve(self, connection: Connection) -> None:
        """Read frames and start their requests until the connection ends (by returning, or by raising
        ``IncompleteReadError`` or ``ConnectionError``)."""
        while True:
            try:
                header = await asyncio.wait_for(connection.reader.readexactly(4), self.idle_timeout)
            except TimeoutError:
                if connection.tasks:
                    continue  # answers are still being computed: not idle
                return
            (length,) = HEADER.unpack(header)
            if not await self._frame(connection, length):
                return

    async def _frame(self, connection: Connection, length: int) -> bool:
        """Receive the body of one frame whose header announced ``length`` bytes, and start its request or answer
        its error; False once the connection was finished with an error frame. A method of its own so that the
        frame's bytes and the request are not kept alive by the read loop while the connection idles."""
        if length > self.max_frame:
            message = f"frame of {length} bytes is over the maximum of {self.max_frame}; closing"
            await connection.finish(error_frame(None, "frame_too_large", message, max_frame=self.max_frame))
            return False
        if self.buffered + length > self.max_buffered_bytes:
            message = (
                f"the server is receiving {self.buffered} bytes of other frames, and this frame's {length} would "
                f"pass its budget of {self.max_buffered_bytes}; closing: retry later, or send smaller frames"
            )
            await connection.finish(error_frame(None, "busy", message, max_buffered_bytes=self.max_buffered_bytes))
            return False
        self.buffered += length
        try:
            try:
                payload = await asyncio.wait_for(connection.reader.readexactly(length), self.frame_timeout)
            except TimeoutError:
                message = (
                    f"the frame announced {length} bytes, which did not arrive within {self.frame_timeout} s; "
                    "closing (check the length prefix: 4 bytes, big-endian, body only)"
                )
                await connection.finish(error_frame(None, "incomplete_frame", message))
                return False
            request = await self._parse(payload)
        finally:
            self.buffered -= length
        if isinstance(request, bytes):
            await connection.send(request)
        elif request.get("op") == "auth":
            return await self._authenticate(connection, request)
        elif not connection.authenticated and request.get("op") != "health":
            message = 'this node needs the API token: send {"op": "auth", "token": "..."} first'
            await connection.send(error_frame(request.get("id"), "unauthorized", message))
        elif len(connection.tasks) >= self.max_in_flight:
            message = f"over {self.max_in_flight} requests in flight on this connection; wait for answers"
            await connection.send(error_frame(request.get("id"), "busy", message))
        else:
            task = asyncio.create_task(self._answer(request, connection.send))
            connection.tasks.add(task)
            task.add_done_callback(connection.tasks.discard)
        return True

    async def _authenticate(self, connection: Connection, request: dict[str, Any]) -> bool:
        """The ``auth`` op: the token compared in constant time; a wrong one ends the connection."""
        given = request.get("token")
        expected = (self.token or "").encode()
        if isinstance(given, str) and hmac.compare_digest(given.encode(), expected):
            connection.authenticated = True
            await connection.send(result_frame(request.get("id"), b'{"authenticated":true}'))
            return True
        await connection.finish(error_frame(request.get("id"), "unauthorized", "wrong API token; closing"))
        return False

    async def _parse(self, payload: bytes) -> dict[str, Any] | bytes:
        """The request object, or an error frame to send back."""
        commas = payload.count(b",")
        if commas > MAX_COMMAS:
            return error_frame(
                None,
                "bad_frame",
                f"frame holds {commas} commas, more JSON values than a request has (at most {MAX_COMMAS} commas); "
                "send one object with id, op and, for segment, image, format, classes and spacing",
            )
        try:
            if len(payload) > OFF_LOOP_BYTES:
                request = await asyncio.to_thread(json.loads, payload)
            else:
                request = json.loads(payload)
        except UnicodeDecodeError as exc:
            return error_frame(None, "bad_frame", f"frame is not UTF-8 ({exc.reason} at byte {exc.start})")
        except json.JSONDecodeError as exc:
            return error_frame(None, "bad_frame", f"frame is not JSON: {exc.msg} at line {exc.lineno} col {exc.colno}")
        except ValueError:  # what json.loads raises beyond the two above: an integer too long to convert
            return error_frame(
                None,
                "bad_frame",
                f"frame holds an integer of more than {sys.get_int_max_str_digits()} digits, which no request field "
                "takes; send the number as a string, or leave it out",
            )
        except RecursionError:
            return error_frame(None, "bad_frame", "frame nests JSON too deeply")
        if not isinstance(request, dict):
            return error_frame(None, "bad_frame", f"a frame must hold a JSON object, not {type(request).__name__}")
        request_id = request.get("id")
        if request_id is not None and not isinstance(request_id, str | int):
            return error_frame(None, "bad_request", "id must be a string or an integer")
        return request

    async def _answer(self, request: dict[str, Any], send: Callable[[bytes], Awaitable[None]]) -> None:
        request_id = request.get("id")
        start = time.perf_counter()
        status = 200
        try:
            frame = result_frame(request_id, await self._run(request))
        except ServiceError as error:
            status = error.status
            frame = error_frame(request_id, error.code, error.message, **error.detail)
        except Exception as exc:
            status = 500
            log.exception("tcp request failed")
            frame = error_frame(request_id, "internal", f"{type(exc).__name__}; see the server log")
        finally:
            self.service.counters.observe("tcp", status, time.perf_counter() - start)
        with contextlib.suppress(ConnectionError):
            await send(frame)

    async def _run(self, request: dict[str, Any]) -> bytes:
        """The result of one request, as compact JSON: one service method per op."""
        op = request.get("op")
        if op == "health":
            return compact(self.service.health())
        if op == "models":
            return compact(self.service.describe())
        if op == "segment":
            answer = await self.service.segment(await self._input(request), self._options(request))
            return self._encoded(answer)
        if op == "submit":
            return compact(await self.service.submit(await self._input(request), self._options(request)))
        if op in ("job", "cancel", "result"):
            job_id = request.get("job")
            if not isinstance(job_id, str) or not job_id:
                raise ServiceError(400, "bad_request", f"{op} needs 'job': the id that 'submit' answered")
            if len(job_id) > MAX_JOB_CHARS:
                raise ServiceError(404, "unknown_job", f"'job' is {len(job_id)} characters; a job id has at most 120")
            if op == "job":
                return compact(await self.service.job(job_id))
            if op == "cancel":
                return compact(self.service.cancel(job_id))
            return self._encoded(await self.service.result(job_id, self._options(request)))
        raise ServiceError(400, "unknown_op", f"op {clip(repr(op))} is not one of {', '.join(OPS)}", valid=list(OPS))

    @staticmethod
    def _encoded(answer: Answer) -> bytes:
        if answer.job is not None:
            return compact({"job": answer.job})
        if answer.format == "json":
            return answer.body  # compact JSON already (results.encode)
        head = compact({"format": answer.format, "content_type": answer.content_type})
        return b"".join((head[:-1], b',"data":"', base64.b64encode(answer.body), b'"}'))

    async def _input(self, request: dict[str, Any]) -> bytes:
        """``image`` (one file in base64) or ``files`` (a DICOM series' files, each in base64, packed as one zip
        as HTTP packs several file parts)."""
        image, files = request.get("image"), request.get("files")
        if image is not None and files is not None:
            raise ServiceError(400, "bad_request", "send 'image' (one file) or 'files' (a series), not both")
        if isinstance(files, list):
            if not files or not all(isinstance(f, str) and f for f in files):
                raise ServiceError(400, "bad_request", "'files' must list the series' files, each in base64")
            decoded = [await self._decode(f, f"files[{i}]") for i, f in enumerate(files)]
            return self.service.series([(f"{i:05d}.dcm", data) for i, data in enumerate(decoded)])
        if not isinstance(image, str) or not image:
            raise ServiceError(
                400, "bad_request", f"{request.get('op')} needs 'image' (the file in base64) or 'files' (a series)"
            )
        return await self._decode(image, "image")

    @staticmethod
    async def _decode(text: str, what: str) -> bytes:
        try:
            if len(text) > OFF_LOOP_BYTES:
                return await asyncio.to_thread(base64.b64decode, text, validate=True)
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ServiceError(400, "bad_request", f"'{what}' is not valid base64: {exc}") from exc

    def _options(self, request: dict[str, Any]) -> Options:
        fmt = request.get("format", "json")
        if not isinstance(fmt, str) or len(fmt) > MAX_FORMAT_CHARS:
            raise ServiceError(400, "unknown_format", f"'format' must be one of {', '.join(OUTPUT_FORMATS)}")
        model = request.get("model")
        if model is not None and (not isinstance(model, str) or len(model) > MAX_MODEL_CHARS):
            raise ServiceError(
                400, "unknown_model", f"'model' must be a model's name (at most {MAX_MODEL_CHARS} chars)"
            )
        classes = self._classes(request.get("classes"), model)
        spacing = checked_spacing(request.get("spacing"))
        return self.service.options(format=fmt, classes=classes, spacing=spacing, model=model)

    def _classes(self, value: object, model: str | None) -> str | list[str] | None:
        """``classes`` checked on bounded input before the service reads it: a list at most as long as the model's
        classes, or a short text; an unknown name is quoted clipped, never the whole list."""
        known = self.service.classes(model)
        if value is None:
            return None
        if isinstance(value, str):
            if len(value) > MAX_CLASSES_TEXT:
                raise ServiceError(
                    400,
                    "bad_request",
                    f"'classes' is {len(value)} characters of text, over {MAX_CLASSES_TEXT}: name some of the "
                    f"model's {len(known)} classes, comma-separated",
                    valid=known,
                )
            names = value.split(",")
        elif isinstance(value, list):
            if len(value) > len(known):
                raise ServiceError(
                    400,
                    "bad_request",
                    f"'classes' lists {len(value)} names, but the model has {len(known)} classes: name each at most "
                    "once",
                    valid=known,
                )
            if not all(isinstance(name, str) for name in value):
                raise ServiceError(400, "bad_request", "'classes' must list class names as strings", valid=known)
            names = value
        else:
            raise ServiceError(400, "bad_request", "'classes' must be a list of class names or a comma-separated text")
        valid = set(known)
        unknown = [name.strip() for name in names if name.strip() and name.strip() not in valid]
        if unknown:
            raise ServiceError(
                400,
                "unknown_class",
                f"unknown class(es) {clip(', '.join(map(repr, unknown)))}; valid: {', '.join(known)}",
                valid=known,
            )
        return value


def checked_spacing(value: Any) -> Any:
    """``spacing`` as given, once it is small enough that the service's messages quoting it stay short: a text of
    at most ``ECHO_CHARS`` characters, or one or two numbers (of at most a million, so that they fit a float)."""
    numbers = value if isinstance(value, list) else [value]
    if value is None or (isinstance(value, str) and len(value) <= ECHO_CHARS):
        return value
    if len(numbers) <= 2 and all(isinstance(n, int | float) and abs(n) <= 1e6 for n in numbers):
        return value
    raise ServiceError(
        400, "bad_input", "'spacing' must be one or two numbers in mm, such as 0.8 or [0.8, 0.8], or a text '0.8,0.8'"
    )


def compact(value: Any) -> bytes:
    """``value`` as JSON without spaces, as every frame is written."""
    return json.dumps(value, separators=(",", ":")).encode()

"""The per-request Context: the request, the response being built, and the handler chain.

A response is buffered on the context (status, headers, body) and sent once the
chain returns, so outer middleware can still read and change it in their
after-part, and Recovery can replace a half-built answer with a 500. Streams and
server-sent events are the exception: they start sending at once, and stop when
the client leaves.

The request's lifecycle is the engine's (``Engine.__call__``): it makes the context, runs the chain with
``next()``, sends the answer with ``send_response()``, turns a failure into an error answer with
``reset_response()``, and ends with ``close()``; it and the other modules use public members only.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import json
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, quote

from gee import cookies
from gee.binding import is_form, parse_json, validate
from gee.body import RequestBody
from gee.errors import HTTPError
from gee.files import prepare_file
from gee.forms import Form, parse_form
from gee.headers import Headers, field_name, field_value, uri_reference
from gee.types import Handler, Receive, Scope, Send

if TYPE_CHECKING:
    from gee.engine import Engine
    from gee.router import Route

T = TypeVar("T")

ABORTED = 1 << 30
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_TEXT = (b"content-type", b"text/plain; charset=utf-8")
_JSON_TYPE = (b"content-type", b"application/json")
_HTML = (b"content-type", b"text/html; charset=utf-8")
_EVENT_STREAM = (b"content-type", b"text/event-stream; charset=utf-8")
_NO_BODY_STATUSES = frozenset({204, 304})


class _Done:
    """An already-finished awaitable: what ``next()`` returns to a sync handler."""

    def __await__(self) -> Any:
        return iter(())


_DONE = _Done()


class SSEvent:
    """One server-sent event. ``data`` that is not a str is sent as JSON."""

    __slots__ = ("data", "event", "id", "retry")

    def __init__(self, data: Any, event: str | None = None, id: str | None = None, retry: int | None = None):
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry

    def encode(self) -> bytes:
        lines = []
        if self.event is not None:
            lines.append(f"event: {self.event}")
        if self.id is not None:
            lines.append(f"id: {self.id}")
        if self.retry is not None:
            lines.append(f"retry: {self.retry}")
        data = self.data if isinstance(self.data, str) else _JSON.encode(self.data)
        lines.extend(f"data: {line}" for line in data.split("\n"))
        return ("\n".join(lines) + "\n\n").encode()


class _Lazy:
    """Per-request state that most requests never touch, made on first use."""

    __slots__ = ("body", "body_limit", "cookies", "errors", "form", "headers", "keys", "params", "query")

    def __init__(self, body_limit: int | None) -> None:
        self.body_limit = body_limit
        self.keys: dict[str, Any] = {}
        self.query: dict[str, list[str]] | None = None
        self.headers: Headers | None = None
        self.body: RequestBody | None = None
        self.cookies: dict[str, str] | None = None
        self.form: Form | None = None
        self.params: dict[str, str] | None = None
        self.errors: list[BaseException] = []


class Context:
    """Wraps one request and its response; every handler and middleware receives it."""

    __slots__ = (
        "_body",
        "_body_iter",
        "_handlers",
        "_headers",
        "_index",
        "_lazy",
        "_param_values",
        "_receive",
        "_route",
        "_send",
        "_started",
        "_status",
        "engine",
        "scope",
    )

    def __init__(
        self,
        engine: Engine,
        scope: Scope,
        receive: Receive,
        send: Send,
        route: Route | None = None,
        param_values: tuple[str, ...] | None = None,
        handlers: tuple[Handler, ...] = (),
    ):
        # Only what every request needs is set here; the rest waits in ``_lazy``
        # until a handler asks for it, since each field costs time on every request.
        self.engine = engine
        self.scope = scope
        self._receive = receive
        self._send = send
        self._route = route
        self._param_values = param_values
        self._handlers = handlers
        self._index = 0  # the handler running: the engine starts the chain with the first
        self._status = 200
        self._headers: list[tuple[bytes, bytes]] = []
        self._body = b""
        self._body_iter: AsyncIterable[bytes] | None = None
        self._started = False
        self._lazy: _Lazy | None = None

    @property
    def method(self) -> str:
        return self.scope["method"]  # type: ignore[no-any-return]

    @property
    def path(self) -> str:
        """The percent-decoded request path."""
        return self.scope["path"]  # type: ignore[no-any-return]

    @property
    def raw_path(self) -> str:
        """The path as sent, still percent-encoded (Gin's ``c.Request.URL.RawPath``)."""
        raw: bytes | None = self.scope.get("raw_path")
        if not raw:
            return quote(self.path)
        return raw.decode("latin-1").partition("?")[0]

    @property
    def full_path(self) -> str:
        """The matched route's pattern, as ``/users/:id`` (Gin's ``FullPath``); '' when none matched."""
        return "" if self._route is None else self._route.pattern

    @property
    def _extra(self) -> _Lazy:
        if self._lazy is None:
            self._lazy = _Lazy(self.engine.max_body_bytes)
        return self._lazy

    @property
    def max_body_bytes(self) -> int | None:
        """The request-body limit for this request: the engine's, unless a middleware changed it
        before the body was first read."""
        return self.engine.max_body_bytes if self._lazy is None else self._lazy.body_limit

    @max_body_bytes.setter
    def max_body_bytes(self, limit: int | None) -> None:
        self._extra.body_limit = limit

    @property
    def errors(self) -> list[BaseException]:
        """Errors met while handling the request (Gin's ``c.Errors``), for the Logger and friends."""
        return self._extra.errors

    # ------------------------------------------------------------------ chain

    def next(self) -> Awaitable[None]:
        """Run the rest of the chain; code after ``await c.next()`` runs once it returns.

        A plain (sync) handler, which runs in a worker thread, calls ``c.next()``
        without ``await``: the rest of the chain then runs on the event loop while
        the thread waits.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread: a plain handler's worker thread
            loop = self.engine.loop
            assert loop is not None  # set by the plain handler's wrapper before the thread starts
            asyncio.run_coroutine_threadsafe(self._run_chain(), loop).result()
            return _DONE
        return self._run_chain()

    async def _run_chain(self) -> None:
        self._index += 1
        handlers = self._handlers
        while self._index < len(handlers):
            try:
                await handlers[self._index](self)
            except HTTPError as error:
                self.abort_with_error(error)
            self._index += 1

    def abort(self) -> None:
        """Stop the chain: inner handlers do not run; outer middleware still finish."""
        self._index = ABORTED

    def abort_with_status(self, code: int) -> None:
        self._status = code
        self.abort()

    def abort_with_json(self, code: int, obj: Any) -> None:
        self.json(code, obj)
        self.abort()

    def abort_with_error(self, error: HTTPError) -> None:
        """Answer ``error`` (its status and JSON body, in place of anything written so far), record it in
        ``c.errors`` and stop the chain: what raising it from a handler does (Gin's ``AbortWithError``)."""
        self.errors.append(error)
        if self.reset_response():
            self.json(error.status, error.body())
        self.abort()

    @property
    def is_aborted(self) -> bool:
        return self._index >= ABORTED

    # ------------------------------------------------------- per-request keys

    def set(self, key: str, value: Any) -> None:
        """Store a value for later handlers of this request (Gin's ``c.Set``)."""
        self._extra.keys[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        return default if self._lazy is None else self._lazy.keys.get(key, default)

    @property
    def keys(self) -> dict[str, Any]:
        return self._extra.keys

    # ---------------------------------------------------------------- request

    def param(self, name: str) -> str:
        """A path parameter by name; '' when the route has none of that name (as in Gin)."""
        route = self._route
        if route is not None and name in route.param_names:
            return self._param_values[route.param_names.index(name)]  # type: ignore[index]
        return ""

    @property
    def params(self) -> dict[str, str]:
        extra = self._extra
        if extra.params is None:
            route = self._route
            extra.params = {} if route is None else dict(zip(route.param_names, self._param_values or (), strict=True))
        return extra.params

    def _parsed_query(self) -> dict[str, list[str]]:
        extra = self._extra
        if extra.query is None:
            raw = self.scope.get("query_string", b"")
            extra.query = parse_qs(raw.decode("latin-1"), keep_blank_values=True) if raw else {}
        return extra.query

    def query(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter, or ``default`` when it is absent."""
        values = self._parsed_query().get(name)
        return values[0] if values else default

    def query_list(self, name: str) -> list[str]:
        return list(self._parsed_query().get(name, ()))

    @property
    def query_params(self) -> dict[str, list[str]]:
        return self._parsed_query()

    @property
    def headers(self) -> Headers:
        extra = self._extra
        if extra.headers is None:
            extra.headers = Headers(self.scope["headers"])
        return extra.headers

    @property
    def content_type(self) -> str:
        """The request's media type without parameters, lower-cased ('' if none)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def cookies(self) -> dict[str, str]:
        """The request's cookies, read as Go's net/http reads them: a malformed pair is skipped, the rest kept;
        values unescaped as Gin's ``c.Cookie`` does (see ``gee.cookies``)."""
        extra = self._extra
        if extra.cookies is None:
            extra.cookies = cookies.parse_cookies(self.headers.get_all("cookie"))
        return extra.cookies

    def cookie(self, name: str, default: str | None = None) -> str | None:
        return self.cookies.get(name, default)

    @property
    def remote_ip(self) -> str:
        """The address of the peer that opened the connection."""
        client = self.scope.get("client")
        return client[0] if client else ""

    @property
    def client_ip(self) -> str:
        """The client's address, read through ``X-Forwarded-For`` only from trusted proxies.

        Walks ``X-Forwarded-For`` from the right, past addresses of trusted proxies,
        as Gin does; untrusted peers cannot spoof their address with the header.
        """
        remote = self.remote_ip
        engine = self.engine
        if not engine.trusted_proxies or not engine.is_trusted_proxy(remote):
            return remote
        for header in engine.remote_ip_headers:
            value = self.headers.get(header)
            if value:
                hop = self._first_untrusted_hop(value)
                if hop is not None:
                    return hop
        return remote

    def _first_untrusted_hop(self, forwarded: str) -> str | None:
        """Right to left, the first hop that is not a trusted proxy (or the leftmost); None if one is not an IP."""
        hops = [hop.strip() for hop in forwarded.split(",")]
        for i in range(len(hops) - 1, -1, -1):
            try:
                ipaddress.ip_address(hops[i])
            except ValueError:
                return None
            if i == 0 or not self.engine.is_trusted_proxy(hops[i]):
                return hops[i]
        return None

    def _body_source(self) -> RequestBody:
        """The one source every body reader goes through (``gee.body``), made on first use."""
        extra = self._extra
        if extra.body is None:
            extra.body = RequestBody(self._receive, extra.body_limit, self.headers.get("content-length"))
        return extra.body

    def stream_body(self) -> AsyncIterator[bytes]:
        """The request body chunk by chunk, stopping with 413 past ``max_body_bytes``; what another reader
        already read comes first."""
        return self._body_source().stream()

    async def body(self) -> bytes:
        """The whole request body (read once, then kept for every reader)."""
        return await self._body_source().read()

    async def read_json(self) -> Any:
        """The body parsed as JSON; malformed JSON answers 400 naming the problem."""
        return parse_json(await self.body())

    async def form(self) -> Form:
        """URL-encoded or multipart form fields, with uploaded files (closed after the response)."""
        extra = self._extra
        if extra.form is None:
            extra.form = await parse_form(self.headers, self._body_source().stream())
        return extra.form

    async def bind(self, model: type[T]) -> T:
        """Validate the body (JSON or form, by content type) into a pydantic model or dataclass.

        Answers 415 for another content type and 400 listing the field errors.
        """
        data = (await self.form()).to_dict() if is_form(self.content_type) else await self.read_json()
        value: T = validate(model, data)
        return value

    def bind_query(self, model: type[T]) -> T:
        """Validate the query string into a pydantic model or dataclass (400 on field errors)."""
        value: T = validate(model, {k: v[0] if len(v) == 1 else v for k, v in self._parsed_query().items()})
        return value

    # --------------------------------------------------------------- response

    def status(self, code: int) -> None:
        self._status = code

    @property
    def response_status(self) -> int:
        return self._status

    @property
    def response_started(self) -> bool:
        return self._started

    @property
    def response_written(self) -> bool:
        """Whether a body was set (or a stream started) for this response: Gin's ``Writer.Written``."""
        return bool(self._body) or self._body_iter is not None or self._started

    def header(self, name: str, value: str) -> None:
        """Set a response header, replacing any of that name; an empty value removes it.

        The value is Latin-1 text (RFC 9110 section 5.5); other text, or CR and LF, raise ValueError
        saying what to do. ``set_cookie``, ``redirect`` and ``file`` encode their own values.
        """
        key = field_name(name)
        headers = [h for h in self._headers if h[0] != key]
        if value:
            headers.append((key, field_value(name, value)))
        self._headers = headers

    @property
    def response_headers(self) -> Headers:
        return Headers(self._headers)

    def _content_type(self, header: tuple[bytes, bytes]) -> None:
        self._headers = [h for h in self._headers if h[0] != b"content-type"]
        self._headers.append(header)

    def set_cookie(
        self,
        name: str,
        value: str,
        *,
        max_age: int | None = None,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = True,
        samesite: str | None = "Lax",
    ) -> None:
        """Add a ``Set-Cookie``; the value may be any text: it goes out escaped as Gin's ``SetCookie`` escapes
        it (``url.QueryEscape``), and ``c.cookie`` reads it back unescaped."""
        value_bytes = cookies.set_cookie(
            name,
            value,
            max_age=max_age,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )
        self._headers.append((b"set-cookie", value_bytes))

    def string(self, code: int, text: str) -> None:
        self._status = code
        if self._headers:  # most answers have no header yet: skip the call (the hot path)
            self._content_type(_TEXT)
        else:
            self._headers.append(_TEXT)
        self._body = text.encode()

    def json(self, code: int, obj: Any) -> None:
        self._status = code
        if self._headers:  # most answers have no header yet: skip the call (the hot path)
            self._content_type(_JSON_TYPE)
        else:
            self._headers.append(_JSON_TYPE)
        self._body = _JSON.encode(obj).encode()

    def data(self, code: int, content_type: str, body: bytes) -> None:
        self._status = code
        self._content_type((b"content-type", field_value("content-type", content_type)))
        self._body = body

    def data_from_reader(
        self, code: int, content_type: str, chunks: AsyncIterable[bytes], length: int | None = None
    ) -> None:
        """A body that comes from ``chunks`` once the chain returns (Gin's ``DataFromReader``), with
        ``Content-Length`` when ``length`` is given; sent chunk by chunk, until the client leaves."""
        self.data(code, content_type, b"")
        if length is not None:
            self.header("content-length", str(length))
        self._body_iter = chunks

    def html(self, code: int, template: str, **context: Any) -> None:
        """Render a template loaded with ``engine.load_templates`` (HTML is autoescaped)."""
        self._status = code
        self._content_type(_HTML)
        self._body = self.engine.templates.render(template, context).encode()

    def redirect(self, code: int, location: str) -> None:
        """Answer ``code`` with ``Location: location``; text a URI cannot hold is percent-encoded as UTF-8
        (RFC 3987 section 3.1), so ``/wiki/日本`` goes out as ``/wiki/%E6%97%A5%E6%9C%AC``."""
        if not (300 <= code <= 308 or code == 201):
            raise ValueError(f"cannot redirect with status {code}; use 301, 302, 303, 307 or 308")
        self._status = code
        self._headers = [h for h in self._headers if h[0] != b"location"]
        self._headers.append((b"location", uri_reference(location).encode("ascii")))

    def file(self, path: str, *, filename: str | None = None, attachment: bool = False) -> None:
        """Send a file: ``ETag`` and ``Last-Modified``, the preconditions of RFC 9110 section 13 (304, 412)
        and one byte range (206, 416)."""
        prepare_file(self, path, filename=filename, attachment=attachment)

    async def stream(
        self,
        code: int,
        chunks: AsyncIterable[bytes | str] | Iterable[bytes | str],
        content_type: str = "application/octet-stream",
    ) -> None:
        """Send the chunks as they come (chunked transfer); returns when they end or the client leaves.

        A generator is closed in either case, so its ``finally`` runs; plain iterables are iterated on the
        event loop, so one that blocks should be an async generator instead.
        """
        self._status = code
        self._content_type((b"content-type", field_value("content-type", content_type)))
        await self._stream(chunks, _encode_chunk)

    async def sse(self, events: AsyncIterable[SSEvent | str | dict[str, Any]]) -> None:
        """Server-sent events: each item becomes one event (str and dict as its data); returns when the
        events end or the client leaves."""
        self._status = 200
        self._content_type(_EVENT_STREAM)
        self.header("cache-control", "no-cache")
        self.header("x-accel-buffering", "no")
        await self._stream(events, _encode_event)

    async def _stream(self, items: AsyncIterable[Any] | Iterable[Any], encode: Callable[[Any], bytes]) -> None:
        self._started = True
        await self._send({"type": "http.response.start", "status": self._status, "headers": self._headers})
        await self._send_chunks(items, encode)

    async def _send_chunks(self, items: AsyncIterable[Any] | Iterable[Any], encode: Callable[[Any], bytes]) -> None:
        """Send ``items`` as the body until they end or the client leaves, whichever comes first.

        A server may go on accepting sends after the client left (uvicorn does), so the sender races a
        listener for ``http.disconnect`` (ASGI HTTP spec, "Disconnected Client"), as Starlette's
        StreamingResponse does, and the loser is cancelled.
        """
        listener = asyncio.ensure_future(self._body_source().disconnected())
        sender = asyncio.ensure_future(self._pump(items, encode))
        try:
            await asyncio.wait((sender, listener), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sender.cancel()
            listener.cancel()
            await asyncio.wait((sender, listener))
            if inspect.isasyncgen(items):
                await items.aclose()
            elif inspect.isgenerator(items):
                items.close()
        if not listener.cancelled():
            listener.exception()  # a receive that failed means the client is gone too
        if not sender.cancelled():
            error = sender.exception()
            if error is not None and not isinstance(error, OSError):  # OSError: the client went away
                raise error

    async def _pump(self, items: AsyncIterable[Any] | Iterable[Any], encode: Callable[[Any], bytes]) -> None:
        send = self._send
        async for item in _each(items):
            body = encode(item)
            if body:
                await send({"type": "http.response.body", "body": body, "more_body": True})
            await asyncio.sleep(0)  # let the disconnect listener, and other requests, run between chunks
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    # -------------------------------------------------------------- lifecycle

    def reset_response(self) -> bool:
        """Drop what the handlers wrote (status, headers, body) so an error answer starts clean.

        False when the response has already started, so nothing can change it any more. Used for every
        error answer: a ``gee.HTTPError``, Recovery's 500, and the engine's last-resort 500.
        """
        if self._started:
            return False
        self._status = 200
        self._headers = []
        self._body = b""
        self._body_iter = None
        return True

    async def send_response(self) -> None:
        """Send the buffered response (status, headers, body); the engine calls it when the chain returns.

        Does nothing once the response has started, as after a stream.
        """
        if self._started:
            return
        self._started = True
        status = self._status
        headers = self._headers
        body_iter = self._body_iter
        if body_iter is not None:
            await self._send({"type": "http.response.start", "status": status, "headers": headers})
            await self._send_chunks(body_iter, _same)
            return
        body = self._body
        if status in _NO_BODY_STATUSES or status < 200:
            body = b""
        else:
            headers.append((b"content-length", str(len(body)).encode()))
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})

    def close(self) -> None:
        """Release what the request holds: the temporary files of uploads. The engine calls it at the end."""
        if self._lazy is not None and self._lazy.form is not None:
            self._lazy.form.close()


async def _each(items: AsyncIterable[Any] | Iterable[Any]) -> AsyncIterator[Any]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


def _encode_chunk(chunk: bytes | str) -> bytes:
    return chunk.encode() if isinstance(chunk, str) else chunk


def _encode_event(event: SSEvent | str | dict[str, Any]) -> bytes:
    return (event if isinstance(event, SSEvent) else SSEvent(event)).encode()


def _same(chunk: bytes) -> bytes:
    return chunk

"""The per-request Context: the request, the response being built, and the handler chain.

A response is buffered on the context (status, headers, body) and sent once the
chain returns, so outer middleware can still read and change it in their
after-part, and Recovery can replace a half-built answer with a 500. Streams and
server-sent events are the exception: they start sending at once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, quote

from gee.errors import HTTPError
from gee.headers import Headers

if TYPE_CHECKING:
    from gee.engine import Engine
    from gee.forms import Form
    from gee.router import Route

T = TypeVar("T")
Handler = Callable[["Context"], Awaitable[Any]]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

ABORTED = 1 << 30
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_TEXT = (b"content-type", b"text/plain; charset=utf-8")
_JSON_TYPE = (b"content-type", b"application/json")
_HTML = (b"content-type", b"text/html; charset=utf-8")
_NO_BODY_STATUSES = frozenset({204, 304})


class ClientDisconnected(Exception):
    """The client went away before the request body was read; nothing is sent back."""


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
        self.body: bytes | None = None
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
        "_in_worker",
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
        param_values: list[str] | None = None,
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
        self._index = -1
        self._in_worker = False
        self._status = 200
        self._headers: list[tuple[bytes, bytes]] = []
        self._body = b""
        self._body_iter: AsyncIterator[bytes] | None = None
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
        """The request-body limit for this request: the engine's, unless a middleware changed it."""
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
        if self._in_worker:
            self._in_worker = False
            try:
                loop = self.engine.loop
                assert loop is not None  # set when the first request arrives
                asyncio.run_coroutine_threadsafe(self._run_chain(), loop).result()
            finally:
                self._in_worker = True
            return _DONE
        return self._run_chain()

    async def _run_chain(self) -> None:
        self._index += 1
        handlers = self._handlers
        while self._index < len(handlers):
            try:
                await handlers[self._index](self)
            except HTTPError as error:
                self._answer_error(error)
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

    @property
    def is_aborted(self) -> bool:
        return self._index >= ABORTED

    def _answer_error(self, error: HTTPError) -> None:
        self.errors.append(error)
        if not self._started:
            self._headers.clear()
            self._body_iter = None
            self.json(error.status, error.body())
        self.abort()

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
        extra = self._extra
        if extra.cookies is None:
            jar: SimpleCookie = SimpleCookie()
            for header in self.headers.get_all("cookie"):
                try:
                    jar.load(header)
                except Exception:  # a malformed cookie header is ignored, as browsers do
                    continue
            extra.cookies = {name: morsel.value for name, morsel in jar.items()}
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

    async def stream_body(self) -> AsyncIterator[bytes]:
        """The request body chunk by chunk, stopping with 413 past ``max_body_bytes``."""
        limit = self.max_body_bytes
        if limit is not None:
            declared = self.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise HTTPError(413, f"request body of {declared} bytes is over the limit of {limit} bytes")
        received = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            chunk = message.get("body", b"")
            received += len(chunk)
            if limit is not None and received > limit:
                raise HTTPError(413, f"request body is over the limit of {limit} bytes")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

    async def body(self) -> bytes:
        """The whole request body (read once, then cached)."""
        extra = self._extra
        if extra.body is None:
            extra.body = b"".join([chunk async for chunk in self.stream_body()])
        return extra.body

    async def read_json(self) -> Any:
        """The body parsed as JSON; malformed JSON answers 400 naming the problem."""
        raw = await self.body()
        try:
            return json.loads(raw)
        except UnicodeDecodeError as exc:
            raise HTTPError(400, f"request body is not UTF-8: {exc.reason} at byte {exc.start}") from exc
        except json.JSONDecodeError as exc:
            raise HTTPError(
                400, f"malformed JSON in request body: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from exc

    async def form(self) -> Form:
        """URL-encoded or multipart form fields, with uploaded files (closed after the response)."""
        extra = self._extra
        if extra.form is None:
            from gee.forms import parse_form

            extra.form = await parse_form(self)
        return extra.form

    async def bind(self, model: type[T]) -> T:
        """Validate the body (JSON or form, by content type) into a pydantic model or dataclass.

        Answers 415 for another content type and 400 listing the field errors.
        """
        from gee.binding import bind_body

        value: T = await bind_body(self, model)
        return value

    def bind_query(self, model: type[T]) -> T:
        """Validate the query string into a pydantic model or dataclass (400 on field errors)."""
        from gee.binding import validate

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

    def header(self, name: str, value: str) -> None:
        """Set a response header, replacing any of that name; an empty value removes it."""
        key = name.lower().encode("latin-1")
        self._headers = [h for h in self._headers if h[0] != key]
        if value:
            self._headers.append((key, value.encode("latin-1")))

    @property
    def response_headers(self) -> Headers:
        return Headers(self._headers)

    def _content_type(self, header: tuple[bytes, bytes]) -> None:
        headers = self._headers
        if headers:
            self._headers = headers = [h for h in headers if h[0] != b"content-type"]
        headers.append(header)

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
        jar: SimpleCookie = SimpleCookie()
        jar[name] = value
        morsel = jar[name]
        morsel["path"] = path
        if max_age is not None:
            morsel["max-age"] = max_age
        if domain:
            morsel["domain"] = domain
        if secure:
            morsel["secure"] = True
        if httponly:
            morsel["httponly"] = True
        if samesite:
            morsel["samesite"] = samesite
        self._headers.append((b"set-cookie", morsel.OutputString().encode("latin-1")))

    def string(self, code: int, text: str) -> None:
        self._status = code
        self._content_type(_TEXT)
        self._body = text.encode()

    def json(self, code: int, obj: Any) -> None:
        self._status = code
        self._content_type(_JSON_TYPE)
        self._body = _JSON.encode(obj).encode()

    def data(self, code: int, content_type: str, body: bytes) -> None:
        self._status = code
        self._content_type((b"content-type", content_type.encode("latin-1")))
        self._body = body

    def html(self, code: int, template: str, **context: Any) -> None:
        """Render a template loaded with ``engine.load_templates`` (HTML is autoescaped)."""
        self._status = code
        self._content_type(_HTML)
        self._body = self.engine.templates.render(template, context).encode()

    def redirect(self, code: int, location: str) -> None:
        if not (300 <= code <= 308 or code == 201):
            raise ValueError(f"cannot redirect with status {code}; use 301, 302, 303, 307 or 308")
        self._status = code
        self.header("location", location)

    def file(self, path: str, *, filename: str | None = None, attachment: bool = False) -> None:
        """Send a file with ETag / Last-Modified (answering 304) and byte ranges (206)."""
        from gee.files import prepare_file

        prepare_file(self, path, filename=filename, attachment=attachment)

    async def stream(
        self,
        code: int,
        chunks: AsyncIterable[bytes | str] | Iterable[bytes | str],
        content_type: str = "application/octet-stream",
    ) -> None:
        """Send the chunks as they come (chunked transfer); returns when they end or the client leaves."""
        self._status = code
        self._content_type((b"content-type", content_type.encode("latin-1")))
        await self._start_streaming()
        try:
            if isinstance(chunks, AsyncIterable):
                async for chunk in chunks:
                    await self._send_chunk(chunk)
            else:
                for chunk in chunks:
                    await self._send_chunk(chunk)
            await self._send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client went away: nothing more to send
            return

    async def sse(self, events: AsyncIterable[SSEvent | str | dict[str, Any]]) -> None:
        """Server-sent events: each item becomes one event (str and dict as its data)."""
        self.header("cache-control", "no-cache")
        self.header("x-accel-buffering", "no")

        async def encoded() -> AsyncIterator[bytes]:
            async for event in events:
                yield (event if isinstance(event, SSEvent) else SSEvent(event)).encode()

        await self.stream(200, encoded(), "text/event-stream; charset=utf-8")

    async def _send_chunk(self, chunk: bytes | str) -> None:
        body = chunk.encode() if isinstance(chunk, str) else chunk
        if body:
            await self._send({"type": "http.response.body", "body": body, "more_body": True})

    async def _start_streaming(self) -> None:
        self._started = True
        await self._send({"type": "http.response.start", "status": self._status, "headers": self._headers})

    async def _finish(self) -> None:
        """Send the buffered response, unless a stream already sent it."""
        if self._started:
            return
        self._started = True
        status = self._status
        headers = self._headers
        body_iter = self._body_iter
        if body_iter is not None:
            await self._send({"type": "http.response.start", "status": status, "headers": headers})
            async for chunk in body_iter:
                await self._send({"type": "http.response.body", "body": chunk, "more_body": True})
            await self._send({"type": "http.response.body", "body": b""})
            return
        body = self._body
        if status in _NO_BODY_STATUSES or status < 200:
            body = b""
        else:
            headers.append((b"content-length", str(len(body)).encode()))
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})

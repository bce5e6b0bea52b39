"""The Engine: the ASGI application, the root route group, and the server runner.

A request's whole life is ``Engine.__call__``, as Gin's ``ServeHTTP`` and ``handleHTTPRequest``: choose the
handler chain (a route's, or the redirect, 405, 404 or 400 one), run it on a new Context, send the answer, and
turn whatever fails on the way, the router's lookups included, into an error answer.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from gee.context import Context
from gee.errors import ClientDisconnected, HTTPError
from gee.group import HandlerFunc, RouterGroup
from gee.handlers import ensure_async, handler_name
from gee.headers import URI_CHARACTERS
from gee.router import PathDecodeError, Route, Router
from gee.templates import Templates
from gee.types import Handler, Receive, Scope, Send

log = logging.getLogger("gee")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Engine(RouterGroup):
    """A Gin-style web application; also an ASGI callable, so any ASGI server runs it.

    Options follow Gin's: ``redirect_trailing_slash`` (on) answers ``/users/`` with a
    redirect to ``/users`` when only that exists; ``handle_method_not_allowed`` (off)
    answers 405 with ``Allow`` instead of 404; ``max_body_bytes`` caps request bodies
    (413); ``trusted_proxies`` lists the proxies whose ``X-Forwarded-For`` is believed.
    """

    def __init__(
        self,
        *,
        redirect_trailing_slash: bool = True,
        handle_method_not_allowed: bool = False,
        max_body_bytes: int | None = 1 << 20,
        trusted_proxies: Iterable[str] = (),
        remote_ip_headers: Iterable[str] = ("X-Forwarded-For", "X-Real-IP"),
    ):
        super().__init__(None, "/", [])
        self._engine = self
        self.router = Router()
        self.redirect_trailing_slash = redirect_trailing_slash
        self.handle_method_not_allowed = handle_method_not_allowed
        if max_body_bytes is not None and max_body_bytes < 0:
            raise ValueError(f"max_body_bytes must be >= 0 or None, not {max_body_bytes}")
        self.max_body_bytes = max_body_bytes
        self.trusted_proxies: list[IPNetwork] = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]
        self.remote_ip_headers = tuple(remote_ip_headers)
        self._groups: list[RouterGroup] = [self]
        self._no_route: list[Handler] = []
        self._no_method: list[Handler] = []
        self._on_startup: list[Callable[[], Any]] = []
        self._on_shutdown: list[Callable[[], Any]] = []
        self._templates: Templates | None = None
        self.loop: asyncio.AbstractEventLoop | None = None  # set at start-up or by the first sync handler

    # ------------------------------------------------------------ registration

    def no_route(self, *handlers: HandlerFunc) -> None:
        """Handlers for 404s; they run after the middleware of the deepest group owning the path."""
        self._no_route = [ensure_async(h) for h in handlers]

    def no_method(self, *handlers: HandlerFunc) -> None:
        """Handlers for 405s (with ``handle_method_not_allowed``), after the engine's middleware."""
        self._no_method = [ensure_async(h) for h in handlers]

    def routes(self) -> list[RouteInfo]:
        return [RouteInfo(r) for r in self.router.routes()]

    def on_startup(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Run ``fn`` (plain or async) when the server starts (ASGI lifespan); usable as a decorator."""
        self._on_startup.append(fn)
        return fn

    def on_shutdown(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        self._on_shutdown.append(fn)
        return fn

    def load_templates(
        self,
        directory: str,
        *,
        filters: dict[str, Callable[..., Any]] | None = None,
        globals: dict[str, Any] | None = None,
    ) -> Templates:
        """Load Jinja2 templates from ``directory``; HTML, HTM and XML files are autoescaped."""
        self._templates = Templates(directory, filters=filters, globals=globals)
        return self._templates

    @property
    def templates(self) -> Templates:
        if self._templates is None:
            raise RuntimeError("no templates are loaded: call engine.load_templates(directory) before c.html()")
        return self._templates

    def is_trusted_proxy(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)

    # ---------------------------------------------------------------- serving

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, from the router's lookup to the last byte of the answer."""
        if scope["type"] != "http":
            await self._other(scope, receive, send)
            return
        c: Context | None = None
        try:
            # Route on the raw path, where an encoded '/' is still '%2F'; without escapes
            # it equals the decoded path. Some test transports leave the query on raw_path.
            raw = scope.get("raw_path")
            if raw is None:
                path = quote(scope["path"])
            elif b"%" in raw:
                path = raw.decode("latin-1").partition("?")[0]
            else:
                path = scope["path"]
            try:  # every lookup, the redirect's and the 405's included, answers an undecodable path with 400
                match = self.router.find(scope["method"], path)
                if match is not None:
                    route, values = match
                    handlers = route.handlers
                    c = Context(self, scope, receive, send, route, values, handlers)
                else:
                    handlers = self._unmatched(scope, path)
                    c = Context(self, scope, receive, send, None, None, handlers)
            except PathDecodeError as error:
                refuse = _refuse(HTTPError(400, f"{error}; percent-escapes in the path must encode UTF-8"))
                handlers = (*self.middleware, refuse)
                c = Context(self, scope, receive, send, None, None, handlers)
            try:  # the first handler directly (Gin's c.Next() from its index 0), then the rest of the chain
                await handlers[0](c)
            except HTTPError as error:
                c.abort_with_error(error)
            if len(handlers) > 1:
                await c.next()
            await c.send_response()
        except ClientDisconnected:
            return  # nobody is left to answer
        except Exception:
            log.exception(
                "unhandled error in %s %s (add gee.recovery() to answer it yourself)", scope["method"], scope["path"]
            )
            if c is None:
                c = Context(self, scope, receive, send)
            if c.reset_response():
                c.string(500, "Internal Server Error")
                await c.send_response()
        finally:
            if c is not None:
                c.close()

    async def _other(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:  # websockets are not served: close politely rather than crash the server
            await send({"type": "websocket.close", "code": 1003})

    def _unmatched(self, scope: Scope, path: str) -> tuple[Handler, ...]:
        """The chain for a path with no route: a redirect, 405 or 404 (each first sets its status)."""
        method = scope["method"]
        router = self.router
        if self.redirect_trailing_slash and path != "/":
            other = path[:-1] if path.endswith("/") else path + "/"
            if router.find(method, other) is not None:
                query = scope.get("query_string", b"")
                location = other + ("?" + quote(query, safe=URI_CHARACTERS) if query else "")
                return (_redirect(301 if method == "GET" else 308, location),)
        if self.handle_method_not_allowed:
            allowed = [m for m in router.methods() if m != method and router.find(m, path) is not None]
            if allowed:
                return (_method_not_allowed(allowed), *self.middleware, *self._no_method, _DEFAULT_405)
        owner = max((g for g in self._groups if _owns(g.prefix, scope["path"])), key=lambda g: len(g.prefix))
        return (_not_found, *owner.middleware, *self._no_route, _DEFAULT_404)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.loop = asyncio.get_running_loop()
                try:
                    await _call_all(self._on_startup)
                except Exception as exc:
                    log.exception("start-up hook failed")
                    await send({"type": "lifespan.startup.failed", "message": f"start-up hook failed: {exc!r}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await _call_all(self._on_shutdown)
                except Exception as exc:
                    log.exception("shut-down hook failed")
                    await send({"type": "lifespan.shutdown.failed", "message": f"shut-down hook failed: {exc!r}"})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        workers: int = 1,
        server: str = "uvicorn",
        **uvicorn_options: Any,
    ) -> None:
        """Serve on ``server``, ``"uvicorn"`` (httptools and uvloop when installed) or ``"granian"``; blocks until
        stopped.

        With uvicorn, several workers need the app as an import string, since each worker process imports it: pass
        ``app="package.module:engine"``; unless ``http`` is given, the protocol is ``gee.serving.guarded_protocol()``
        (deadlines for headers and bodies and a budget for bodies in flight); other keywords go to ``uvicorn.run``.
        With granian, workers are forked from this process and serve this engine; ``header_timeout`` is the only
        keyword (see ``gee.serving`` for what each server bounds, and docs/benchmarks.md for their speed).
        """
        from gee.serving import SERVERS, guarded_protocol, run_granian

        if server not in SERVERS:
            raise ValueError(f"server must be one of {', '.join(SERVERS)}, not {server!r}")
        if not logging.getLogger().handlers and not log.handlers:
            logging.basicConfig(level=logging.INFO, format="%(message)s")
        if server == "granian":
            unknown = set(uvicorn_options) - {"header_timeout"}
            if unknown:
                raise ValueError(f"granian takes header_timeout only, not {', '.join(sorted(unknown))}")
            run_granian(self, host, port, workers=workers, **uvicorn_options)
            return
        import uvicorn

        app: Any = uvicorn_options.pop("app", self)
        if workers > 1 and not isinstance(app, str):
            raise ValueError(
                'workers > 1 needs the engine as an import string, e.g. engine.run(workers=4, app="myapp:engine"), '
                "because every worker process imports it"
            )
        uvicorn_options.setdefault("access_log", False)  # gee.logger() writes the access log
        if "http" not in uvicorn_options:
            uvicorn_options["http"] = guarded_protocol()
        uvicorn.run(app, host=host, port=port, workers=workers, **uvicorn_options)


class RouteInfo:
    """One line of ``engine.routes()``: method, path and the name of the final handler."""

    __slots__ = ("handler", "handlers", "method", "path")

    def __init__(self, route: Route):
        self.method = route.method
        self.path = route.pattern
        self.handlers = route.handlers
        self.handler = handler_name(route.handlers[-1])

    def __repr__(self) -> str:
        return f"{self.method:<7} {self.path} --> {self.handler} ({len(self.handlers)} handlers)"


def _owns(prefix: str, path: str) -> bool:
    return prefix == "/" or path == prefix.rstrip("/") or path.startswith(prefix.rstrip("/") + "/")


def _default_body(text: str) -> Handler:
    """The last handler of a 404/405 chain: Gin's default text, if nothing wrote a body."""

    async def default_body(c: Context) -> None:
        if not c.response_written:
            c.string(c.response_status, text)

    return default_body


_DEFAULT_404 = _default_body("404 page not found")
_DEFAULT_405 = _default_body("405 method not allowed")


async def _not_found(c: Context) -> None:
    c.status(404)


def _method_not_allowed(allowed: list[str]) -> Handler:
    async def method_not_allowed(c: Context) -> None:
        c.header("allow", ", ".join(allowed))
        c.status(405)

    return method_not_allowed


def _redirect(code: int, location: str) -> Handler:
    async def redirect(c: Context) -> None:
        c.redirect(code, location)

    return redirect


def _refuse(error: HTTPError) -> Handler:
    async def refuse(c: Context) -> None:
        raise error

    return refuse


async def _call_all(hooks: list[Callable[[], Any]]) -> None:
    for hook in hooks:
        result = hook()
        if inspect.isawaitable(result):
            await result


def default(**options: Any) -> Engine:
    """An Engine with the Logger and Recovery middleware, as Gin's ``gin.Default()``."""
    from gee.middleware import logger, recovery

    engine = Engine(**options)
    engine.use(logger(), recovery())
    return engine

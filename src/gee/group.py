"""RouterGroup: a path prefix with its own middleware; groups nest, and the Engine is the root one."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from gee.handlers import ensure_async
from gee.types import Handler

if TYPE_CHECKING:
    from gee.engine import Engine
    from gee.router import Route

HandlerFunc = Callable[..., Any]
F = TypeVar("F", bound=HandlerFunc)
ANY_METHODS = ("GET", "POST", "PUT", "PATCH", "HEAD", "OPTIONS", "DELETE", "CONNECT", "TRACE")


def join_paths(prefix: str, path: str) -> str:
    """Join a group prefix and a route path, keeping a trailing slash that the path asks for."""
    if not path:
        return prefix
    joined = posixpath.join(prefix, path.lstrip("/")) if path != "/" else prefix.rstrip("/") + "/"
    if path.endswith("/") and not joined.endswith("/"):
        joined += "/"
    return joined if joined.startswith("/") else "/" + joined


class _Registrar:
    """``group.get`` and friends, bound: ``(path, *handlers)`` registers, ``(path)`` is a decorator."""

    def __init__(self, group: RouterGroup, methods: tuple[str, ...]):
        self._group = group
        self._methods = methods

    @overload
    def __call__(self, path: str) -> Callable[[F], F]: ...
    @overload
    def __call__(self, path: str, handler: HandlerFunc, /, *handlers: HandlerFunc) -> RouterGroup: ...
    def __call__(self, path: str, *handlers: HandlerFunc) -> Any:
        return self._group._register(self._methods, path, handlers)


class _Method:
    """A route-registering method of RouterGroup for one or several HTTP methods."""

    def __init__(self, *methods: str):
        self.methods = methods

    def __get__(self, group: RouterGroup | None, owner: type | None = None) -> _Registrar:
        if group is None:
            raise AttributeError("call the route methods on a group or engine instance")
        return _Registrar(group, self.methods)


class RouterGroup:
    """Routes registered on a group get the group's prefix and, before their own handlers,
    the middleware of the group and of every group above it.

    As in Gin, a route takes the middleware that are in place when it is registered:
    call ``use`` before adding the routes it should cover.
    """

    def __init__(self, engine: Engine | None, prefix: str, middleware: list[Handler]):
        self._engine = engine
        self.prefix = prefix
        self.middleware = middleware

    @property
    def engine(self) -> Engine:
        assert self._engine is not None
        return self._engine

    def use(self, *middleware: HandlerFunc) -> RouterGroup:
        """Add middleware to this group (and to groups created from it afterwards)."""
        self.middleware.extend(ensure_async(m) for m in middleware)
        return self

    def group(self, prefix: str, *middleware: HandlerFunc) -> RouterGroup:
        child = RouterGroup(self.engine, join_paths(self.prefix, prefix), [*self.middleware])
        child.use(*middleware)
        self.engine._groups.append(child)
        return child

    def add_route(self, method: str, path: str, *handlers: HandlerFunc) -> Route:
        if not handlers:
            raise TypeError(f"{method} {path}: give at least one handler")
        chain = [*self.middleware, *(ensure_async(h) for h in handlers)]
        return self.engine.router.add(method, join_paths(self.prefix, path), chain)

    def _register(self, methods: tuple[str, ...], path: str, handlers: tuple[HandlerFunc, ...]) -> Any:
        """With handlers, register them; without, act as a decorator (``@r.get("/")``)."""
        if handlers:
            for method in methods:
                self.add_route(method, path, *handlers)
            return self

        def decorator(handler: F) -> F:
            for method in methods:
                self.add_route(method, path, handler)
            return handler

        return decorator

    get = _Method("GET")
    post = _Method("POST")
    put = _Method("PUT")
    patch = _Method("PATCH")
    delete = _Method("DELETE")
    head = _Method("HEAD")
    options = _Method("OPTIONS")
    any = _Method(*ANY_METHODS)  # every method, as Gin's ``Any``

    def static(self, prefix: str, directory: str) -> RouterGroup:
        """Serve files under ``directory`` at ``prefix/...`` (GET and HEAD); nothing outside it."""
        from gee.files import static_handler

        handler = static_handler(directory)
        pattern = join_paths(prefix, "*filepath")
        self.add_route("GET", pattern, handler)
        self.add_route("HEAD", pattern, handler)
        return self

    def static_file(self, path: str, file: str) -> RouterGroup:
        """Serve one file at ``path`` (GET and HEAD)."""
        from gee.files import static_file_handler

        handler = static_file_handler(file)
        self.add_route("GET", path, handler)
        self.add_route("HEAD", path, handler)
        return self

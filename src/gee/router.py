"""A trie router over path segments, in the manner of Gin's.

Each HTTP method has its own tree. A node is a plain dict, for speed: static
segments map to child nodes, and three non-string keys hold the rest: ``PARAM``
(the ``:name`` child), ``WILDCARD`` (a ``*name`` route, always a leaf) and ``ROUTE``
(the route ending at this node). Priority is static, then param, then wildcard,
with backtracking, so a static and a param segment may sit side by side (as Gin
allows since 1.7).

Matching runs first as a greedy walk (static child if any, else the param child).
When the greedy walk finds a route it is the same route a full depth-first search
would find first, so the backtracking search only runs when the greedy walk fails.
The leading empty segment of every path is a segment like any other, so the walk
needs no special case for the root.
Routes without parameters are also kept in a flat dict per method, so a static
lookup is one dict probe.

Matching runs on the raw (still percent-encoded) path, as Gin does with
``UseRawPath``: an encoded slash (``%2F``) stays inside its segment, and segments
are decoded after the split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

PARAM = None
ROUTE = 0
WILDCARD = 1

Node = dict[Any, Any]


class RouteConflictError(ValueError):
    """Raised at registration when a new route cannot live beside an existing one."""


class PathDecodeError(ValueError):
    """The request path holds a percent-escape that is not valid UTF-8."""


class Route:
    """A registered route: what the router hands back on a match."""

    __slots__ = ("handlers", "method", "param_names", "pattern")

    def __init__(self, method: str, pattern: str, handlers: Sequence[Any], param_names: tuple[str, ...]):
        self.method = method
        self.pattern = pattern
        self.handlers = tuple(handlers)
        self.param_names = param_names

    def __repr__(self) -> str:
        return f"Route({self.method} {self.pattern}, {len(self.handlers)} handlers)"


Match = tuple[Route, list[str]]


def _decode_segment(segment: str) -> str:
    if "%" not in segment:
        return segment
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError as exc:
        raise PathDecodeError(f"path segment {segment!r} is not valid percent-encoded UTF-8") from exc


def _search(node: Node, segments: list[str], i: int, values: list[str]) -> Route | None:
    """Depth-first match of ``segments[i:]``; on failure ``values`` is left as it was."""
    if i == len(segments):
        return node.get(ROUTE)
    segment = segments[i]
    child = node.get(segment)
    if child is not None:
        found = _search(child, segments, i + 1, values)
        if found is not None:
            return found
    child = node.get(PARAM)
    if child is not None and segment:
        values.append(segment)
        found = _search(child, segments, i + 1, values)
        if found is not None:
            return found
        values.pop()
    wildcard: Route | None = node.get(WILDCARD)
    if wildcard is not None:
        values.append("/" + "/".join(segments[i:]))
    return wildcard


class Router:
    """Registers routes and matches request paths against them."""

    def __init__(self) -> None:
        self._roots: dict[str, Node] = {}
        self._static: dict[str, dict[str, Route]] = {}
        self._param_names: dict[int, tuple[str, str]] = {}  # id(param node) -> (name, a pattern using it)
        self._routes: list[Route] = []

    def add(self, method: str, pattern: str, handlers: Sequence[Any]) -> Route:
        """Register ``handlers`` for ``method`` and ``pattern``; raises RouteConflictError on a clash."""
        method = method.upper()
        if not pattern.startswith("/"):
            raise ValueError(f"route {pattern!r} must begin with '/'; write '/{pattern}'")
        segments = pattern.split("/")  # the leading '' is a segment too: the tree's root has one child
        node = self._roots.setdefault(method, {})
        names: list[str] = []
        for position, segment in enumerate(segments):
            if segment.startswith("*"):
                names.append(self._check_name(pattern, segment, names))
                if position != len(segments) - 1:
                    raise RouteConflictError(f"route {pattern!r}: the wildcard '{segment}' must be the last segment")
                existing = node.get(WILDCARD)
                if existing is not None:
                    raise RouteConflictError(
                        f"{method} {pattern} conflicts with {method} {existing.pattern}: "
                        "both put a wildcard at the same position"
                    )
                route = node[WILDCARD] = Route(method, pattern, handlers, tuple(names))
                self._routes.append(route)
                return route
            if segment.startswith(":"):
                name = self._check_name(pattern, segment, names)
                child = node.get(PARAM)
                if child is None:
                    child = node[PARAM] = {}
                    self._param_names[id(child)] = (name, pattern)
                else:
                    known, known_pattern = self._param_names[id(child)]
                    if known != name:
                        raise RouteConflictError(
                            f"{method} {pattern} conflicts with {method} {known_pattern}: ':{name}' and "
                            f"':{known}' name the same path segment differently; use one name"
                        )
                names.append(name)
                node = child
            else:
                if "*" in segment:
                    raise ValueError(f"route {pattern!r}: '{segment}' mixes text and a wildcard in one segment")
                node = node.setdefault(segment, {})
        existing = node.get(ROUTE)
        if existing is not None:
            raise RouteConflictError(f"{method} {pattern} is already registered (as {method} {existing.pattern})")
        route = node[ROUTE] = Route(method, pattern, handlers, tuple(names))
        if not names:
            self._static.setdefault(method, {})[pattern] = route
        self._routes.append(route)
        return route

    @staticmethod
    def _check_name(pattern: str, segment: str, names: list[str]) -> str:
        name = segment[1:]
        if not name:
            raise ValueError(f"route {pattern!r}: '{segment}' needs a name, as in ':id' or '*filepath'")
        if name in names:
            raise RouteConflictError(f"route {pattern!r} names the parameter '{name}' twice")
        return name

    def find(self, method: str, path: str) -> Match | None:
        """Match a raw request path; parameter values come back percent-decoded.

        Raises PathDecodeError when the path holds an escape that is not UTF-8, whatever the method, so a
        path answers alike for every method (the engine answers 400).
        """
        static = self._static.get(method)
        if static is not None:
            route = static.get(path)
            if route is not None:
                return route, []
        segments = path.split("/")
        if "%" in path:
            segments = [_decode_segment(s) for s in segments]
        root = self._roots.get(method)
        if root is None:
            return None
        # Greedy walk, inlined for speed: the static child if any, else the param child.
        values: list[str] = []
        node = root
        for segment in segments:
            child = node.get(segment)
            if child is None:
                child = node.get(PARAM)
                if child is None or not segment:
                    break
                values.append(segment)
            node = child
        else:
            route = node.get(ROUTE)
            if route is not None:
                return route, values
        values.clear()
        route = _search(root, segments, 0, values)
        return None if route is None else (route, values)

    def methods(self) -> list[str]:
        return sorted(self._roots)

    def routes(self) -> list[Route]:
        return list(self._routes)

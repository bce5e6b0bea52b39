"""A trie router over path segments, in the manner of Gin's.

Each HTTP method has its own tree. A node is a plain dict, for speed: static
segments map to child nodes, and three non-string keys hold the rest: ``PARAM``
(the ``:name`` child), ``WILDCARD`` (a ``*name`` route, always a leaf) and ``ROUTE``
(the route ending at this node). Priority is static, then param, then wildcard,
with backtracking, so a static and a param segment may sit side by side (as Gin
allows since 1.7).

Matching does not walk the tree: each method's tree is compiled, on the first
request after a change, into one Python function of nested ``if`` statements
(Falcon's CompiledRouter does the same), whose order is the priority order, so
falling through a branch is the backtracking. On the go-http-routing-benchmark
sets this takes 0.8-0.9 of the time of a walk over the dicts (docs/benchmarks.md).
Routes without parameters are also kept in a flat dict per method, so a static
lookup is one dict probe.

Matching runs on the raw (still percent-encoded) path, as Gin does with
``UseRawPath``: an encoded slash (``%2F``) stays inside its segment, and segments
are decoded after the split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


Match = tuple[Route, tuple[str, ...]]


def _decode_segment(segment: str) -> str:
    if "%" not in segment:
        return segment
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError as exc:
        raise PathDecodeError(f"path segment {segment!r} is not valid percent-encoded UTF-8") from exc


Matcher = Callable[[list[str], int], "Match | None"]
FUNCTION_DEPTH = 16  # tree levels per generated function: Python's parser caps nesting at 100 indents


def _compile(root: Node) -> Matcher:
    """One method's tree as a function ``match(segments, len(segments))``.

    Each node becomes: its route if the path ends here, else the next segment against
    the static children (a chain of ``==`` tests), then the param child (a non-empty
    segment), then the wildcard, in that order, each branch falling through to the
    next when nothing below it matches. Parameter values are read by position, as
    ``s[2]``. Every ``FUNCTION_DEPTH`` levels the subtree moves into a function of
    its own, so no route is too deep to compile. Literals go through ``repr``; the
    routes are passed in a list, never written into the source.
    """
    constants: list[Any] = []
    functions: list[str] = []

    def ref(route: Route) -> str:
        constants.append(route)
        return f"R[{len(constants) - 1}]"

    def function(node: Node, depth: int, params: list[int]) -> str:
        index = len(functions)
        functions.append("")  # the slot is taken now: the subtrees' functions come after it
        lines = [f"def match_{index}(s, n):"]
        emit(lines, node, depth, params, 1, depth + FUNCTION_DEPTH)
        lines.append("    return None")
        functions[index] = "\n".join(lines)
        return f"match_{index}"

    def emit(lines: list[str], node: Node, depth: int, params: list[int], indent: int, limit: int) -> None:
        pad = "    " * indent
        values = "".join(f"s[{j}], " for j in params)
        route = node.get(ROUTE)
        if route is not None:
            lines += [f"{pad}if n == {depth}:", f"{pad}    return {ref(route)}, ({values})"]
        statics = [key for key in node if isinstance(key, str)]
        param, wildcard = node.get(PARAM), node.get(WILDCARD)
        if not statics and param is None and wildcard is None:
            return
        segment = f"x{depth}"
        lines += [f"{pad}if n > {depth}:", f"{pad}    {segment} = s[{depth}]"]
        children = [(f"{segment} == {key!r}", node[key], params) for key in statics]
        if param is not None:
            children.append((segment, param, [*params, depth]))  # a param never matches an empty segment
        for test, child, child_params in children:
            lines.append(f"{pad}    if {test}:")
            if depth + 1 == limit:
                lines += [
                    f"{pad}        found = {function(child, depth + 1, child_params)}(s, n)",
                    f"{pad}        if found is not None:",
                    f"{pad}            return found",
                ]
                continue
            size = len(lines)
            emit(lines, child, depth + 1, child_params, indent + 2, limit)
            if len(lines) == size:
                lines.append(f"{pad}        pass")
        if wildcard is not None:
            lines.append(f"{pad}    return {ref(wildcard)}, ({values}'/' + '/'.join(s[{depth}:]),)")

    entry = function(root, 0, [])
    namespace: dict[str, Any] = {"R": constants}
    exec("\n\n".join(functions), namespace)  # the source is built above from the tree; literals via repr
    matcher: Matcher = namespace[entry]
    return matcher


class Router:
    """Registers routes and matches request paths against them."""

    def __init__(self) -> None:
        self._roots: dict[str, Node] = {}
        self._static: dict[str, dict[str, Route]] = {}
        self._matchers: dict[str, Matcher] = {}  # per method, compiled on the first find after a change
        self._param_names: dict[int, tuple[str, str]] = {}  # id(param node) -> (name, a pattern using it)
        self._routes: list[Route] = []

    def add(self, method: str, pattern: str, handlers: Sequence[Any]) -> Route:
        """Register ``handlers`` for ``method`` and ``pattern``; raises RouteConflictError on a clash."""
        method = method.upper()
        self._matchers.pop(method, None)
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
                return route, ()
        segments = path.split("/")
        if "%" in path:
            segments = [_decode_segment(s) for s in segments]
        matcher = self._matchers.get(method)
        if matcher is None:
            root = self._roots.get(method)
            if root is None:
                return None
            matcher = self._matchers[method] = _compile(root)
        return matcher(segments, len(segments))

    def methods(self) -> list[str]:
        return sorted(self._roots)

    def routes(self) -> list[Route]:
        return list(self._routes)

"""Router speed: nanoseconds per match over real route sets, beside peer routers.

Every route of each set in ../shared/data/routes (the go-http-routing-benchmark
sets) is requested once per pass, with each ``:param`` filled with a sample value.
Peers run in the same process, interleaved over several rounds; medians are
reported with the ratio to Falcon's CompiledRouter and to a plain dict lookup
(the floor: what a lookup costs when no matching is needed at all).

    python benchmarks/gee_router.py [--rounds 7] [--routes DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import time
from collections.abc import Callable

from gee.router import Router

from common import header, interleaved, median

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ROUTES = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "routes"))
SETS = ("github", "static", "parse", "gplus")
PARAM = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")


def load(path: str) -> list[tuple[str, str]]:
    with open(path) as f:
        return [(method, pattern) for method, pattern in (line.split() for line in f if line.strip())]


def requests_for(routes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(method, PARAM.sub("sample", pattern)) for method, pattern in routes]


def gee_matcher(routes: list[tuple[str, str]]) -> Callable[[str, str], object]:
    router = Router()
    for method, pattern in routes:
        router.add(method, pattern, [pattern])
    return router.find


def falcon_matcher(routes: list[tuple[str, str]]) -> Callable[[str, str], object]:
    from falcon.routing import CompiledRouter

    router = CompiledRouter()
    seen = set()
    for _, pattern in routes:  # falcon routes by path to a resource; methods live on the resource
        template = PARAM.sub(r"{\1}", pattern)
        if template not in seen:
            seen.add(template)
            router.add_route(template, object())
    find = router.find
    return lambda method, path: find(path)


def starlette_matcher(routes: list[tuple[str, str]]) -> Callable[[str, str], object]:
    from starlette.routing import Match, Route

    async def endpoint(request: object) -> None:
        return None

    compiled = [Route(PARAM.sub(r"{\1}", pattern), endpoint, methods=[method]) for method, pattern in routes]

    def find(method: str, path: str) -> object:
        # What starlette.routing.Router does per request: try each route in order.
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        partial = None
        for route in compiled:
            matched, child_scope = route.matches(scope)
            if matched is Match.FULL:
                return route, child_scope
            if matched is Match.PARTIAL and partial is None:
                partial = route
        return partial

    return find


def dict_matcher(routes: list[tuple[str, str]]) -> Callable[[str, str], object]:
    table = {request: pattern for request, (_, pattern) in zip(requests_for(routes), routes, strict=True)}
    get = table.get
    return lambda method, path: get((method, path))


MATCHERS = {"gee": gee_matcher, "falcon": falcon_matcher, "starlette": starlette_matcher, "dict": dict_matcher}


def timer(find: Callable[[str, str], object], requests: list[tuple[str, str]], passes: int) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter_ns()
        for _ in range(passes):
            for method, path in requests:
                find(method, path)
        return (time.perf_counter_ns() - start) / (passes * len(requests))

    return run


def check(name: str, find: Callable[[str, str], object], requests: list[tuple[str, str]]) -> None:
    missing = [r for r in requests if find(*r) is None]
    if missing:
        raise SystemExit(f"{name} matched none of {missing[:3]}: the benchmark would measure misses")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--routes", default=DEFAULT_ROUTES, help="folder with github.txt, static.txt, ...")
    args = parser.parse_args()
    if not os.path.isdir(args.routes):
        raise SystemExit(f"route sets not found at {args.routes}; pass --routes DIR")
    print(header(["falcon", "starlette"]))
    print()
    print("| route set | routes | gee ns/match | falcon | starlette | dict floor | gee / falcon | gee / dict |")
    print("|---|---|---|---|---|---|---|---|")
    for name in SETS:
        routes = load(os.path.join(args.routes, f"{name}.txt"))
        requests = requests_for(routes)
        passes = max(1, 20_000 // len(requests))
        candidates = {}
        for label, make in MATCHERS.items():
            find = make(routes)
            check(label, find, requests)
            candidates[label] = timer(find, requests, passes if label != "starlette" else max(1, passes // 20))
        results = {label: median(values) for label, values in interleaved(candidates, args.rounds).items()}
        print(
            f"| {name} | {len(routes)} | {results['gee']:.0f} | {results['falcon']:.0f} | "
            f"{results['starlette']:.0f} | {results['dict']:.0f} | {results['gee'] / results['falcon']:.2f} | "
            f"{results['gee'] / results['dict']:.2f} |"
        )


if __name__ == "__main__":
    main()

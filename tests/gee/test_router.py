import pytest

from gee.router import PathDecodeError, RouteConflictError, Router


def make(*patterns: str) -> Router:
    router = Router()
    for pattern in patterns:
        router.add("GET", pattern, [pattern])
    return router


def match(router: Router, path: str, method: str = "GET") -> tuple[str, dict[str, str]] | None:
    found = router.find(method, path)
    if found is None:
        return None
    route, values = found
    return route.pattern, dict(zip(route.param_names, values, strict=True))


def test_static_param_and_wildcard_routes_match():
    r = make("/", "/users", "/users/:id", "/users/:id/posts/:post", "/src/*filepath")
    assert match(r, "/") == ("/", {})
    assert match(r, "/users") == ("/users", {})
    assert match(r, "/users/42") == ("/users/:id", {"id": "42"})
    assert match(r, "/users/42/posts/7") == ("/users/:id/posts/:post", {"id": "42", "post": "7"})
    assert match(r, "/src/a/b/c.txt") == ("/src/*filepath", {"filepath": "/a/b/c.txt"})
    assert match(r, "/src/") == ("/src/*filepath", {"filepath": "/"})
    assert match(r, "/nope") is None
    assert match(r, "/users/42/posts") is None


def test_static_beats_param_beats_wildcard():
    r = make("/users/new", "/users/:id", "/users/*rest")
    assert match(r, "/users/new") == ("/users/new", {})
    assert match(r, "/users/5") == ("/users/:id", {"id": "5"})
    assert match(r, "/users/5/x") == ("/users/*rest", {"rest": "/5/x"})


def test_backtracks_from_a_static_dead_end_into_the_param():
    r = make("/a/b/c", "/a/:x/d")
    assert match(r, "/a/b/d") == ("/a/:x/d", {"x": "b"})
    assert match(r, "/a/b/c") == ("/a/b/c", {})


def test_backtracks_from_param_into_wildcard():
    r = make("/f/:name/edit", "/f/*path")
    assert match(r, "/f/x/edit") == ("/f/:name/edit", {"name": "x"})
    assert match(r, "/f/x/view") == ("/f/*path", {"path": "/x/view"})


def test_param_does_not_match_an_empty_segment():
    r = make("/users/:id")
    assert match(r, "/users/") is None
    assert match(r, "/users//") is None


def test_trailing_slash_is_a_different_route():
    r = make("/users/")
    assert match(r, "/users/") == ("/users/", {})
    assert match(r, "/users") is None


def test_methods_have_separate_trees():
    r = Router()
    r.add("GET", "/x/:id", ["get"])
    r.add("POST", "/x/:id", ["post"])
    found = r.find("POST", "/x/1")
    assert found is not None and found[0].handlers == ("post",)
    assert r.find("PUT", "/x/1") is None
    assert r.methods() == ["GET", "POST"]


def test_params_are_percent_decoded_after_the_split():
    r = make("/keys/:key", "/files/*path", "/caf\u00e9")
    assert match(r, "/keys/a%2Fb") == ("/keys/:key", {"key": "a/b"})
    assert match(r, "/keys/caf%C3%A9%20x") == ("/keys/:key", {"key": "caf\u00e9 x"})
    assert match(r, "/files/a%2Fb/c") == ("/files/*path", {"path": "/a/b/c"})
    assert match(r, "/caf%C3%A9") == ("/caf\u00e9", {})


def test_undecodable_escape_raises():
    r = make("/keys/:key")
    with pytest.raises(PathDecodeError, match="UTF-8"):
        r.find("GET", "/keys/%ff")


def test_duplicate_route_names_both():
    r = make("/users/:id")
    with pytest.raises(RouteConflictError, match=r"GET /users/:id is already registered"):
        r.add("GET", "/users/:id", ["again"])


def test_conflicting_param_names_name_both_routes():
    r = make("/users/:id")
    with pytest.raises(RouteConflictError) as err:
        r.add("GET", "/users/:name/posts", ["x"])
    assert "/users/:name/posts" in str(err.value) and "/users/:id" in str(err.value)


def test_wildcard_must_be_last():
    with pytest.raises(RouteConflictError, match="must be the last segment"):
        make("/src/*path/more")


def test_two_wildcards_at_one_position_conflict():
    r = make("/src/*path")
    with pytest.raises(RouteConflictError, match="/src/\\*path"):
        r.add("GET", "/src/*other", ["x"])


@pytest.mark.parametrize(
    ("pattern", "message"),
    [("users", "must begin with '/'"), ("/a/:", "needs a name"), ("/a/*", "needs a name"), ("/a/b*c", "wildcard")],
)
def test_malformed_patterns_are_refused(pattern, message):
    with pytest.raises(ValueError, match=message):
        make(pattern)


def test_same_param_twice_in_one_route_is_refused():
    with pytest.raises(RouteConflictError, match="twice"):
        make("/a/:id/b/:id")


def test_routes_lists_every_registration():
    r = make("/a", "/b/:id", "/c/*x")
    assert [route.pattern for route in r.routes()] == ["/a", "/b/:id", "/c/*x"]


def reference_match(patterns: list[str], path: str) -> tuple[str, dict[str, str]] | None:
    """The priority rule stated without a tree: of the patterns that match ``path``, the one whose segments, read
    left to right, are static before param before wildcard at the first position where two differ."""
    segments = path.split("/")
    best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
    for pattern in patterns:
        parts = pattern.split("/")
        wildcard = parts[-1].startswith("*")
        if (len(segments) < len(parts)) if wildcard else (len(segments) != len(parts)):
            continue
        kinds, values = [], {}
        for part, segment in zip(parts, segments, strict=False):  # a wildcard ends the pattern early
            if part.startswith("*"):
                kinds.append(2)
                values[part[1:]] = "/" + "/".join(segments[len(parts) - 1 :])
            elif part.startswith(":"):
                if not segment:
                    break
                kinds.append(1)
                values[part[1:]] = segment
            elif part == segment:
                kinds.append(0)
            else:
                break
        else:
            if best is None or tuple(kinds) < best[0]:
                best = (tuple(kinds), pattern, values)
    return None if best is None else (best[1], best[2])


def test_priority_and_backtracking_agree_with_the_rule_on_random_route_sets():
    import random

    rng = random.Random(7)
    words = ["a", "b", "c", ""]
    for _ in range(300):
        patterns: set[str] = set()
        router = Router()
        for _ in range(rng.randint(1, 12)):
            depth = rng.randint(1, 5)
            parts = []
            for position in range(depth):
                kind = rng.random()
                last = position == depth - 1
                if last and kind < 0.15:
                    parts.append("*w")
                elif kind < 0.45:
                    parts.append(f":p{position}")  # one name per position: no name conflicts
                else:
                    parts.append(rng.choice(words[:3]))
            pattern = "/" + "/".join(parts)
            try:
                router.add("GET", pattern, [pattern])
            except RouteConflictError:
                continue
            patterns.add(pattern)
        for _ in range(40):
            path = "/" + "/".join(rng.choice(words) for _ in range(rng.randint(1, 7)))
            assert match(router, path) == reference_match(sorted(patterns), path), (sorted(patterns), path)


def test_routes_deeper_than_one_generated_function_match():
    deep = "/" + "/".join(f"s{i}/:p{i}" for i in range(30))  # 61 segments: the matcher splits into functions
    r = make(deep, "/s0/:p0/*rest")
    path = "/" + "/".join(f"s{i}/v{i}" for i in range(30))
    assert match(r, path) == (deep, {f"p{i}": f"v{i}" for i in range(30)})
    assert match(r, path + "/more") == ("/s0/:p0/*rest", {"p0": "v0", "rest": path.split("/v0", 1)[1] + "/more"})


def test_a_route_added_after_matching_is_found():
    r = make("/a/:x")
    assert match(r, "/b/1") is None
    r.add("GET", "/b/:y", ["/b/:y"])
    assert match(r, "/b/1") == ("/b/:y", {"y": "1"})
    assert match(r, "/a/1") == ("/a/:x", {"x": "1"})

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

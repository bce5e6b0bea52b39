import gee
from gee.group import join_paths
from gee.testing import TestClient


def recorder(log: list[str], name: str):
    async def middleware(c: gee.Context) -> None:
        log.append(f"{name} before")
        await c.next()
        log.append(f"{name} after")

    return middleware


def test_join_paths_keeps_a_trailing_slash_the_route_asks_for():
    assert join_paths("/", "/users") == "/users"
    assert join_paths("/api", "users/") == "/api/users/"
    assert join_paths("/api/", "/") == "/api/"
    assert join_paths("/api", "") == "/api"


def test_groups_nest_prefixes_and_run_middleware_in_onion_order():
    log: list[str] = []
    r = gee.Engine()
    r.use(recorder(log, "engine"))
    api = r.group("/api", recorder(log, "api"))
    v1 = api.group("/v1", recorder(log, "v1"))

    @v1.get("/ping")
    async def ping(c: gee.Context) -> None:
        log.append("handler")
        c.string(200, "pong")

    with TestClient(r) as client:
        assert client.get("/api/v1/ping").text == "pong"
    assert log == ["engine before", "api before", "v1 before", "handler", "v1 after", "api after", "engine after"]


def test_group_middleware_does_not_leak_to_sibling_groups():
    log: list[str] = []
    r = gee.Engine()
    r.group("/a", recorder(log, "a")).get("/x", lambda c: c.string(200, "a"))
    r.group("/b").get("/x", lambda c: c.string(200, "b"))
    with TestClient(r) as client:
        assert client.get("/b/x").text == "b"
        assert log == []
        assert client.get("/a/x").text == "a"
        assert log == ["a before", "a after"]


def test_abort_stops_inner_handlers_but_outer_middleware_finish():
    log: list[str] = []
    r = gee.Engine()
    r.use(recorder(log, "outer"))

    async def guard(c: gee.Context) -> None:
        c.abort_with_json(403, {"error": "forbidden"})

    async def never(c: gee.Context) -> None:
        log.append("inner ran")

    r.get("/secret", guard, never)
    with TestClient(r) as client:
        response = client.get("/secret")
    assert response.status_code == 403 and response.json() == {"error": "forbidden"}
    assert log == ["outer before", "outer after"]


def test_handlers_that_do_not_call_next_still_continue_the_chain():
    r = gee.Engine()

    async def tag(c: gee.Context) -> None:
        c.set("tag", "set by middleware")

    r.use(tag)
    r.get("/", lambda c: c.string(200, c.get("tag")))
    with TestClient(r) as client:
        assert client.get("/").text == "set by middleware"


def test_sync_middleware_wraps_the_rest_of_the_chain():
    log: list[str] = []
    r = gee.Engine()

    def sync_middleware(c: gee.Context) -> None:
        log.append("sync before")
        c.next()
        log.append(f"sync after {c.response_status}")

    r.use(sync_middleware)

    @r.get("/")
    async def handler(c: gee.Context) -> None:
        log.append("async handler")
        c.string(201, "made")

    with TestClient(r) as client:
        assert client.get("/").status_code == 201
    assert log == ["sync before", "async handler", "sync after 201"]


def test_decorator_and_positional_registration_and_any():
    r = gee.Engine()
    r.any("/any", lambda c: c.string(200, c.method))

    @r.post("/items")
    async def create(c: gee.Context) -> None:
        c.json(201, await c.read_json())

    with TestClient(r) as client:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            assert client.request(method, "/any").text == method
        assert client.post("/items", json={"a": 1}).json() == {"a": 1}

import logging

import pytest

import gee
from gee.testing import AsyncTestClient, TestClient


def test_not_found_runs_engine_and_owning_group_middleware():
    seen: list[str] = []
    r = gee.Engine()

    async def mark(c: gee.Context) -> None:
        seen.append("engine")

    async def api_mark(c: gee.Context) -> None:
        seen.append("api")

    r.use(mark)
    api = r.group("/api", api_mark)
    api.get("/known", lambda c: c.string(200, "ok"))
    with TestClient(r) as client:
        response = client.get("/api/unknown")
        assert response.status_code == 404 and response.text == "404 page not found"
        assert seen == ["engine", "api"]
        seen.clear()
        assert client.get("/elsewhere").status_code == 404
        assert seen == ["engine"]


def test_no_route_handlers_can_answer_the_404():
    r = gee.Engine()
    r.no_route(lambda c: c.json(404, {"error": "no such page", "path": c.path}))
    with TestClient(r) as client:
        response = client.get("/x")
    assert response.status_code == 404 and response.json() == {"error": "no such page", "path": "/x"}


def test_method_not_allowed_when_enabled():
    r = gee.Engine(handle_method_not_allowed=True)
    r.get("/thing", lambda c: c.string(200, "got"))
    r.put("/thing", lambda c: c.string(200, "put"))
    with TestClient(r) as client:
        response = client.post("/thing")
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, PUT"
        assert response.text == "405 method not allowed"
        assert client.post("/other").status_code == 404


def test_method_not_allowed_is_a_404_by_default_as_in_gin():
    r = gee.Engine()
    r.get("/thing", lambda c: c.string(200, "got"))
    with TestClient(r) as client:
        assert client.post("/thing").status_code == 404


def test_no_method_handlers_answer_405():
    r = gee.Engine(handle_method_not_allowed=True)
    r.get("/thing", lambda c: c.string(200, "got"))
    r.no_method(lambda c: c.json(405, {"error": "wrong method"}))
    with TestClient(r) as client:
        response = client.delete("/thing")
    assert response.status_code == 405 and response.json() == {"error": "wrong method"}


def test_trailing_slash_redirects_301_for_get_and_308_otherwise():
    r = gee.Engine()
    r.get("/users", lambda c: c.string(200, "users"))
    r.post("/users", lambda c: c.string(200, "posted"))
    r.get("/dir/", lambda c: c.string(200, "dir"))
    with TestClient(r, follow_redirects=False) as client:
        response = client.get("/users/?page=2")
        assert response.status_code == 301 and response.headers["location"] == "/users?page=2"
        response = client.post("/users/")
        assert response.status_code == 308 and response.headers["location"] == "/users"
        response = client.get("/dir")
        assert response.status_code == 301 and response.headers["location"] == "/dir/"


def test_trailing_slash_redirect_can_be_turned_off():
    r = gee.Engine(redirect_trailing_slash=False)
    r.get("/users", lambda c: c.string(200, "users"))
    with TestClient(r, follow_redirects=False) as client:
        assert client.get("/users/").status_code == 404


def test_undecodable_path_answers_400():
    r = gee.Engine()
    r.get("/keys/:key", lambda c: c.string(200, c.param("key")))
    with TestClient(r) as client:
        response = client.get("/keys/%ff%fe")
    assert response.status_code == 400
    assert "UTF-8" in response.json()["error"]


def test_exception_without_recovery_still_answers_500_and_is_logged(caplog):
    r = gee.Engine()

    @r.get("/boom")
    async def boom(c: gee.Context) -> None:
        raise RuntimeError("secret detail")

    r.get("/ok", lambda c: c.string(200, "fine"))
    with caplog.at_level(logging.ERROR, logger="gee"), TestClient(r) as client:
        response = client.get("/boom")
        assert response.status_code == 500 and "secret detail" not in response.text
        assert client.get("/ok").text == "fine"
    assert "secret detail" in caplog.text


def test_lifespan_hooks_run_in_order():
    events: list[str] = []
    r = gee.Engine()
    r.on_startup(lambda: events.append("sync start"))

    @r.on_startup
    async def start() -> None:
        events.append("async start")

    r.on_shutdown(lambda: events.append("stop"))
    with TestClient(r):
        assert events == ["sync start", "async start"]
    assert events == ["sync start", "async start", "stop"]


def test_failing_startup_hook_is_reported():
    r = gee.Engine()

    @r.on_startup
    def broken() -> None:
        raise ValueError("no database")

    with pytest.raises(RuntimeError, match="no database"), TestClient(r):
        pass


def test_routes_lists_method_path_and_handler():
    r = gee.Engine()

    async def list_users(c: gee.Context) -> None:
        c.string(200, "")

    r.group("/api").get("/users", list_users)
    (info,) = r.routes()
    assert (info.method, info.path) == ("GET", "/api/users")
    assert info.handler.endswith("list_users")


def test_run_with_workers_needs_an_import_string():
    with pytest.raises(ValueError, match="import string"):
        gee.Engine().run(workers=2)


def test_default_has_logger_and_recovery(caplog):
    r = gee.default()
    r.get("/boom", lambda c: 1 / 0)
    with caplog.at_level(logging.INFO), TestClient(r) as client:
        assert client.get("/boom").status_code == 500
    assert "ZeroDivisionError" in caplog.text
    assert "| 500 |" in caplog.text


@pytest.mark.anyio
async def test_async_test_client():
    r = gee.Engine()
    r.get("/", lambda c: c.string(200, "async"))
    async with AsyncTestClient(r) as client:
        assert (await client.get("/")).text == "async"


def test_websocket_scope_is_closed_not_crashed():
    import asyncio

    r = gee.Engine()
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "websocket.connect"}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(r({"type": "websocket", "path": "/"}, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1003}]


@pytest.mark.parametrize("handle_method_not_allowed", [True, False])
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
@pytest.mark.parametrize("path", ["/x%FF", "/x%FF/", "/x/%FF", "/%C3", "/x%ff%fe"])
def test_undecodable_path_answers_400_from_every_lookup(handle_method_not_allowed, method, path):
    # Every lookup (the route's, the trailing-slash redirect's and the 405's) decodes the path, so a path that
    # cannot be decoded answers 400 whatever the method and whichever lookup meets it first.
    r = gee.Engine(handle_method_not_allowed=handle_method_not_allowed)
    r.get("/x", lambda c: c.string(200, "x"))
    with TestClient(r) as client:
        response = client.request(method, path)
    assert response.status_code == 400
    assert "UTF-8" in response.json()["error"]


def test_undecodable_path_runs_the_engine_middleware_so_the_logger_sees_the_400(caplog):
    r = gee.default(handle_method_not_allowed=True)
    r.get("/x", lambda c: c.string(200, "x"))
    with caplog.at_level(logging.INFO, logger="gee.access"), TestClient(r) as client:
        assert client.post("/x%FF").status_code == 400
    assert any("| 400 |" in rec.getMessage() for rec in caplog.records if rec.name == "gee.access")


def test_undecodable_path_over_real_http_answers_400_not_500(serve):
    from tests.conftest import raw_request

    r = gee.default(handle_method_not_allowed=True)
    r.get("/x", lambda c: c.string(200, "x"))
    with serve(r) as url:
        for line in (b"POST /x%FF HTTP/1.1", b"PUT /x%FF/ HTTP/1.1", b"GET /x%FF HTTP/1.1"):
            answer = raw_request(url, line + b"\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 400 "), answer[:80]
            assert b"UTF-8" in answer


def test_method_not_allowed_chain_sees_its_status_and_allow_header():
    seen: list[tuple[int, str]] = []
    r = gee.Engine(handle_method_not_allowed=True)

    async def watch(c: gee.Context) -> None:
        seen.append((c.response_status, c.response_headers.get("allow", "")))

    r.use(watch)
    r.get("/thing", lambda c: c.string(200, "got"))
    with TestClient(r) as client:
        assert client.post("/thing").status_code == 405
    assert seen == [(405, "GET")]


def test_trailing_slash_redirect_keeps_the_query_as_sent():
    r = gee.Engine()
    r.get("/wiki/:page", lambda c: c.string(200, c.param("page")))
    with TestClient(r, follow_redirects=False) as client:
        response = client.get("/wiki/%E6%97%A5/?q=%E6%9C%AC&x=a+b")
    assert response.status_code == 301
    assert response.headers["location"] == "/wiki/%E6%97%A5?q=%E6%9C%AC&x=a+b"


def test_http_error_raised_by_middleware_still_lets_outer_middleware_finish():
    order: list[str] = []
    r = gee.Engine()

    async def outer(c: gee.Context) -> None:
        await c.next()
        order.append(f"outer saw {c.response_status}")

    async def refuse(c: gee.Context) -> None:
        c.header("x-half-built", "yes")
        raise gee.HTTPError(403, "not you")

    r.use(outer, refuse)
    r.get("/", lambda c: order.append("handler"))
    with TestClient(r) as client:
        response = client.get("/")
    assert response.status_code == 403 and response.json() == {"error": "not you"}
    assert "x-half-built" not in response.headers
    assert order == ["outer saw 403"]


def test_client_that_leaves_while_the_body_is_read_gets_no_answer_and_recovery_stays_quiet(caplog):
    import asyncio

    r = gee.default()

    @r.post("/upload")
    async def upload(c: gee.Context) -> None:
        c.string(200, str(len(await c.body())))

    sent: list[dict] = []
    messages = [{"type": "http.request", "body": b"part", "more_body": True}, {"type": "http.disconnect"}]

    async def receive() -> dict:
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/upload", "raw_path": b"/upload", "headers": []}
    with caplog.at_level(logging.ERROR):
        asyncio.run(r(scope, receive, send))
    assert sent == []
    assert "recovered" not in caplog.text and "unhandled" not in caplog.text

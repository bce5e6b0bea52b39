import asyncio
import dataclasses

import pytest

import gee
from gee.testing import TestClient


def app_with(path: str, handler, method: str = "GET", **engine_options) -> TestClient:
    r = gee.Engine(**engine_options)
    r.add_route(method, path, handler)
    return TestClient(r)


def test_request_fields():
    async def handler(c: gee.Context) -> None:
        c.json(
            200,
            {
                "method": c.method,
                "path": c.path,
                "full_path": c.full_path,
                "params": c.params,
                "id": c.param("id"),
                "missing": c.param("nope"),
                "q": c.query("q"),
                "default": c.query("absent", "fallback"),
                "tags": c.query_list("tag"),
                "agent": c.headers.get("User-Agent"),
                "cookie": c.cookie("session"),
                "client": c.client_ip,
            },
        )

    with app_with("/users/:id/*rest", handler) as client:
        body = client.get(
            "/users/7/a/b?q=x&tag=1&tag=2", headers={"user-agent": "t", "cookie": "session=abc; other=1"}
        ).json()
    assert body == {
        "method": "GET",
        "path": "/users/7/a/b",
        "full_path": "/users/:id/*rest",
        "params": {"id": "7", "rest": "/a/b"},
        "id": "7",
        "missing": "",
        "q": "x",
        "default": "fallback",
        "tags": ["1", "2"],
        "agent": "t",
        "cookie": "abc",
        "client": "127.0.0.1",
    }


def test_set_and_get_carry_values_along_the_chain():
    r = gee.Engine()

    async def auth(c: gee.Context) -> None:
        c.set("user", "ada")

    r.get("/", auth, lambda c: c.string(200, f"{c.get('user')} {c.get('none', 'dflt')} {sorted(c.keys)}"))
    with TestClient(r) as client:
        assert client.get("/").text == "ada dflt ['user']"


@pytest.mark.parametrize(
    ("trusted", "forwarded", "expected"),
    [
        ((), "203.0.113.9", "127.0.0.1"),  # untrusted peer: header ignored
        (("127.0.0.1",), "203.0.113.9", "203.0.113.9"),
        (("127.0.0.0/8", "10.0.0.0/8"), "203.0.113.9, 10.1.2.3", "203.0.113.9"),  # walks past trusted hops
        (("127.0.0.1",), "not-an-ip", "127.0.0.1"),
    ],
)
def test_client_ip_believes_forwarded_for_only_from_trusted_proxies(trusted, forwarded, expected):
    with app_with("/", lambda c: c.string(200, c.client_ip), trusted_proxies=trusted) as client:
        assert client.get("/", headers={"x-forwarded-for": forwarded}).text == expected


def test_body_and_read_json():
    async def echo(c: gee.Context) -> None:
        c.json(200, {"raw": (await c.body()).decode(), "parsed": await c.read_json()})

    with app_with("/", echo, "POST") as client:
        assert client.post("/", content=b'{"a": [1, 2]}').json() == {"raw": '{"a": [1, 2]}', "parsed": {"a": [1, 2]}}


@pytest.mark.parametrize(
    ("body", "message"),
    [(b'{"a": ', "malformed JSON in request body: Expecting value at line 1 column 7"), (b"\xff", "not UTF-8")],
)
def test_malformed_json_answers_400_naming_the_problem(body, message):
    async def echo(c: gee.Context) -> None:
        c.json(200, await c.read_json())

    with app_with("/", echo, "POST") as client:
        response = client.post("/", content=body)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_body_over_the_limit_answers_413():
    async def echo(c: gee.Context) -> None:
        c.string(200, str(len(await c.body())))

    with app_with("/", echo, "POST", max_body_bytes=10) as client:
        assert client.post("/", content=b"x" * 10).text == "10"
        response = client.post("/", content=b"x" * 11)
        assert response.status_code == 413
        assert "limit of 10 bytes" in response.json()["error"]

        def chunks():
            yield b"x" * 6
            yield b"x" * 6

        assert client.post("/", content=chunks()).status_code == 413


def test_responses_are_gin_style_with_the_status_first():
    r = gee.Engine()
    r.get("/string", lambda c: c.string(201, "héllo"))
    r.get("/json", lambda c: c.json(202, {"k": "é", "n": [1]}))
    r.get("/data", lambda c: c.data(200, "image/png", b"\x89PNG"))
    r.get("/status", lambda c: c.status(204))
    r.get("/redirect", lambda c: c.redirect(302, "/string"))

    def headers(c: gee.Context) -> None:
        c.header("X-One", "1")
        c.header("X-One", "2")
        c.header("X-Gone", "x")
        c.header("X-Gone", "")
        c.set_cookie("session", "abc", max_age=60, secure=True)
        c.string(200, "h")

    r.get("/headers", headers)
    with TestClient(r, follow_redirects=False) as client:
        response = client.get("/string")
        assert (response.status_code, response.text) == (201, "héllo")
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        response = client.get("/json")
        assert response.status_code == 202 and response.content == '{"k":"é","n":[1]}'.encode()
        assert response.headers["content-type"] == "application/json"
        assert client.get("/data").headers["content-type"] == "image/png"
        response = client.get("/status")
        assert response.status_code == 204 and response.content == b"" and "content-length" not in response.headers
        assert client.get("/redirect").headers["location"] == "/string"
        response = client.get("/headers")
        assert response.headers["x-one"] == "2" and "x-gone" not in response.headers
        cookie = response.headers["set-cookie"]
        assert "session=abc" in cookie and "Max-Age=60" in cookie and "Secure" in cookie and "HttpOnly" in cookie


def test_redirect_refuses_a_non_redirect_status():
    r = gee.Engine()
    r.get("/", lambda c: c.redirect(200, "/x"))
    with TestClient(r) as client:
        assert client.get("/").status_code == 500


def test_http_error_from_a_handler_becomes_its_status():
    r = gee.Engine()

    async def handler(c: gee.Context) -> None:
        raise gee.HTTPError(409, "already exists", id=3)

    r.get("/", handler)
    with TestClient(r) as client:
        response = client.get("/")
    assert response.status_code == 409 and response.json() == {"error": "already exists", "id": 3}


def test_stream_sends_chunks_as_they_come():
    async def numbers(c: gee.Context) -> None:
        async def gen():
            for i in range(3):
                await asyncio.sleep(0)
                yield f"{i}\n"

        await c.stream(200, gen(), "text/plain")

    with app_with("/", numbers) as client:
        response = client.get("/")
    assert response.text == "0\n1\n2\n" and "content-length" not in response.headers


def test_server_sent_events():
    async def events(c: gee.Context) -> None:
        async def gen():
            yield "plain"
            yield {"n": 1}
            yield gee.SSEvent("multi\nline", event="update", id="7", retry=100)

        await c.sse(gen())

    with app_with("/", events) as client:
        response = client.get("/")
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.text == (
        'data: plain\n\ndata: {"n":1}\n\nevent: update\nid: 7\nretry: 100\ndata: multi\ndata: line\n\n'
    )


def test_bind_query_validates_into_a_dataclass():
    @dataclasses.dataclass
    class Page:
        page: int
        size: int = 10

    with app_with("/", lambda c: c.json(200, dataclasses.asdict(c.bind_query(Page)))) as client:
        assert client.get("/?page=2").json() == {"page": 2, "size": 10}
        response = client.get("/?page=two")
        assert response.status_code == 400
        assert response.json()["fields"][0]["field"] == "page"


def test_a_plain_function_that_returns_a_coroutine_is_awaited():
    async def events():
        yield "one"

    r = gee.Engine()
    r.get("/events", lambda c: c.sse(events()))
    r.get("/stream", lambda c: c.stream(200, [b"a", "b"], "text/plain"))
    with TestClient(r) as client:
        assert client.get("/events").text == "data: one\n\n"
        assert client.get("/stream").text == "ab"


def test_data_from_reader_is_sent_after_the_chain_with_its_length():
    async def chunks():
        yield b"hello "
        yield b"world"

    r = gee.Engine()

    async def stamp(c: gee.Context) -> None:
        await c.next()
        c.header("x-written", str(c.response_written))

    r.use(stamp)
    r.get("/", lambda c: c.data_from_reader(200, "text/plain", chunks(), 11))
    r.get("/none", lambda c: c.status(204))
    with TestClient(r) as client:
        response = client.get("/")
        assert response.text == "hello world" and response.headers["content-length"] == "11"
        assert response.headers["x-written"] == "True"
        assert client.get("/none").headers["x-written"] == "False"


def test_abort_with_error_and_reset_response():
    r = gee.Engine()

    async def guard(c: gee.Context) -> None:
        c.header("x-partial", "1")
        c.abort_with_error(gee.HTTPError(409, "busy", retry=True))

    r.get("/", guard, lambda c: c.string(200, "never"))

    @r.get("/reset")
    async def reset(c: gee.Context) -> None:
        c.header("x-partial", "1")
        c.string(201, "half")
        assert c.reset_response()
        c.string(200, "clean")

    with TestClient(r) as client:
        response = client.get("/")
        assert response.status_code == 409 and response.json() == {"error": "busy", "retry": True}
        assert "x-partial" not in response.headers
        response = client.get("/reset")
        assert (response.status_code, response.text, "x-partial" in response.headers) == (200, "clean", False)

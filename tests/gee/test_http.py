"""The bad-input answers again, over real HTTP: uvicorn (httptools, uvloop) on 127.0.0.1."""

import os

import httpx
import pytest
from pydantic import BaseModel

import gee

from tests.conftest import raw_request


class Item(BaseModel):
    name: str


@pytest.fixture
def app(tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    (public / "ok.txt").write_text("public")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", public / "link.txt")
    (tmp_path / "t.html").write_text("<b>{{ v }}</b>")
    r = gee.default(max_body_bytes=1024)
    r.load_templates(str(tmp_path))
    r.static("/static", str(public))

    @r.post("/json")
    async def echo_json(c: gee.Context) -> None:
        c.json(200, await c.read_json())

    @r.post("/items")
    async def create(c: gee.Context) -> None:
        c.json(201, (await c.bind(Item)).model_dump())

    @r.get("/boom")
    async def boom(c: gee.Context) -> None:
        raise RuntimeError("kaboom")

    r.get("/keys/:key", lambda c: c.string(200, c.param("key")))
    r.get("/t", lambda c: c.html(200, "t.html", v=c.query("v")))
    return r


def test_bad_input_over_real_http(serve, app):
    with serve(app) as url, httpx.Client(base_url=url) as client:
        response = client.post("/json", content=b"{oops")
        assert response.status_code == 400 and "malformed JSON" in response.json()["error"]
        assert client.post("/items", content=b"name=x", headers={"content-type": "text/plain"}).status_code == 415
        assert client.post("/items", json={"name": 3}).status_code == 400
        assert client.post("/items", json={"name": "ok"}).json() == {"name": "ok"}
        assert client.get("/boom").status_code == 500
        assert client.get("/keys/a%2Fb").text == "a/b"  # the next request is served
        assert client.get("/t", params={"v": "<i>x</i>"}).text == "<b>&lt;i&gt;x&lt;/i&gt;</b>"
        assert client.get("/static/ok.txt").text == "public"
        assert client.get("/static/link.txt").status_code == 404
        assert client.post("/json", content=b"x" * 2000).status_code == 413


def test_raw_requests_httpx_would_normalise(serve, app):
    with serve(app) as url:
        for path in (b"/static/../secret.txt", b"/static/%2e%2e/secret.txt", b"/static/..%2F..%2Fsecret.txt"):
            answer = raw_request(url, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 404"), answer[:60]
            assert b"secret" not in answer.split(b"\r\n\r\n", 1)[1]
        answer = raw_request(url, b"GET /keys/%ff HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400") and b"UTF-8" in answer


def test_oversized_body_is_refused_before_it_is_read(serve, app):
    with serve(app) as url:
        head = b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
        # Only the headers and a few bytes are sent: the answer comes without the rest of the body.
        answer = raw_request(url, head + b"[1,2,3", read_until_close=False)
        assert answer.startswith(b"HTTP/1.1 413")
        with httpx.Client(base_url=url) as client:
            assert client.get("/static/ok.txt").text == "public"

"""Every body reader goes through one source, kept once read: readers may follow one another in any order.

Served by uvicorn on 127.0.0.1, where a reader that waits for a body already taken never answers; every request
has a deadline (httpx's timeout), so a regression fails instead of hanging.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import BaseModel

import gee

from tests.conftest import running_server

MULTIPART = {"data": {"name": "Ada", "note": "héllo"}, "files": {"upload": ("notes.txt", b"file body", "text/plain")}}


class Person(BaseModel):
    name: str
    note: str = ""


async def read_body_first(c: gee.Context) -> None:
    c.set("seen", len(await c.body()))


async def show_form(c: gee.Context) -> dict[str, object]:
    form = await c.form()
    return {k: v if isinstance(v, str) else (await v.read()).decode() for k, v in form.items_list()}


def engine(max_body_bytes: int | None) -> gee.Engine:
    r = gee.Engine(max_body_bytes=max_body_bytes)
    mw = r.group("/after-body", read_body_first)

    @mw.post("/form")
    async def form_after_body(c: gee.Context) -> None:
        c.json(200, {"seen": c.get("seen"), "form": await show_form(c)})

    @mw.post("/bind")
    async def bind_after_body(c: gee.Context) -> None:
        c.json(200, (await c.bind(Person)).model_dump())

    @mw.post("/json")
    async def json_after_body(c: gee.Context) -> None:
        c.json(200, await c.read_json())

    @mw.post("/stream")
    async def stream_after_body(c: gee.Context) -> None:
        c.string(200, b"".join([chunk async for chunk in c.stream_body()]).decode())

    @r.post("/form-then-body")
    async def form_then_body(c: gee.Context) -> None:
        form = await show_form(c)
        body = await c.body()
        again = await c.form() is await c.form()
        c.json(200, {"form": form, "bytes": len(body), "same": await c.body() is body, "form kept": again})

    @r.post("/json-then-bind")
    async def json_then_bind(c: gee.Context) -> None:
        first = await c.read_json()
        c.json(200, {"first": first, "bound": (await c.bind(Person)).model_dump()})

    @r.post("/part-then-body")
    async def part_then_body(c: gee.Context) -> None:
        stream = c.stream_body()
        first = await anext(stream)
        body = await c.body()
        rest = b"".join([chunk async for chunk in stream])
        c.json(200, {"first": len(first), "body": len(body), "first+rest": len(first) + len(rest)})

    @r.post("/stream-then-body")
    async def stream_then_body(c: gee.Context) -> None:
        streamed = b"".join([chunk async for chunk in c.stream_body()])
        try:
            c.json(200, {"streamed": len(streamed), "body": len(await c.body())})
        except RuntimeError as error:
            c.json(200, {"streamed": len(streamed), "error": str(error)})

    return r


@pytest.fixture(scope="module")
def limited() -> Iterator[httpx.Client]:
    with running_server(engine(1 << 20)) as url, httpx.Client(base_url=url, timeout=5) as client:
        yield client


@pytest.fixture(scope="module")
def unlimited() -> Iterator[httpx.Client]:
    with running_server(engine(None)) as url, httpx.Client(base_url=url, timeout=5) as client:
        yield client


@pytest.mark.parametrize("client_name", ["limited", "unlimited"])
def test_a_form_after_a_middleware_read_the_body(request, client_name):
    client = request.getfixturevalue(client_name)
    response = client.post("/after-body/form", **MULTIPART)
    assert response.status_code == 200
    body = response.json()
    assert body["form"] == {"name": "Ada", "note": "héllo", "upload": "file body"}
    assert body["seen"] > 0
    urlencoded = client.post("/after-body/form", data={"name": "Ada"})
    assert urlencoded.json()["form"] == {"name": "Ada"}


@pytest.mark.parametrize("client_name", ["limited", "unlimited"])
def test_bind_json_and_stream_after_a_middleware_read_the_body(request, client_name):
    client = request.getfixturevalue(client_name)
    assert client.post("/after-body/bind", **MULTIPART).json() == {"name": "Ada", "note": "héllo"}
    assert client.post("/after-body/bind", json={"name": "Bo"}).json() == {"name": "Bo", "note": ""}
    assert client.post("/after-body/json", json={"a": [1, 2]}).json() == {"a": [1, 2]}
    assert client.post("/after-body/stream", content=b"x" * 100_000).text == "x" * 100_000


@pytest.mark.parametrize("client_name", ["limited", "unlimited"])
def test_the_body_after_a_form_and_a_form_twice(request, client_name):
    client = request.getfixturevalue(client_name)
    request_ = client.build_request("POST", "/form-then-body", **MULTIPART)
    response = client.send(request_)
    expected_form = {"name": "Ada", "note": "héllo", "upload": "file body"}
    if client_name == "limited":
        assert response.json() == {
            "form": expected_form,
            "bytes": len(request_.read()),
            "same": True,
            "form kept": True,
        }
    else:  # with no limit a multipart body is streamed and not kept: the second reader is told so
        assert response.status_code == 500


def test_bind_after_read_json():
    with running_server(engine(1 << 20)) as url, httpx.Client(base_url=url, timeout=5) as client:
        response = client.post("/json-then-bind", json={"name": "Cy"})
    assert response.json() == {"first": {"name": "Cy"}, "bound": {"name": "Cy", "note": ""}}


def test_a_partly_streamed_body_then_the_whole_body(limited):
    def chunks() -> Iterator[bytes]:
        yield b"a" * 1000
        yield b"b" * 2000
        yield b"c" * 3000

    answer = limited.post("/part-then-body", content=chunks()).json()
    assert answer["body"] == 6000 and answer["first+rest"] == 6000


def test_a_streamed_body_is_kept_under_a_limit_and_without_one_a_second_reader_is_told_why(limited, unlimited):
    assert limited.post("/stream-then-body", content=b"z" * 5000).json() == {"streamed": 5000, "body": 5000}
    answer = unlimited.post("/stream-then-body", content=b"z" * 5000).json()
    assert answer["streamed"] == 5000
    assert "already streamed" in answer["error"] and "await c.body()" in answer["error"]


def test_over_the_limit_every_reader_gets_the_413():
    with (
        running_server(engine(10)) as url,
        httpx.Client(base_url=url, timeout=5) as client,
    ):
        assert client.post("/after-body/json", content=b"[" + b"1," * 20 + b"1]").status_code == 413
        assert client.post("/form-then-body", data={"name": "x" * 50}).status_code == 413

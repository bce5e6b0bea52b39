"""Cookies as Gin has them: read as Go's net/http reads the Cookie header (RFC 6265 section 5.4: a malformed
pair is skipped, the others kept), written with the value escaped as Gin's SetCookie does (url.QueryEscape)."""

import httpx
import pytest

import gee
from gee.cookies import parse_cookies, set_cookie
from gee.testing import TestClient

from tests.conftest import running_server


def cookie_app() -> gee.Engine:
    r = gee.Engine()
    r.get("/cookies", lambda c: c.json(200, c.cookies))

    @r.get("/set")
    async def set_one(c: gee.Context) -> None:
        c.set_cookie("v", c.query("value") or "")
        c.string(200, "set")

    @r.get("/get")
    async def get_one(c: gee.Context) -> None:
        c.string(200, c.cookie("v", "(none)") or "")

    return r


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a=1; x y=2; d=3", {"a": "1", "d": "3"}),  # a name with a space: that pair only is skipped
        ("a=1; cart[1]=2; theme=dark", {"a": "1", "theme": "dark"}),  # '[' is not a token character
        ("path=/x; domain=example.org; expires=now", {"path": "/x", "domain": "example.org", "expires": "now"}),
        ("a=1;;b=2; ;c=3", {"a": "1", "b": "2", "c": "3"}),
        ('q="quoted"; r=""; s="', {"q": "quoted", "r": ""}),  # quotes stripped; a lone '"' is not a value
        ('bad=x"y; ok=1; semi=a\\b', {"ok": "1"}),  # '"' and '\' are outside cookie-octet
        ("a=1; a=2", {"a": "1"}),  # the first of a name wins (the most specific cookie comes first)
        ("flag; a=1", {"flag": "", "a": "1"}),
        (" a = 1 ", {"a": " 1"}),  # the name is trimmed, the value kept as sent (Go)
        ("=nameless; a=1", {"a": "1"}),
        ("café=1; a=1", {"a": "1"}),  # a non-ASCII name
        ("v=caf\u00e9; a=1", {"a": "1"}),  # a non-ASCII byte in the value
        ("v=%E6%97%A5%E6%9C%AC; w=a+b; x=100%25", {"v": "日本", "w": "a b", "x": "100%"}),  # Gin's QueryUnescape
        ("y=%zz; z=%FF", {"y": "%zz", "z": "%FF"}),  # not an escaped UTF-8 text: kept as sent
        ("tok=YWJj/ZA==; list=a,b", {"tok": "YWJj/ZA==", "list": "a,b"}),
    ],
)
def test_cookie_header_skips_only_the_malformed_pair(header, expected):
    assert parse_cookies([header]) == expected
    with TestClient(cookie_app()) as client:
        assert client.get("/cookies", headers={"cookie": header.encode("latin-1")}).json() == expected


def test_several_cookie_headers_are_read_in_order():
    assert parse_cookies(["a=1; b=2", "c=3; a=4"]) == {"a": "1", "b": "2", "c": "3"}


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("日本語", "v=%E6%97%A5%E6%9C%AC%E8%AA%9E"),
        ("café", "v=caf%C3%A9"),
        ("a b;c,d=e", "v=a+b%3Bc%2Cd%3De"),
        ('"quoted"\\', "v=%22quoted%22%5C"),
        ("plain-value_1.2~", "v=plain-value_1.2~"),
        ("", "v="),
    ],
)
def test_set_cookie_escapes_the_value_as_gin_does_and_reads_it_back(value, sent):
    with TestClient(cookie_app()) as client:
        response = client.get("/set", params={"value": value})
        assert response.status_code == 200
        header = response.headers["set-cookie"]
        assert header == f"{sent}; Path=/; HttpOnly; SameSite=Lax"
        assert header.isascii()
        assert client.get("/get", headers={"cookie": header.split(";")[0]}).text == value


def test_set_cookie_attributes_in_gos_order():
    header = set_cookie(
        "session", "abc", max_age=60, path="/app", domain="example.org", secure=True, httponly=True, samesite="strict"
    )
    assert header == b"session=abc; Path=/app; Domain=example.org; Max-Age=60; HttpOnly; Secure; SameSite=Strict"
    expired = set_cookie("s", "", max_age=-1, path="/", domain=None, secure=False, httponly=False, samesite=None)
    assert expired == b"s=; Path=/; Max-Age=0"


def test_set_cookie_encodes_path_and_international_domain():
    header = set_cookie(
        "s", "1", max_age=None, path="/wiki/日本;x", domain="例え.jp", secure=False, httponly=False, samesite="None"
    )
    assert header == b"s=1; Path=/wiki/%E6%97%A5%E6%9C%AC%3Bx; Domain=xn--r8jz45g.jp; SameSite=None"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"name": "x y"}, "is not a token"),
        ({"name": "名前"}, "is not a token"),
        ({"samesite": "sometimes"}, "samesite must be"),
        ({"domain": "exa mple.org"}, "is not a host name"),
        ({"domain": "a..b"}, "is not a host name"),
    ],
)
def test_set_cookie_refuses_bad_arguments_saying_what_to_do(arguments, message):
    options = {"name": "s", "value": "1", "max_age": None, "path": "/", "domain": None, "secure": False}
    options |= {"httponly": True, "samesite": "Lax"} | arguments
    with pytest.raises(ValueError, match=message):
        set_cookie(**options)


def test_international_cookie_over_real_http():
    with running_server(cookie_app()) as url, httpx.Client(base_url=url, timeout=5) as client:
        response = client.get("/set", params={"value": "日本語"})
        assert response.status_code == 200
        assert response.headers["set-cookie"].startswith("v=%E6%97%A5%E6%9C%AC%E8%AA%9E;")
        client.cookies.clear()
        assert client.get("/get", headers={"cookie": "v=%E6%97%A5%E6%9C%AC%E8%AA%9E"}).text == "日本語"

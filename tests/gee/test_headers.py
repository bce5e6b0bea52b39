"""Text that becomes a response header is encoded as its RFC says, or refused with an error saying what to do;
never encoded as Latin-1 by accident."""

import logging
import re

import httpx
import pytest

import gee
from gee.headers import content_disposition, field_value, uri_reference
from gee.testing import TestClient

from tests.conftest import running_server


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/wiki/日本", "/wiki/%E6%97%A5%E6%9C%AC"),
        ("/search?q=café&lang=fr#résumé", "/search?q=caf%C3%A9&lang=fr#r%C3%A9sum%C3%A9"),
        ("/a b", "/a%20b"),
        ("/already%20escaped/%E6%97%A5", "/already%20escaped/%E6%97%A5"),  # escapes are kept, not doubled
        ("https://例え.jp/パス?x=1", "https://%E4%BE%8B%E3%81%88.jp/%E3%83%91%E3%82%B9?x=1"),
        ("/x\r\nSet-Cookie: evil=1", "/x%0D%0ASet-Cookie:%20evil=1"),  # no header splitting
        ('/q?a="<b>"', "/q?a=%22%3Cb%3E%22"),
        ("https://example.org/a?b=c&d=e;f", "https://example.org/a?b=c&d=e;f"),
    ],
)
def test_redirect_location_is_a_uri_with_non_ascii_percent_encoded(target, location):
    assert uri_reference(target) == location
    r = gee.Engine()
    r.get("/go", lambda c: c.redirect(302, target))
    with TestClient(r, follow_redirects=False) as client:
        response = client.get("/go")
    assert response.status_code == 302
    assert response.headers["location"] == location


def test_redirect_and_international_cookie_over_real_http():
    r = gee.default()
    r.get("/go", lambda c: c.redirect(302, "/wiki/日本"))

    @r.get("/cookie")
    async def cookie(c: gee.Context) -> None:
        c.set_cookie("v", "日本語")
        c.set_cookie("w", "café")
        c.string(200, "ok")

    with running_server(r) as url, httpx.Client(base_url=url, timeout=5, follow_redirects=False) as client:
        go = client.get("/go")
        assert (go.status_code, go.headers["location"]) == (302, "/wiki/%E6%97%A5%E6%9C%AC")
        answer = client.get("/cookie")
        assert answer.status_code == 200
        assert answer.headers.get_list("set-cookie") == [
            "v=%E6%97%A5%E6%9C%AC%E8%AA%9E; Path=/; HttpOnly; SameSite=Lax",
            "w=caf%C3%A9; Path=/; HttpOnly; SameSite=Lax",
        ]


def test_latin1_header_text_goes_out_as_latin1():
    assert field_value("x-note", "café") == b"caf\xe9"
    r = gee.Engine()

    @r.get("/")
    async def note(c: gee.Context) -> None:
        c.header("X-Note", "café\tau lait")
        c.string(200, "ok")

    with TestClient(r) as client:
        assert client.get("/").headers.raw[0] == (b"x-note", b"caf\xe9\tau lait")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("x-name", "日本", r"holds '日本'.*RFC 9110 section 5.5.*percent-encode it"),
        ("x-name", "ok\r\nSet-Cookie: evil=1", r"control character.*CR or LF would split the header"),
        ("x-name", "nul\x00", "control character"),
        ("x name", "v", r"not a valid header name.*RFC 9110 section 5.6.2"),
        ("x-名前", "v", "not a valid header name"),
        ("", "v", "not a valid header name"),
    ],
)
def test_header_text_that_http_cannot_carry_is_a_clear_error(name, value, message, caplog):
    r = gee.Engine()
    r.use(gee.recovery())
    errors: list[str] = []

    @r.get("/")
    async def set_header(c: gee.Context) -> None:
        try:
            c.header(name, value)
        except ValueError as error:
            errors.append(str(error))
            raise

    with caplog.at_level(logging.ERROR, logger="gee.recovery"), TestClient(r) as client:
        response = client.get("/")
    assert response.status_code == 500 and "\r\n" not in str(response.headers)
    assert len(errors) == 1
    assert re.search(message, errors[0]), errors[0]


def test_content_types_given_by_handlers_are_checked_too():
    r = gee.Engine()
    r.get("/data", lambda c: c.data(200, "text/plain; charset=日本", b"x"))
    r.get("/fine", lambda c: c.data(200, "text/plain; charset=iso-8859-1", b"x"))
    with TestClient(r) as client:
        assert client.get("/data").status_code == 500
        assert client.get("/fine").headers["content-type"] == "text/plain; charset=iso-8859-1"


@pytest.mark.parametrize(
    ("filename", "header"),
    [
        ("日本.txt", "attachment; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt"),
        ("rapport é.csv", "attachment; filename*=UTF-8''rapport%20%C3%A9.csv"),
        ('a/b"c;d.txt', "attachment; filename*=UTF-8''a%2Fb%22c%3Bd.txt"),  # '/' is no attr-char (RFC 8187)
        ("plain!#$&+^`|~.txt", "attachment; filename*=UTF-8''plain!#$&+^`|~.txt"),
    ],
)
def test_file_names_go_out_as_rfc8187_ext_values(tmp_path, filename, header):
    assert content_disposition("attachment", filename) == header
    (tmp_path / "f.txt").write_text("x")
    r = gee.Engine()
    r.get("/f", lambda c: c.file(str(tmp_path / "f.txt"), filename=filename, attachment=True))
    with TestClient(r) as client:
        assert client.get("/f").headers["content-disposition"] == header

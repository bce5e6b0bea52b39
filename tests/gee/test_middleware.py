import base64
import logging

import gee
from gee.testing import TestClient


def test_logger_writes_method_path_status_latency_and_client(caplog):
    r = gee.Engine()
    r.use(gee.logger(skip_paths=["/health"]))
    r.get("/users/:id", lambda c: c.string(201, "ok"))
    r.get("/health", lambda c: c.string(200, "ok"))
    with caplog.at_level(logging.INFO, logger="gee.access"), TestClient(r) as client:
        client.get("/users/3?x=1")
        client.get("/health")
    (line,) = [rec.getMessage() for rec in caplog.records if rec.name == "gee.access"]
    assert "| 201 |" in line and "127.0.0.1" in line and "GET" in line and "'/users/3?x=1'" in line
    assert "s |" in line  # a latency with its unit


def test_logger_custom_formatter_receives_the_entry(caplog):
    entries: list[gee.LogEntry] = []

    def fmt(entry: gee.LogEntry) -> str:
        entries.append(entry)
        return f"{entry.method} {entry.path} {entry.status}"

    r = gee.Engine()
    r.use(gee.logger(formatter=fmt))
    r.get("/", lambda c: c.string(200, ""))
    with caplog.at_level(logging.INFO, logger="gee.access"), TestClient(r) as client:
        client.get("/")
    assert caplog.records[-1].getMessage() == "GET / 200"
    assert entries[0].latency > 0


def test_logger_sees_the_500_of_an_unrecovered_exception(caplog):
    r = gee.Engine()
    r.use(gee.logger())
    r.get("/", lambda c: 1 / 0)
    with caplog.at_level(logging.INFO, logger="gee.access"), TestClient(r) as client:
        assert client.get("/").status_code == 500
    assert any("| 500 |" in rec.getMessage() for rec in caplog.records if rec.name == "gee.access")


def test_recovery_answers_500_without_the_traceback_and_keeps_serving(caplog):
    r = gee.Engine()
    r.use(gee.recovery())

    @r.get("/boom")
    async def boom(c: gee.Context) -> None:
        c.header("x-half-built", "yes")
        raise KeyError("database password is hunter2")

    r.get("/ok", lambda c: c.string(200, "ok"))
    with caplog.at_level(logging.ERROR, logger="gee.recovery"), TestClient(r) as client:
        response = client.get("/boom")
        assert response.status_code == 500 and response.text == "Internal Server Error"
        assert "hunter2" not in response.text and "x-half-built" not in response.headers
        assert client.get("/ok").text == "ok"
    assert "hunter2" in caplog.text and "Traceback" in caplog.text


def test_custom_recovery_handler_writes_the_answer():
    r = gee.Engine()

    async def handle(c: gee.Context, exc: Exception) -> None:
        c.json(500, {"error": type(exc).__name__})

    r.use(gee.recovery(handle))
    r.get("/", lambda c: [][1])
    with TestClient(r) as client:
        assert client.get("/").json() == {"error": "IndexError"}


def test_basic_auth():
    r = gee.Engine()
    admin = r.group("/admin", gee.basic_auth({"ada": "s3cret", "bob": "pw"}))
    admin.get("/", lambda c: c.string(200, c.get("user")))
    with TestClient(r) as client:
        denied = client.get("/admin/")
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"].startswith('Basic realm="Authorization Required"')
        assert client.get("/admin/", auth=("ada", "wrong")).status_code == 401
        assert client.get("/admin/", headers={"authorization": "Basic !!!"}).status_code == 401
        assert client.get("/admin/", auth=("ada", "s3cret")).text == "ada"
        token = base64.b64encode(b"bob:pw").decode()
        assert client.get("/admin/", headers={"authorization": f"Basic {token}"}).text == "bob"


def test_basic_auth_refuses_bad_configuration():
    import pytest

    with pytest.raises(ValueError, match="at least one"):
        gee.basic_auth({})
    with pytest.raises(ValueError, match="cannot contain ':'"):
        gee.basic_auth({"a:b": "x"})


def test_body_limit_per_group():
    r = gee.Engine()

    async def size(c: gee.Context) -> None:
        c.string(200, str(len(await c.body())))

    r.group("/small", gee.body_limit(4)).post("/", size)
    r.post("/big", size)
    with TestClient(r) as client:
        assert client.post("/small/", content=b"1234").text == "4"
        response = client.post("/small/", content=b"12345")
        assert response.status_code == 413 and "limit of 4 bytes" in response.json()["error"]
        assert client.post("/big", content=b"x" * 1000).text == "1000"


def test_middleware_refuse_header_text_http_cannot_carry_when_made_not_per_request():
    import pytest

    with pytest.raises(ValueError, match="www-authenticate"):
        gee.basic_auth({"ada": "pw"}, realm="管理")
    with pytest.raises(ValueError, match="www-authenticate"):
        gee.token_auth("a-long-random-api-token", realm="line\r\nbreak")
    with pytest.raises(ValueError, match="content-security-policy"):
        gee.secure_headers(csp="default-src 'self' — strict")

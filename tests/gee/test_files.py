import os

import pytest

import gee
from gee.testing import TestClient


@pytest.fixture
def site(tmp_path):
    public = tmp_path / "public"
    (public / "sub").mkdir(parents=True)
    (public / "hello.txt").write_text("hello world")
    (public / "sub" / "index.html").write_text("<p>index</p>")
    (public / "big.bin").write_bytes(bytes(range(256)) * 1024)  # 256 KiB: streamed in chunks
    (tmp_path / "secret.txt").write_text("top secret")
    os.symlink(tmp_path / "secret.txt", public / "escape.txt")
    r = gee.Engine()
    r.static("/static", str(public))
    r.static_file("/favicon.txt", str(public / "hello.txt"))
    return r


def test_serves_files_with_type_etag_and_last_modified(site):
    with TestClient(site) as client:
        response = client.get("/static/hello.txt")
        assert response.text == "hello world"
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert response.headers["etag"] and response.headers["last-modified"]
        assert response.headers["accept-ranges"] == "bytes"
        assert client.get("/favicon.txt").text == "hello world"
        assert client.get("/static/sub/").text == "<p>index</p>"
        big = client.get("/static/big.bin")
        assert big.content == bytes(range(256)) * 1024 and big.headers["content-length"] == str(256 * 1024)


def test_conditional_get_answers_304(site):
    with TestClient(site) as client:
        first = client.get("/static/hello.txt")
        again = client.get("/static/hello.txt", headers={"if-none-match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        since = client.get("/static/hello.txt", headers={"if-modified-since": first.headers["last-modified"]})
        assert since.status_code == 304
        stale = client.get("/static/hello.txt", headers={"if-none-match": '"other"'})
        assert stale.status_code == 200


@pytest.mark.parametrize(
    ("header", "status", "body", "content_range"),
    [
        ("bytes=0-4", 206, b"hello", "bytes 0-4/11"),
        ("bytes=6-", 206, b"world", "bytes 6-10/11"),
        ("bytes=-5", 206, b"world", "bytes 6-10/11"),
        ("bytes=6-100", 206, b"world", "bytes 6-10/11"),
        ("bytes=0-1,3-4", 200, b"hello world", None),  # multiple ranges: the whole file
        ("items=0-1", 200, b"hello world", None),
        ("bytes=50-60", 416, None, "bytes */11"),
    ],
)
def test_byte_ranges(site, header, status, body, content_range):
    with TestClient(site) as client:
        response = client.get("/static/hello.txt", headers={"range": header})
    assert response.status_code == status
    if body is not None:
        assert response.content == body
    assert response.headers.get("content-range") == content_range


def test_range_of_a_large_file_is_streamed(site):
    with TestClient(site) as client:
        response = client.get("/static/big.bin", headers={"range": "bytes=1000-200000"})
    assert response.status_code == 206
    assert response.content == (bytes(range(256)) * 1024)[1000:200001]


def test_if_range_with_a_stale_validator_sends_the_whole_file(site):
    with TestClient(site) as client:
        response = client.get("/static/hello.txt", headers={"range": "bytes=0-4", "if-range": '"stale"'})
    assert response.status_code == 200 and response.text == "hello world"


def test_head_sends_headers_only(site):
    with TestClient(site) as client:
        response = client.head("/static/hello.txt")
    assert response.status_code == 200 and response.content == b"" and response.headers["content-length"] == "11"


@pytest.mark.parametrize(
    "path",
    [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/sub/%2E%2E/%2e%2e/secret.txt",
        "/static/..%2fsecret.txt",
        "/static//etc/passwd",
        "/static/escape.txt",  # a symlink that points outside
        "/static/missing.txt",
        "/static/sub/nothing/",
        "/static/a%00b",
    ],
)
def test_paths_that_climb_out_or_do_not_exist_answer_404(site, path):
    with TestClient(site) as client:
        response = client.get(path)
    assert response.status_code == 404
    assert b"secret" not in response.content


def test_static_directory_must_exist():
    with pytest.raises(ValueError, match="does not exist"):
        gee.Engine().static("/x", "/no/such/dir")


def test_file_attachment_sets_content_disposition(tmp_path):
    report = tmp_path / "report.csv"
    report.write_text("a,b\n")
    r = gee.Engine()
    r.get("/download", lambda c: c.file(str(report), filename="rapport é.csv", attachment=True))
    with TestClient(r) as client:
        response = client.get("/download")
    assert response.headers["content-disposition"] == "attachment; filename*=UTF-8''rapport%20%C3%A9.csv"
    assert response.headers["content-type"].startswith("text/csv")

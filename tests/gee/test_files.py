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
        response = client.get("/static/hello.txt", headers={"range": header.encode("latin-1")})
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


@pytest.mark.parametrize(
    ("header", "status", "body", "content_range"),
    [
        ("bytes=-0", 416, None, "bytes */11"),  # a zero suffix is unsatisfiable (RFC 9110 section 14.1.3)
        ("bytes=5-2", 200, b"hello world", None),  # last < first: invalid, ignored (section 14.1.1, 14.2)
        ("bytes=0-0", 206, b"h", "bytes 0-0/11"),
        ("bytes=10-", 206, b"d", "bytes 10-10/11"),
        ("bytes=11-", 416, None, "bytes */11"),
        ("bytes=-100", 206, b"hello world", "bytes 0-10/11"),  # a suffix longer than the file: all of it
        ("Bytes=0-4", 206, b"hello", "bytes 0-4/11"),  # range units are case-insensitive
        ("bytes=0-4,", 206, b"hello", "bytes 0-4/11"),  # empty list elements are allowed (section 5.6.1)
        ("bytes= 0-4 , ", 206, b"hello", "bytes 0-4/11"),
        ("bytes=0-1,50-60", 206, b"he", "bytes 0-1/11"),  # the unsatisfiable range is left out
        ("bytes=50-60,70-80", 416, None, "bytes */11"),
        ("bytes=0-1,3-4", 200, b"hello world", None),  # several ranges: the whole file
        ("bytes=0-4,0-4", 200, b"hello world", None),
        ("bytes=0-1,5-2", 200, b"hello world", None),  # one invalid range spoils the set
        ("bytes=", 200, b"hello world", None),
        ("bytes=,", 200, b"hello world", None),
        ("bytes=-", 200, b"hello world", None),
        ("bytes=abc", 200, b"hello world", None),
        ("bytes=1-2-3", 200, b"hello world", None),
        ("bytes=+1-2", 200, b"hello world", None),
        ("bytes=\u00b2-3", 200, b"hello world", None),  # "²" is a digit to Python, no DIGIT to HTTP
        ("bytes=0 - 4", 200, b"hello world", None),
        ("bytes 0-4", 200, b"hello world", None),
        ("bytes=99999999999999999999999-", 416, None, "bytes */11"),
    ],
)
def test_byte_ranges_against_rfc_9110_section_14(site, header, status, body, content_range):
    with TestClient(site) as client:
        response = client.get("/static/hello.txt", headers={"range": header.encode("latin-1")})
    assert response.status_code == status
    if body is not None:
        assert response.content == body
        assert response.headers["content-length"] == str(len(body))
    assert response.headers.get("content-range") == content_range


def test_a_range_of_an_empty_file_sends_the_empty_file(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    r = gee.Engine()
    r.static("/s", str(tmp_path))
    with TestClient(r) as client:
        for header in ("bytes=0-", "bytes=-5", "bytes=0-0"):
            response = client.get("/s/empty.txt", headers={"range": header})
            assert (response.status_code, response.content) == (200, b"")


def test_head_ignores_range(site):
    with TestClient(site) as client:
        response = client.head("/static/hello.txt", headers={"range": "bytes=0-4"})
    assert response.status_code == 200 and response.headers["content-length"] == "11"


@pytest.fixture
def validators(site):
    with TestClient(site) as client:
        first = client.get("/static/hello.txt")
    return first.headers["etag"], first.headers["last-modified"]


def http_date(stamp: float, form: str = "imf") -> str:
    import email.utils
    import time

    if form == "imf":
        return email.utils.formatdate(stamp, usegmt=True)
    if form == "rfc850":
        return time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(stamp))
    return time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(stamp))  # asctime


def last_modified_stamp(last_modified: str) -> float:
    import email.utils

    return email.utils.parsedate_to_datetime(last_modified).timestamp()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"if-none-match": "*"}, 304),
        ({"if-none-match": "{weak}"}, 304),  # If-None-Match compares weakly (RFC 9110 section 13.1.2)
        ({"if-none-match": '"other", {etag}'}, 304),
        ({"if-none-match": '"a,b", {etag}'}, 304),  # a comma inside an entity-tag
        ({"if-none-match": '"other"'}, 200),
        ({"if-none-match": "{etag_no_quotes}"}, 200),
        ({"if-none-match": '"other"', "if-modified-since": "{last_modified}"}, 200),  # If-None-Match wins
        ({"if-modified-since": "{last_modified}"}, 304),
        ({"if-modified-since": "{future}"}, 304),
        ({"if-modified-since": "{earlier}"}, 200),
        ({"if-modified-since": "{last_modified_rfc850}"}, 304),
        ({"if-modified-since": "{last_modified_asctime}"}, 304),
        ({"if-modified-since": "not a date"}, 200),  # a date that cannot be parsed is ignored
        ({"if-modified-since": "Sat, 01 Jan 2000 00:00:00"}, 200),
        ({"if-modified-since": "{last_modified_plus_zone}"}, 200),  # HTTP-dates are GMT only
        ({"if-modified-since": "Sun, 31 Feb 2099 00:00:00 GMT"}, 200),
        ({"if-modified-since": ""}, 200),
        ({"if-match": "{etag}"}, 200),
        ({"if-match": "*"}, 200),
        ({"if-match": '"other"'}, 412),
        ({"if-match": "{weak}"}, 412),  # If-Match compares strongly
        ({"if-match": '"other"', "if-none-match": "{etag}"}, 412),  # If-Match comes first
        ({"if-unmodified-since": "{earlier}"}, 412),
        ({"if-unmodified-since": "{last_modified}"}, 200),
        ({"if-unmodified-since": "garbage"}, 200),
        ({"if-match": "{etag}", "if-unmodified-since": "{earlier}"}, 200),  # If-Match present: IUS ignored
    ],
)
def test_conditional_requests_follow_rfc_9110_section_13(site, validators, headers, status):
    etag, last_modified = validators
    stamp = last_modified_stamp(last_modified)
    values = {
        "etag": etag,
        "weak": "W/" + etag,
        "etag_no_quotes": etag.strip('"'),
        "last_modified": last_modified,
        "last_modified_rfc850": http_date(stamp, "rfc850"),
        "last_modified_asctime": http_date(stamp, "asctime"),
        "last_modified_plus_zone": last_modified.replace("GMT", "+0000"),
        "future": http_date(stamp + 3600),
        "earlier": http_date(stamp - 3600),
    }
    with TestClient(site) as client:
        response = client.get("/static/hello.txt", headers={k: v.format(**values) for k, v in headers.items()})
    assert response.status_code == status
    if status == 304:
        assert response.content == b"" and response.headers["etag"] == etag
        assert "last-modified" not in response.headers and "content-length" not in response.headers
    if status == 200:
        assert response.text == "hello world"


def test_if_none_match_on_another_method_answers_412(tmp_path):
    r = gee.Engine()
    (tmp_path / "f.txt").write_text("hello world")
    r.put("/f", lambda c: c.file(str(tmp_path / "f.txt")))
    with TestClient(r) as client:
        current = client.put("/f").headers["etag"]
        assert client.put("/f", headers={"if-none-match": current}).status_code == 412
        assert client.put("/f", headers={"if-none-match": "*"}).status_code == 412
        assert client.put("/f", headers={"if-modified-since": "Sun, 01 Jan 2090 00:00:00 GMT"}).status_code == 200


@pytest.mark.parametrize(
    ("if_range", "status"),
    [
        ("{etag}", 206),
        ("{weak}", 200),  # a weak entity-tag never matches If-Range (RFC 9110 section 13.1.5)
        ('"stale"', 200),
        ("{last_modified}", 206),
        ("{earlier}", 200),
        ("not a date", 200),
    ],
)
def test_if_range(site, validators, if_range, status):
    etag, last_modified = validators
    values = {
        "etag": etag,
        "weak": "W/" + etag,
        "last_modified": last_modified,
        "earlier": http_date(last_modified_stamp(last_modified) - 60),
    }
    headers = {"range": "bytes=0-4", "if-range": if_range.format(**values)}
    with TestClient(site) as client:
        response = client.get("/static/hello.txt", headers=headers)
    assert response.status_code == status
    assert response.content == (b"hello" if status == 206 else b"hello world")


def test_http_dates_in_their_three_forms():
    from gee.preconditions import parse_http_date

    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777
    assert parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777
    for bad in ("Sun, 06 Nov 1994 08:49:37 +0000", "sun, 06 nov 1994 08:49:37 gmt", "06 Nov 1994", "", "1994-11-06"):
        assert parse_http_date(bad) is None

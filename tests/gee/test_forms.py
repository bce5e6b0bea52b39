import httpx
import pytest

import gee
from gee.testing import TestClient


def form_app() -> TestClient:
    r = gee.Engine(max_body_bytes=64 * 1024)

    async def show(c: gee.Context) -> None:
        form = await c.form()
        out = {}
        for key, value in form.items_list():
            if isinstance(value, gee.UploadFile):
                out[key] = {
                    "filename": value.filename,
                    "type": value.content_type,
                    "data": (await value.read()).decode(),
                }
            else:
                out.setdefault(key, []).append(value)
        c.json(200, out)

    r.post("/", show)
    return TestClient(r)


def test_urlencoded_fields():
    with form_app() as client:
        response = client.post("/", data={"name": "Ada Lovelace", "tag": ["a", "b"]})
    assert response.json() == {"name": ["Ada Lovelace"], "tag": ["a", "b"]}


def test_multipart_fields_and_files():
    with form_app() as client:
        response = client.post("/", data={"note": "héllo"}, files={"upload": ("notes.txt", b"file body", "text/plain")})
    assert response.json() == {
        "note": ["héllo"],
        "upload": {"filename": "notes.txt", "type": "text/plain", "data": "file body"},
    }


def test_multipart_without_boundary_answers_400():
    with form_app() as client:
        response = client.post("/", content=b"x", headers={"content-type": "multipart/form-data"})
    assert response.status_code == 400 and "boundary" in response.json()["error"]


def test_malformed_multipart_answers_400():
    body = b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n"
    with form_app() as client:
        response = client.post("/", content=body, headers={"content-type": "multipart/form-data; boundary=b"})
    assert response.status_code == 400


def test_form_from_another_content_type_answers_415():
    with form_app() as client:
        response = client.post("/", json={"a": 1})
    assert response.status_code == 415 and "application/json" in response.json()["error"]


def test_upload_over_the_body_limit_answers_413():
    with form_app() as client:
        response = client.post("/", files={"f": ("big.bin", b"x" * 100_000)})
    assert response.status_code == 413


def multipart(*parts: bytes, boundary: bytes = b"b0undary", end: bytes = b"--b0undary--\r\n") -> bytes:
    return b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts) + end


def post_multipart(body: bytes) -> httpx.Response:
    with form_app() as client:
        return client.post("/", content=body, headers={"content-type": "multipart/form-data; boundary=b0undary"})


@pytest.mark.parametrize(
    ("disposition", "name", "filename"),
    [
        ('form-data; name="upload"; filename="日本.txt"', "upload", "日本.txt"),
        ('form-data; name="upload"; filename="résumé.txt"', "upload", "résumé.txt"),
        ('form-data; name="名前"; filename="a.txt"', "名前", "a.txt"),
        ('form-data; name="upload"; filename="a \\"quoted\\" name.txt"', "upload", 'a "quoted" name.txt'),
        ('form-data; name="upload"; filename="C:\\\\Users\\\\ada\\\\日本.txt"', "upload", "日本.txt"),
    ],
)
def test_multipart_file_and_field_names_are_utf8(disposition, name, filename):
    part = b"Content-Disposition: " + disposition.encode() + b"\r\nContent-Type: text/plain\r\n\r\nfile body"
    response = post_multipart(multipart(part))
    assert response.status_code == 200, response.text
    assert response.json() == {name: {"filename": filename, "type": "text/plain", "data": "file body"}}


def test_multipart_field_names_and_values_in_any_script():
    part = 'Content-Disposition: form-data; name="名前"\r\n\r\n山田 太郎'.encode()
    other = 'Content-Disposition: form-data; name="ville"\r\n\r\nMontréal'.encode()
    response = post_multipart(multipart(part, other))
    assert response.json() == {"名前": ["山田 太郎"], "ville": ["Montréal"]}


def test_a_part_name_that_is_not_utf8_answers_400():
    part = b'Content-Disposition: form-data; name="upload"; filename="caf\xe9.txt"\r\n\r\nx'
    response = post_multipart(multipart(part))
    assert response.status_code == 400 and "not UTF-8" in response.json()["error"]


FIELD = b'Content-Disposition: form-data; name="a"\r\n\r\none'
FILE = b'Content-Disposition: form-data; name="f"; filename="f.txt"\r\n\r\nfile body'


@pytest.mark.parametrize(
    "body",
    [
        multipart(FIELD, FILE, end=b""),  # no closing boundary at all
        multipart(FIELD, FILE, end=b"--b0undary"),  # the closing boundary without its final "--"
        multipart(FIELD, end=b"--b0undary\r\n" + FILE[:60]),  # cut inside the last part's data
        multipart(FIELD, end=b"--b0undary\r\nContent-Disposition: form-"),  # cut inside a part's headers
        multipart(FIELD)[:-3],  # cut inside the closing boundary
        b"--b0undary\r\n",  # a first boundary and nothing more
        b"",  # no body at all
    ],
    ids=["no-closing", "closing-without-dashes", "in-data", "in-headers", "in-closing", "only-opening", "empty"],
)
def test_a_multipart_body_cut_short_answers_400_instead_of_dropping_its_last_part(body):
    response = post_multipart(body)
    assert response.status_code == 400
    assert "closing boundary" in response.json()["error"] or "malformed" in response.json()["error"]


def test_a_whole_multipart_body_with_an_epilogue_is_fine():
    response = post_multipart(multipart(FIELD, FILE) + b"epilogue after the end\r\n")
    assert response.status_code == 200
    upload = {"filename": "f.txt", "type": "application/octet-stream", "data": "file body"}
    assert response.json() == {"a": ["one"], "f": upload}

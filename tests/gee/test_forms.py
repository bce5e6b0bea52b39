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

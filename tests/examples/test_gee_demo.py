"""The example application that `make run` starts: every link on its page works."""

import importlib.util
import pathlib

import pytest

from gee.testing import TestClient

APP = pathlib.Path(__file__).resolve().parents[2] / "examples" / "gee_demo" / "app.py"


@pytest.fixture(scope="module")
def client():
    spec = importlib.util.spec_from_file_location("gee_demo_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with TestClient(module.create_app()) as client:
        yield client


def test_index_page_renders_escaped_values_and_styles(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "&lt;script&gt;" in page.text and "<script>alert" not in page.text
    assert client.get("/assets/style.css").headers["content-type"].startswith("text/css")


def test_demo_routes(client):
    assert client.get("/hello/gee").text.startswith("hello gee")
    assert client.get("/files/docs/readme.md").json() == {"filepath": "/docs/readme.md"}
    user = client.get("/v1/users/42?verbose=yes")
    assert user.json() == {"id": "42", "verbose": "yes"} and int(user.headers["x-elapsed-us"]) >= 0
    assert client.get("/admin/").status_code == 401
    assert client.get("/admin/", auth=("admin", "secret")).json() == {"user": "admin"}
    assert client.get("/panic").status_code == 500
    assert client.get("/nowhere").status_code == 404

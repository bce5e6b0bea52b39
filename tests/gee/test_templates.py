import pytest

import gee
from gee.testing import TestClient


@pytest.fixture
def engine(tmp_path):
    (tmp_path / "page.html").write_text("<h1>{{ title | shout }}</h1><p>{{ body }}</p><i>{{ site }}</i>")
    (tmp_path / "note.txt").write_text("{{ body }}")
    r = gee.Engine()
    r.load_templates(str(tmp_path), filters={"shout": str.upper}, globals={"site": "gee"})
    r.get("/page", lambda c: c.html(200, "page.html", title="hi", body=c.query("body", "")))
    r.get("/missing", lambda c: c.html(200, "nope.html"))
    return r


def test_renders_with_filters_globals_and_autoescape(engine):
    with TestClient(engine) as client:
        response = client.get("/page", params={"body": "<script>alert(1)</script>"})
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "<h1>HI</h1><p>&lt;script&gt;alert(1)&lt;/script&gt;</p><i>gee</i>"


def test_missing_template_is_a_500_and_a_clear_log(engine, caplog):
    with TestClient(engine) as client:
        assert client.get("/missing").status_code == 500
    assert "template 'nope.html' not found" in caplog.text and "page.html" in caplog.text


def test_html_without_templates_says_what_to_call():
    r = gee.Engine()
    with pytest.raises(RuntimeError, match="load_templates"):
        r.templates  # noqa: B018


def test_template_directory_must_exist():
    with pytest.raises(ValueError, match="does not exist"):
        gee.Engine().load_templates("/no/such/dir")

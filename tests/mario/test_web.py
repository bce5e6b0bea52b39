import base64
import io

import pytest
from PIL import Image

import gee
from gee.testing import TestClient
from mario import web


@pytest.fixture(scope="module")
def client():
    with TestClient(web.engine(), follow_redirects=False) as c:
        yield c


def test_form_without_a_prompt(client) -> None:
    r = client.get("/mario")
    assert r.status_code == 200 and "<form" in r.text and web.EXAMPLE in r.text
    assert client.get("/").headers["location"] == "/mario/"


def test_a_prompt_gives_a_rendered_level(client) -> None:
    r = client.get("/mario", params={"prompt": "many pipes, no enemies", "columns": "16", "seed": "7", "path": "1"})
    assert r.status_code == 200
    assert "many pipes, no enemies, some blocks, low elevation" in r.text
    data = r.text.split("data:image/png;base64,")[1].split('"')[0]
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    assert image.size == (16 * 16, 14 * 16)


def test_png_and_json_agree(client) -> None:
    q = {"prompt": "no pipes, high elevation", "columns": "12", "seed": "3"}
    level = client.get("/mario/level.json", params=q).json()
    assert level["prompt"] == "no pipes, some enemies, some blocks, high elevation"
    assert len(level["level"]) == 14 and len(level["level"][0]) == 12
    assert set(level["measured"]) == {"pipes", "enemies", "blocks", "elevation"}
    png = client.get("/mario/level.png", params=q)
    assert png.headers["content-type"] == "image/png"
    assert png.headers["x-mario-playable"] == ("yes" if level["playable"] else "no")
    assert Image.open(io.BytesIO(png.content)).size == (12 * 16, 14 * 16)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"prompt": ""}, "the prompt is empty"),
        ({"prompt": "many dragons"}, "words not understood: 'dragons'"),
        ({"prompt": "no blocks, high elevation"}, "'no blocks' and 'high elevation' cannot both hold"),
        ({"prompt": "many pipes", "columns": "5000"}, "length 5000 is out of range"),
        ({"prompt": "many pipes", "columns": "ten"}, "must be a whole number"),
        ({"prompt": "many pipes", "seed": "abc"}, "seed must be a whole number"),
        ({"prompt": "many pipes", "seed": "1.5"}, "seed must be a whole number"),
        ({"prompt": "many pipes", "temperature": "hot"}, "temperature must be a number"),
    ],
)
def test_bad_input_is_a_clear_400(client, params: dict[str, str], message: str) -> None:
    r = client.get("/mario/level.json", params=params)
    assert r.status_code == 400 and message in r.json()["error"]
    page = client.get("/mario", params=params)
    assert page.status_code == 400 and message.replace("'", "&#39;") in page.text


def test_register_mounts_on_another_engine_without_touching_its_templates() -> None:
    host = gee.Engine()
    web.register(host.group("/games"), prefix="/mario")
    with TestClient(host) as c:
        assert c.get("/games/mario/").status_code == 200
        assert c.get("/games/mario/level.json", params={"prompt": "some blocks", "columns": "9"}).status_code == 200

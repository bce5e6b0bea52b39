import dataclasses

import pydantic

import gee
from gee.testing import TestClient


class User(pydantic.BaseModel):
    name: str = pydantic.Field(min_length=1)
    age: int = pydantic.Field(ge=0)


@dataclasses.dataclass
class Point:
    x: float
    y: float


def client_for(model) -> TestClient:
    r = gee.Engine()

    async def create(c: gee.Context) -> None:
        value = await c.bind(model)
        c.json(201, value.model_dump() if isinstance(value, pydantic.BaseModel) else dataclasses.asdict(value))

    r.post("/", create)
    return TestClient(r)


def test_bind_json_into_a_pydantic_model():
    with client_for(User) as client:
        response = client.post("/", json={"name": "Ada", "age": "36"})
    assert response.status_code == 201 and response.json() == {"name": "Ada", "age": 36}


def test_bind_form_into_a_dataclass():
    with client_for(Point) as client:
        assert client.post("/", data={"x": "1.5", "y": "2"}).json() == {"x": 1.5, "y": 2.0}


def test_bind_lists_every_field_error():
    with client_for(User) as client:
        response = client.post("/", json={"name": "", "age": -1})
    body = response.json()
    assert response.status_code == 400
    assert body["error"] == "2 invalid field(s) for User"
    assert {f["field"] for f in body["fields"]} == {"name", "age"}


def test_bind_missing_field_and_wrong_shape():
    with client_for(User) as client:
        missing = client.post("/", json={"name": "Ada"}).json()
        assert missing["fields"] == [{"field": "age", "message": "Field required"}]
        assert client.post("/", json=[1, 2]).status_code == 400


def test_bind_wrong_content_type_answers_415():
    with client_for(User) as client:
        response = client.post("/", content=b"name=Ada", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert "text/plain" in response.json()["error"]


def test_bind_malformed_json_answers_400():
    with client_for(User) as client:
        response = client.post("/", content=b"{", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "malformed JSON" in response.json()["error"]

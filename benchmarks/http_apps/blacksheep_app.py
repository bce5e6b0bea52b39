"""BlackSheep, with its ``text`` and ``json`` response helpers."""

from blacksheep import Application, Response, json, text

app = Application()


@app.router.get("/plaintext")
async def plaintext() -> Response:
    return text("Hello, World!")


@app.router.get("/users/{id}")
async def user(id: str) -> Response:
    return json({"id": id, "name": "gee"})

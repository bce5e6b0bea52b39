"""Falcon's ASGI app, with resource classes and ``resp.media`` for JSON, as its documentation writes them."""

import falcon
import falcon.asgi


class PlainText:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "Hello, World!"


class User:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, id: str) -> None:
        resp.media = {"id": id, "name": "gee"}


app = falcon.asgi.App()
app.add_route("/plaintext", PlainText())
app.add_route("/users/{id}", User())

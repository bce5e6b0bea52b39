"""The floor: a hand-written ASGI app that does the least any framework must do.

It still matches the path, reads the one parameter, encodes JSON and sets
``content-type`` and ``content-length``, so the gap between it and a framework is the
framework's own cost (routing, request and response objects), not skipped work.
"""

import json
from typing import Any

Message = dict[str, Any]

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_HELLO = b"Hello, World!"
_TEXT = b"text/plain; charset=utf-8"
_JSON_TYPE = b"application/json"
_USERS = "/users/"


async def _respond(send: Any, status: int, content_type: bytes, body: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Any, send: Any) -> None:
    """Acknowledge start-up and shut-down, so uvicorn neither warns nor waits."""
    while True:
        message: Message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Message, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    path: str = scope["path"]
    if scope["method"] == "GET":
        if path == "/plaintext":
            await _respond(send, 200, _TEXT, _HELLO)
            return
        if path.startswith(_USERS):
            user_id = path[len(_USERS) :]
            if user_id and "/" not in user_id:
                await _respond(send, 200, _JSON_TYPE, _JSON.encode({"id": user_id, "name": "gee"}).encode())
                return
    await _respond(send, 404, _TEXT, b"404 page not found")

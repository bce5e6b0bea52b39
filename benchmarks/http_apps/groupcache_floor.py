"""The floor for peer serving: a hand-written ASGI app answering every request with one
prebuilt GetResponse, on the same uvicorn. What no Python cache node on uvicorn can beat."""

from typing import Any

from geecache.groupcache_pb2 import GetResponse

BODY = GetResponse(value=b"py:hot-key").SerializeToString()
HEADERS = [(b"content-type", b"application/x-protobuf"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})

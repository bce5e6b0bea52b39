"""Litestar, with typed route handlers; it serialises the returned dict with msgspec."""

from litestar import Litestar, MediaType, get


@get("/plaintext", media_type=MediaType.TEXT)
async def plaintext() -> str:
    return "Hello, World!"


@get("/users/{id:str}")
async def user(id: str) -> dict[str, str]:
    return {"id": id, "name": "gee"}


app = Litestar(route_handlers=[plaintext, user])

"""Starlette, with explicit response classes as its documentation writes them."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def plaintext(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Hello, World!")


async def user(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.path_params["id"], "name": "gee"})


app = Starlette(routes=[Route("/plaintext", plaintext), Route("/users/{id}", user)])

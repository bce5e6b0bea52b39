"""FastAPI as its tutorial writes it: typed parameters and return values.

The return annotation makes FastAPI validate and serialise the dict through a
response model; that cost is part of what FastAPI users pay, so it is measured.
"""

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    return "Hello, World!"


@app.get("/users/{id}")
async def user(id: str) -> dict[str, str]:
    return {"id": id, "name": "gee"}

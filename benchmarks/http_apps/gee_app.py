"""gee, as its README writes it: an ``Engine`` with no middleware (not ``gee.default()``,
whose access logger would be measured too)."""

import gee

app = gee.Engine()


async def plaintext(c: gee.Context) -> None:
    c.string(200, "Hello, World!")


async def user(c: gee.Context) -> None:
    c.json(200, {"id": c.param("id"), "name": "gee"})


app.get("/plaintext", plaintext)
app.get("/users/:id", user)

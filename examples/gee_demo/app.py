"""An example gee application: routing, groups, middleware, templates and static files.

Run it with ``make run`` (or ``python examples/gee_demo/app.py``) and open
http://127.0.0.1:8000.
"""

from __future__ import annotations

import os
import time
from datetime import datetime

import gee

HERE = os.path.dirname(os.path.abspath(__file__))

STUDENTS = [{"name": "Ada", "age": 36}, {"name": "Grace", "age": 85}, {"name": "<script>alert(1)</script>", "age": 0}]


def timing(c: gee.Context) -> None:
    """A plain (sync) middleware: runs in a worker thread and still wraps the rest of the chain."""
    start = time.perf_counter()
    c.next()
    c.header("x-elapsed-us", str(round((time.perf_counter() - start) * 1e6)))


def create_app() -> gee.Engine:
    r = gee.default()
    r.load_templates(os.path.join(HERE, "templates"), filters={"year": lambda d: d.year})
    r.static("/assets", os.path.join(HERE, "static"))

    @r.get("/")
    async def index(c: gee.Context) -> None:
        c.html(200, "index.html", title="gee", students=STUDENTS, now=datetime.now(), routes=r.routes())

    @r.get("/hello/:name")
    async def hello(c: gee.Context) -> None:
        c.string(200, f"hello {c.param('name')}, you're at {c.path}\n")

    @r.get("/files/*filepath")
    async def files(c: gee.Context) -> None:
        c.json(200, {"filepath": c.param("filepath")})

    v1 = r.group("/v1", timing)

    @v1.get("/users/:id")
    async def user(c: gee.Context) -> None:
        c.json(200, {"id": c.param("id"), "verbose": c.query("verbose", "no")})

    admin = r.group("/admin", gee.basic_auth({"admin": "secret"}))

    @admin.get("/")
    async def dashboard(c: gee.Context) -> None:
        c.json(200, {"user": c.get("user")})

    @r.get("/panic")
    async def panic(c: gee.Context) -> None:
        raise RuntimeError("the Recovery middleware turns this into a 500")

    return r


app = create_app()

if __name__ == "__main__":
    app.run("127.0.0.1", 8000)

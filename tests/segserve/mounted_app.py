"""A tiny gee application that tests mount on a segserve node with ``--mount``."""

import gee


def register(engine: gee.Engine) -> gee.RouterGroup:
    group = engine.group("/hello")
    group.get("/", lambda c: c.string(200, "hello from a mounted app"))
    return group

"""gee: a Gin-style web framework on ASGI.

import gee

r = gee.default()
r.get("/hello/:name", hello)
r.run(port=8000)
"""

from gee.context import Context, SSEvent
from gee.engine import Engine, RouteInfo, default
from gee.errors import ClientDisconnected, HTTPError
from gee.forms import Form, UploadFile
from gee.group import RouterGroup
from gee.middleware import (
    LOOPBACK_HOSTS,
    LogEntry,
    allowed_hosts,
    basic_auth,
    body_limit,
    logger,
    recovery,
    secure_headers,
    token_auth,
)
from gee.router import RouteConflictError
from gee.templates import Templates

__all__ = [
    "LOOPBACK_HOSTS",
    "ClientDisconnected",
    "Context",
    "Engine",
    "Form",
    "HTTPError",
    "LogEntry",
    "RouteConflictError",
    "RouteInfo",
    "RouterGroup",
    "SSEvent",
    "Templates",
    "UploadFile",
    "allowed_hosts",
    "basic_auth",
    "body_limit",
    "default",
    "logger",
    "recovery",
    "secure_headers",
    "token_auth",
]

"""Built-in middleware: access log, recovery from exceptions, basic and token auth, body size limit, allowed hosts,
hardening headers."""

from gee.middleware.allowed_hosts import LOOPBACK_HOSTS, allowed_hosts
from gee.middleware.basic_auth import basic_auth
from gee.middleware.body_limit import body_limit
from gee.middleware.logger import LogEntry, logger
from gee.middleware.recovery import recovery
from gee.middleware.secure_headers import secure_headers
from gee.middleware.token_auth import token_auth

__all__ = [
    "LOOPBACK_HOSTS",
    "LogEntry",
    "allowed_hosts",
    "basic_auth",
    "body_limit",
    "logger",
    "recovery",
    "secure_headers",
    "token_auth",
]

"""Built-in middleware: access log, recovery from exceptions, basic auth, body size limit."""

from gee.middleware.basic_auth import basic_auth
from gee.middleware.body_limit import body_limit
from gee.middleware.logger import LogEntry, logger
from gee.middleware.recovery import recovery

__all__ = ["LogEntry", "basic_auth", "body_limit", "logger", "recovery"]

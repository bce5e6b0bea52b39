"""The types every layer shares: ASGI's scope and channels, and the handler.

The bottom of gee's imports: this module imports nothing of gee at run time, so any module may use these names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gee.context import Context

Scope = dict[str, Any]
"""An ASGI connection scope (ASGI HTTP spec, "HTTP Connection Scope")."""

Message = dict[str, Any]
"""An ASGI event, received (``http.request``, ``http.disconnect``) or sent (``http.response.*``)."""

Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

Handler = Callable[["Context"], Awaitable[Any]]
"""A handler or middleware once ``gee.handlers.ensure_async`` has made it a coroutine function of the context."""

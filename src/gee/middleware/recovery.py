"""Recovery: an exception in a handler becomes a 500, is logged, and the server keeps serving."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from gee.errors import ClientDisconnected

if TYPE_CHECKING:
    from gee.context import Context
    from gee.types import Handler

log = logging.getLogger("gee.recovery")


def recovery(handle: Callable[[Context, Exception], Awaitable[Any] | Any] | None = None) -> Handler:
    """Catch exceptions from the rest of the chain (Gin's ``Recovery``/``CustomRecovery``).

    The traceback goes to the ``gee.recovery`` log, never to the client, who gets a
    plain 500 unless ``handle(c, exc)`` writes another answer.
    """

    async def recover(c: Context) -> None:
        try:
            await c.next()
        except ClientDisconnected:
            raise  # nobody to answer: the engine ends the request
        except Exception as exc:
            log.exception("recovered from an exception in %s %s", c.method, c.path)
            c.errors.append(exc)
            c.abort()
            if not c.reset_response():  # a stream already went out: all we can do is stop
                return
            if handle is None:
                c.string(500, "Internal Server Error")
                return
            c.status(500)
            result = handle(c, exc)
            if result is not None and hasattr(result, "__await__"):
                await result

    return recover

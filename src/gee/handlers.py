"""Handlers may be ``async def`` or plain functions; plain ones run in a thread pool."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from gee.types import Handler

if TYPE_CHECKING:
    from gee.context import Context

# Sync handlers that call ``c.next()`` hold their thread while the rest of the chain
# runs, so the pool is larger than the CPU count (anyio uses 40 for the same reason).
_pool = ThreadPoolExecutor(max_workers=40, thread_name_prefix="gee-sync")


def ensure_async(handler: Callable[[Context], Any]) -> Handler:
    """Return ``handler`` as a coroutine function of the context."""
    if not callable(handler):
        raise TypeError(f"a handler must be a function taking the context, not {handler!r}")
    if inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(type(handler).__call__):
        return handler

    @functools.wraps(handler)
    async def run_in_thread(c: Context) -> None:
        loop = c.engine.loop = asyncio.get_running_loop()  # where the thread's c.next() runs the chain
        result = await loop.run_in_executor(_pool, handler, c)
        if inspect.isawaitable(result):  # a plain function handing back a coroutine: `lambda c: c.sse(events())`
            await result

    return run_in_thread


def handler_name(handler: Callable[..., Any]) -> str:
    """A readable name for route listings, as Gin prints in debug mode."""
    inner = inspect.unwrap(handler)
    module = getattr(inner, "__module__", "") or ""
    name = getattr(inner, "__qualname__", None) or type(inner).__qualname__
    return f"{module}.{name}" if module else name

"""One long-lived event loop on a daemon thread: what the blocking API (``Group.get_sync``) runs on.

A blocking call that made a loop of its own each time (``asyncio.run``) broke on its second call for a key a
peer owns ("Event loop is closed": the pool's connections belonged to the first, now closed, loop), and two
threads calling it at once broke on the load they shared ("attached to a different loop"). Every blocking call
of the process therefore runs here, on one loop that lives as long as the process, whichever thread calls.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def loop() -> asyncio.AbstractEventLoop:
    """The loop, started on first use."""
    global _loop
    with _lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="geecache-sync", daemon=True).start()
        return _loop


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on the loop and wait for its result, from any thread but the loop's own."""
    target = loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is target:
        coroutine.close()
        raise RuntimeError("a blocking geecache call on geecache's own loop would wait for itself; await instead")
    return asyncio.run_coroutine_threadsafe(coroutine, target).result()

"""Test clients for gee applications, over httpx's ASGI transport (no sockets).

``TestClient`` is for plain test functions: it runs the application on an event
loop in a background thread. ``AsyncTestClient`` is for async tests. Used as
context managers, both run the application's start-up and shut-down hooks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterable
from types import TracebackType
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
ASGIApp = Any


async def _as_async(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


class _Lifespan:
    """Drives the ASGI lifespan protocol against the application."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        await self.app({"type": "lifespan", "asgi": {"version": "3.0"}}, self.inbox.get, self.outbox.put)

    async def _step(self, kind: str) -> None:
        await self.inbox.put({"type": f"lifespan.{kind}"})
        reply = await self.outbox.get()
        if reply["type"].endswith(".failed"):
            raise RuntimeError(reply.get("message", f"lifespan {kind} failed"))

    async def startup(self) -> None:
        self.task = asyncio.ensure_future(self._run())
        await self._step("startup")

    async def shutdown(self) -> None:
        await self._step("shutdown")
        if self.task is not None:
            await self.task


class AsyncTestClient(httpx.AsyncClient):
    """``async with AsyncTestClient(engine) as client: r = await client.get("/")``."""

    def __init__(self, app: ASGIApp, base_url: str = "http://testserver", **kwargs: Any):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        super().__init__(transport=transport, base_url=base_url, **kwargs)
        self._lifespan = _Lifespan(app)

    async def __aenter__(self) -> AsyncTestClient:
        await super().__aenter__()
        await self._lifespan.startup()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        await self._lifespan.shutdown()
        await super().__aexit__(exc_type, exc, tb)


class TestClient:
    """``with TestClient(engine) as client: r = client.get("/")`` from synchronous code."""

    __test__ = False  # not a pytest test class

    def __init__(self, app: ASGIApp, base_url: str = "http://testserver", **kwargs: Any):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="gee-testclient", daemon=True)
        self._thread.start()
        self._client = self._call(self._make_client(app, base_url, kwargs))
        self._entered = False

    @staticmethod
    async def _make_client(app: ASGIApp, base_url: str, kwargs: dict[str, Any]) -> AsyncTestClient:
        return AsyncTestClient(app, base_url, **kwargs)

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def __enter__(self) -> TestClient:
        self._call(self._client.__aenter__())
        self._entered = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        if self._entered:
            self._call(self._client.__aexit__())
        else:
            self._call(self._client.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        content = kwargs.get("content")
        if content is not None and not isinstance(content, bytes | str) and isinstance(content, Iterable):
            kwargs["content"] = _as_async(content)  # the ASGI transport only takes async streams
        return self._call(self._client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("OPTIONS", url, **kwargs)

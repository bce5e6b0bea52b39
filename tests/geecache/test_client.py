"""geecache's peer client against real sockets: keep-alive, bounds, deadlines and every way an answer can go wrong."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from geecache.client import Client, ClientError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def ok(body: bytes = b"hello", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n" % (len(body), extra) + body


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head and body (by its content-length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
    )
    return head + (await reader.readexactly(length) if length else b"")


class Server:
    """An asyncio server on 127.0.0.1 running ``handler`` per connection; counts connections and requests."""

    def __init__(self, handler: Handler):
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []

    async def __aenter__(self) -> str:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    def answering(self, answer: bytes) -> Handler:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                self.requests.append(await read_request(reader))
                writer.write(answer)
                await writer.drain()

        return handler


def run(coroutine: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 30))  # type: ignore[arg-type]


def test_requests_reuse_one_kept_alive_connection_and_go_out_as_written():
    async def main() -> None:
        server = Server(lambda r, w: server.answering(ok())(r, w))
        async with server as origin:
            client = Client(timeout=2)
            for _ in range(20):
                answer = await client.request("GET", origin, "/_groupcache/g/a%2Fb", {"x-sig": "1"})
                assert (answer.status, answer.body) == (200, b"hello")
            answer = await client.request("PUT", origin, "/_groupcache/g/k?ttl=5.0", body=b"value")
            await client.close()
        assert server.connections == 1
        assert server.requests[0].startswith(b"GET /_groupcache/g/a%2Fb HTTP/1.1\r\n")
        assert b"x-sig: 1\r\n" in server.requests[0]
        assert server.requests[-1].startswith(b"PUT /_groupcache/g/k?ttl=5.0 HTTP/1.1\r\n")
        assert server.requests[-1].endswith(b"\r\n\r\nvalue")

    run(main())


def test_at_most_max_connections_are_open_to_one_peer():
    async def main() -> None:
        async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                await read_request(reader)
                await asyncio.sleep(0.05)
                writer.write(ok())

        server = Server(slow)
        async with server as origin:
            client = Client(timeout=5, max_connections=2)
            answers = await asyncio.gather(*(client.request("GET", origin, f"/k{i}") for i in range(8)))
            await client.close()
        assert [a.body for a in answers] == [b"hello"] * 8
        assert server.connections == 2

    run(main())


def test_a_silent_peer_fails_within_the_timeout():
    async def main() -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            await asyncio.sleep(10)

        async with Server(silent) as origin:
            client = Client(timeout=0.3)
            start = time.monotonic()
            with pytest.raises(ClientError, match=r"did not answer GET /k within 0.3 s"):
                await client.request("GET", origin, "/k")
            assert time.monotonic() - start < 2
            await client.close()

    run(main())


def test_a_refused_connection_names_the_peer():
    async def main() -> None:
        async with Server(lambda r, w: asyncio.sleep(0)) as origin:
            pass  # closed: the port now refuses
        client = Client(timeout=2)
        with pytest.raises(ClientError, match=rf"{origin}, GET /k: cannot connect"):
            await client.request("GET", origin, "/k")

    run(main())


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n" + b"x" * 1000, "declares 1000 bytes, over the limit"),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + b"200\r\n" + b"x" * 512 + b"\r\n0\r\n\r\n",
            "passed the limit of 100 bytes",
        ),
        (b"SPDY/9 banana\r\n\r\n", "malformed answer"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort", "closed the connection before answering"),
    ],
    ids=["declared-too-large", "chunked-too-large", "not-http", "cut-short"],
)
def test_bad_answers_are_errors_and_their_connection_is_not_reused(answer: bytes, message: str):
    async def main() -> None:
        async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            writer.write(answer)
            await writer.drain()
            if b"short" in answer:
                return  # the server goes away mid-body
            await read_request(reader)  # a second request on this connection would be answered well
            writer.write(ok())

        server = Server(once)
        async with server as origin:
            client = Client(timeout=2, max_answer_bytes=100)
            with pytest.raises(ClientError, match=message):
                await client.request("GET", origin, "/k")
            server.handler = server.answering(ok())
            assert (await client.request("GET", origin, "/k")).body == b"hello"
            await client.close()
        assert server.connections == 2

    run(main())


def test_a_kept_alive_connection_the_peer_drops_is_replaced_once_and_a_fresh_one_is_not():
    async def main() -> None:
        async def one_per_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            writer.write(ok())  # keep-alive, as far as the client can tell
            await writer.drain()
            await read_request(reader)  # the next request arrives as the server gives up on the connection

        server = Server(one_per_connection)
        async with server as origin:
            client = Client(timeout=2)
            for _ in range(3):
                assert (await client.request("GET", origin, "/k")).body == b"hello"
            await client.close()
        assert server.connections == 3

        async def never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)

        server = Server(never)
        async with server as origin:
            client = Client(timeout=2)
            with pytest.raises(ClientError, match="closed the connection before answering"):
                await client.request("GET", origin, "/k")
        assert server.connections == 1  # a fresh connection is not retried

    run(main())


def test_connection_close_answers_are_not_reused_and_chunked_bodies_join():
    async def main() -> None:
        chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        chunked += b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        server = Server(lambda r, w: server.answering(chunked)(r, w))
        async with server as origin:
            client = Client(timeout=2)
            for _ in range(2):
                answer = await client.request("GET", origin, "/k")
                assert answer.body == b"abcde" and answer.headers["connection"] == "close"
            await client.close()
        assert server.connections == 2

    run(main())


def test_a_client_serves_only_its_own_event_loop():
    async def make() -> Client:
        return Client()

    client = asyncio.run(make())

    async def elsewhere() -> None:
        with pytest.raises(RuntimeError, match="make one per loop"):
            await client.request("GET", "http://127.0.0.1:1", "/k")

    run(elsewhere())


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        ("/k HTTP/1.1\r\nx-evil: 1\r\n\r\nGET /other", {}),
        ("/k", {"x-sig": "1\r\nx-evil: 1"}),
        ("/caf\u00e9", {}),
        ("/a b", {}),
        ("/k", {"x-a: 1\r\nx-b": "2"}),
        ("/k", {"x-a:": "1"}),
        ("/k", {"": "1"}),
        ("/k", {"x-sig": "caf\u00e9"}),
    ],
    ids=[
        "target-with-crlf",
        "header-with-crlf",
        "not-ascii",
        "space-in-target",
        "name-with-crlf",
        "name-with-colon",
        "empty-name",
        "value-not-ascii",
    ],
)
def test_a_request_that_would_not_be_one_line_is_refused_before_it_is_sent(target: str, headers: dict) -> None:
    async def main() -> None:
        server = Server(lambda r, w: server.answering(ok())(r, w))
        async with server as origin:
            client = Client(timeout=2)
            with pytest.raises(ValueError, match="printable ASCII on one line"):
                await client.request("GET", origin, target, headers)
            await client.close()
        assert server.connections == 0 and server.requests == []

    run(main())

"""Answer only requests whose ``Host`` names this server: the defence against DNS rebinding.

A page on any site can make the browser send requests to ``127.0.0.1``; under DNS rebinding the same page's own
host name resolves to ``127.0.0.1`` and the browser treats the node as same-origin. The ``Host`` header still
carries the attacker's name, so a server that answers only the names it is known by is out of reach (Django's
``ALLOWED_HOSTS``, Starlette's ``TrustedHostMiddleware``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gee.context import Context
    from gee.types import Handler

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def host_name(header: str) -> str:
    """The host part of a ``Host`` header, lower-case, without the port (an IPv6 literal keeps its brackets)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1] if "]" in header else header
    return header.rpartition(":")[0] if ":" in header else header


def allowed_hosts(hosts: Iterable[str] = LOOPBACK_HOSTS) -> Handler:
    """Answer 400 unless the request's ``Host`` is one of ``hosts``.

    Args:
        hosts: exact names (``"segserve.example.org"``, ``"127.0.0.1"``, ``"[::1]"``), ``".example.org"`` for the
            domain and its subdomains, or ``"*"`` for any (then the middleware does nothing).
    """
    names = {h.strip().lower() for h in hosts if h.strip()}
    if not names:
        raise ValueError("allowed_hosts needs at least one host name (or '*' for any)")
    if "*" in names:

        async def anyone(c: Context) -> None:
            return None

        return anyone
    exact = {n for n in names if not n.startswith(".")}
    suffixes = tuple(n for n in names if n.startswith("."))

    async def check(c: Context) -> None:
        name = host_name(c.headers.get("host", ""))
        if name in exact or (suffixes and (name.endswith(suffixes) or f".{name}" in suffixes)):
            return
        message = "the Host header does not name this server; use the address it is published at"
        c.abort_with_json(400, {"error": {"code": "bad_host", "message": message}})

    return check

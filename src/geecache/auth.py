"""Peer authentication: every request between peers, and every answer, carries an HMAC with the cluster secret.

groupcache is read-only on the wire and trusts its network. geecache adds writes, removals and membership, and
segserve keeps medical images and their results in it, so a peer must prove it holds the cluster's secret:

- a request carries ``X-Geecache-Date`` (Unix seconds), ``X-Geecache-Nonce`` (128 random bits) and
  ``X-Geecache-Signature`` = hex HMAC-SHA256 (RFC 2104) over the method, the request target as sent (path and
  query, still percent-encoded), the date, the nonce and the SHA-256 of the body. The server checks it in constant
  time, refuses a date more than ``window`` seconds off its clock, and refuses a nonce it has already seen within
  the window (a replayed request changes nothing).
- the answer carries ``X-Geecache-Signature`` over the request's nonce, the status and the SHA-256 of the answer's
  body, so a value is accepted only from a peer that holds the secret, and only as the answer to this request.

Cost: two SHA-256 passes over the body and two short HMACs per request (``benchmarks/geecache_auth.py``). The
secret is read from a file or an environment variable and never logged or put in an error message. For Go
groupcache peers, which sign nothing, ``HTTPPool(trusted_network=True)`` serves the read-only protocol unsigned.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

from geecache.bounded import check_ttl

DATE = "x-geecache-date"
NONCE = "x-geecache-nonce"
SIGNATURE = "x-geecache-signature"
VERSION = b"geecache-hmac-v1"
SECRET_ENV = "GEECACHE_SECRET"
MIN_SECRET_BYTES = 16


class AuthError(Exception):
    """A request or answer without a valid credential; the message says which check failed, never the secret."""


class PeerAuth:
    """Signs and checks peer requests and answers with one cluster secret.

    Args:
        secret: at least 16 bytes shared by every node of the cluster (``load_secret`` reads one).
        window: seconds a request's date may differ from this node's clock; nonces are remembered this long.
        max_nonces: nonces remembered at most (the oldest are forgotten first beyond it).

    Example:
        >>> auth = PeerAuth(b"0123456789abcdef0123456789abcdef")
        >>> headers = auth.sign_request("GET", "/_groupcache/g/k", b"")
        >>> nonce = auth.verify_request("GET", "/_groupcache/g/k", headers, b"")
        >>> auth.verify_answer(nonce, 200, {SIGNATURE: auth.sign_answer(nonce, 200, b"v")}, b"v")
    """

    def __init__(
        self, secret: bytes, window: float = 30.0, max_nonces: int = 200_000, clock: Callable[[], float] = time.time
    ) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(
                f"the cluster secret must be at least {MIN_SECRET_BYTES} bytes; make one with `make secret`"
            )
        self._key = secret
        self.window = check_ttl(window, "window")
        self.max_nonces = max_nonces
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __repr__(self) -> str:  # never the secret
        return f"PeerAuth(window={self.window})"

    def _mac(self, *parts: bytes) -> str:
        return hmac.new(self._key, b"\n".join((VERSION, *parts)), hashlib.sha256).hexdigest()

    def sign_request(self, method: str, target: str, body: bytes) -> dict[str, str]:
        """Headers that authenticate ``method target`` with ``body``; ``target`` is the path and query as sent."""
        date, nonce = f"{self._clock():.3f}", secrets.token_hex(16)
        signature = self._mac(
            b"request", method.encode(), target.encode(), date.encode(), nonce.encode(), _digest(body)
        )
        return {DATE: date, NONCE: nonce, SIGNATURE: signature}

    def verify_request(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> str:
        """The request's nonce, once its signature, date and nonce pass; else ``AuthError``."""
        date, nonce, signature = headers.get(DATE), headers.get(NONCE), headers.get(SIGNATURE)
        if not date or not nonce or not signature:
            raise AuthError(f"the request carries no peer credential ({DATE}, {NONCE}, {SIGNATURE})")
        if len(nonce) > 64 or len(date) > 32 or len(signature) > 64:
            raise AuthError("the peer credential's headers are longer than any this protocol writes")
        expected = self._mac(b"request", method.encode(), target.encode(), date.encode(), nonce.encode(), _digest(body))
        if not hmac.compare_digest(expected, signature):
            raise AuthError("the peer signature does not match (another secret, or the request was altered)")
        try:
            skew = abs(self._clock() - float(date))
        except ValueError as exc:
            raise AuthError("the peer date is not a number of seconds") from exc
        if not skew <= self.window:
            raise AuthError(f"the peer date is {skew:.0f} s off this node's clock (window {self.window:g} s)")
        self._remember(nonce)
        return nonce

    def _remember(self, nonce: str) -> None:
        now = self._clock()
        while self._seen and (
            next(iter(self._seen.values())) < now - 2 * self.window or len(self._seen) >= self.max_nonces
        ):
            self._seen.popitem(last=False)
        if nonce in self._seen:
            raise AuthError("the peer request was replayed (its nonce was already used)")
        self._seen[nonce] = now

    def sign_answer(self, nonce: str, status: int, body: bytes) -> str:
        return self._mac(b"answer", nonce.encode(), str(status).encode(), _digest(body))

    def verify_answer(self, nonce: str, status: int, headers: Mapping[str, str], body: bytes) -> None:
        signature = headers.get(SIGNATURE)
        if not signature:
            raise AuthError("the peer's answer carries no signature")
        if not hmac.compare_digest(self.sign_answer(nonce, status, body), signature):
            raise AuthError("the peer's answer signature does not match (another secret, or the answer was altered)")


def _digest(body: bytes) -> bytes:
    return hashlib.sha256(body).hexdigest().encode()


def load_secret(path: str | os.PathLike[str] | None = None, env: str = SECRET_ENV) -> bytes | None:
    """The cluster secret from ``path`` (its content, surrounding whitespace removed) or else the environment
    variable ``env``; ``None`` when neither is given. A file readable by others than its owner is refused."""
    if path:
        p = Path(path)
        try:
            mode = p.stat().st_mode
            text = p.read_bytes().strip()
        except OSError as exc:
            raise ValueError(f"cannot read the cluster secret file {p}: {exc.strerror}") from exc
        if mode & 0o077:
            raise ValueError(f"the cluster secret file {p} is readable by others; run `chmod 600 {p}`")
        return text
    value = os.environ.get(env)
    return value.strip().encode() if value else None


def new_secret() -> str:
    """A fresh cluster secret: 32 random bytes, hex."""
    return secrets.token_hex(32)

"""What a Group needs from its peers: pick the owner of a key, and talk to it."""

from __future__ import annotations

from typing import Protocol


class PeerGetter(Protocol):
    """One remote peer."""

    async def get(self, group: str, key: str) -> bytes:
        """The value, or KeyNotFound if the owner says it does not exist; PeerError on failure."""
        ...

    async def set(self, group: str, key: str, value: bytes, ttl: float | None) -> None: ...

    async def remove(self, group: str, key: str) -> None: ...


class PeerPicker(Protocol):
    """The ring of peers, seen from this node."""

    def pick_peer(self, key: str) -> PeerGetter | None:
        """The owner of ``key``, or None when this node owns it."""
        ...

    async def broadcast_remove(self, group: str, key: str) -> None:
        """Invalidate ``key`` on every other peer but its owner (which has the write already)."""
        ...

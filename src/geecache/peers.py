"""What a Group needs from its peers: pick the owner of a key, and talk to it."""

from __future__ import annotations

from typing import Protocol


class PeerGetter(Protocol):
    """One remote peer."""

    async def get(self, group: str, key: str) -> bytes:
        """The value, or KeyNotFound if the owner says it does not exist; PeerError on failure."""
        ...

    async def set(self, group: str, key: str, value: bytes, ttl: float | None) -> None: ...


class PeerPicker(Protocol):
    """The ring of peers, seen from this node."""

    def pick_peer(self, key: str) -> PeerGetter | None:
        """The owner of ``key``, or None when this node owns it."""
        ...

    async def broadcast_remove(self, group: str, key: str, skip_owner: bool) -> None:
        """Invalidate ``key`` on the other peers."""
        ...

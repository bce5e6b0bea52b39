"""Peers inside one process: a real ``PeerPicker`` over several Groups, for tests that need no sockets.

golang/groupcache's own tests do the same (``fakePeers``): the protocol a Group speaks to its peers is small, and
this implementation of it calls the other groups' real methods, so every path of the Group runs as in a cluster.
"""

from __future__ import annotations

from collections.abc import Callable

from geecache import Group


class Peer:
    def __init__(self, group: Group):
        self.group = group

    async def get(self, group: str, key: str) -> bytes:
        return (await self.group.get(key)).bytes()

    async def set(self, group: str, key: str, value: bytes, ttl: float | None) -> None:
        self.group.set_local(key, value, ttl)

    async def remove(self, group: str, key: str) -> None:
        self.group.remove_local(key)


class Peers:
    """``nodes[name]`` is each node's group; ``owner(key)`` names the node that owns ``key``."""

    def __init__(self, nodes: dict[str, Group], me: str, owner: Callable[[str], str]):
        self.nodes = nodes
        self.me = me
        self.owner = owner

    def pick_peer(self, key: str) -> Peer | None:
        owner = self.owner(key)
        return None if owner == self.me else Peer(self.nodes[owner])

    async def broadcast_remove(self, group: str, key: str) -> None:
        for name, node in self.nodes.items():
            if name not in (self.me, self.owner(key)):
                node.remove_local(key)


def connect(nodes: dict[str, Group], owner: Callable[[str], str]) -> None:
    for name, group in nodes.items():
        group.register_peers(Peers(nodes, name, owner))

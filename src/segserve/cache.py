"""Results shared by every node through geecache, with one model run per input in the whole cluster.

groupcache's getter receives only the key, so the node that owns a result key must
be able to fetch the input itself. Two groups do it:

- ``segserve-inputs``: input bytes keyed by their SHA-256. The node that receives a
  request first stores the input on that key's owner (``inputs.set``).
- ``segserve-results``: key = model hash / inference options / input SHA-256. Its
  getter, run only on the key's owner, fetches the input from ``segserve-inputs``
  and runs the model in the bounded pool.

Identical concurrent requests to any nodes therefore all ask the result key's owner,
whose singleflight runs the model once. The inputs getter never raises
``KeyNotFound`` (which geecache would remember as missing for ``negative_ttl``): a
missing input is a transient failure, and the asking node falls back to loading the
result itself from the copy it holds, so a dead peer costs a duplicate inference,
never an error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from geecache import Group, GroupCollector, HTTPPool, PeerError
from geecache.auth import PeerAuth

log = logging.getLogger("segserve.cache")

INPUTS = "segserve-inputs"
RESULTS = "segserve-results"
Loader = Callable[[str, bytes], Awaitable[bytes]]


class InputMissing(RuntimeError):
    """The input of a result key is not on this node (a transient failure, never cached as missing)."""


class Cache:
    """This node's HTTPPool and its two groups; ``self_url`` must be one of ``peers``.

    ``auth`` signs and checks peer traffic (a cluster of several nodes needs it; ``trusted_network`` is geecache's
    unsigned read-only mode, in which inputs cannot be published to their owner, so owners fall back as for a
    dead peer). ``pool.engine()`` is the peer protocol's application, served on the peer listener.
    """

    def __init__(
        self,
        self_url: str,
        peers: list[str] | None = None,
        *,
        result_bytes: int = 256 << 20,
        input_bytes: int = 256 << 20,
        input_ttl: float = 600.0,
        peer_timeout: float = 60.0,
        auth: PeerAuth | None = None,
        trusted_network: bool = False,
    ) -> None:
        self.pool = HTTPPool(self_url, timeout=peer_timeout, auth=auth, trusted_network=trusted_network)
        self.pool.set_peers(*(peers or [self_url]))
        self.inputs = Group(INPUTS, input_bytes, self._load_input, ttl=input_ttl)
        self.results = Group(RESULTS, result_bytes, self._load_result)
        self.pool.register(self.inputs, self.results)
        self._pending: dict[str, tuple[bytes, int]] = {}  # inputs this node is handling now
        self._loader: Loader | None = None
        self.collector = GroupCollector(self.pool.groups.values)  # the groups' metrics, for a Prometheus registry

    def attach(self, loader: Loader) -> None:
        """Set what computes a result from its key and input bytes (the service's pipeline)."""
        self._loader = loader

    def peers(self) -> list[str]:
        return self.pool.peers

    async def result(self, key: str, digest: str, data: bytes) -> bytes:
        """The serialized result for ``key``, computed at most once in the cluster."""
        held = self._pending.get(digest)
        self._pending[digest] = (data, held[1] + 1 if held else 1)
        try:
            if held is None and self.results.main_cache.get(key) is None and self.results.hot_cache.get(key) is None:
                try:
                    await self.inputs.set(digest, data)
                except PeerError as exc:  # the owner may be down; this node still holds the input
                    log.warning("could not publish input %s: %s", digest[:12], exc)
            value = await self.results.get(key)
            return value.bytes()
        finally:
            data_held, count = self._pending[digest]
            if count <= 1:
                del self._pending[digest]
            else:
                self._pending[digest] = (data_held, count - 1)

    async def _load_input(self, digest: str) -> bytes:
        held = self._pending.get(digest)
        if held is not None:
            return held[0]
        raise InputMissing(f"input {digest[:12]} is not held by {self.pool.self_url}")

    async def _load_result(self, key: str) -> bytes:
        if self._loader is None:
            raise RuntimeError("no loader attached; call Cache.attach first")
        digest = key.rsplit("/", 1)[-1]
        held = self._pending.get(digest)
        if held is not None:
            data = held[0]
        else:
            try:
                data = (await self.inputs.get(digest)).bytes()
            except (PeerError, InputMissing) as exc:
                raise InputMissing(f"input {digest[:12]} for {key} is not available here: {exc}") from exc
        return await self._loader(key, data)

    async def close(self) -> None:
        await self.pool.close()

"""Results shared by every node through geecache, with one model run per input in the whole cluster.

groupcache's getter receives only the key, so the node that owns a result key must
be able to fetch the input itself. Two groups do it:

- ``segserve-inputs``: input bytes keyed by their SHA-256. The node that receives a
  request first stores the input on that key's owner (``inputs.set``).
- ``segserve-results``: key = ``keys.ResultKey`` (model, spacing, input SHA-256). Its
  getter, run only on the key's owner, fetches the input from ``segserve-inputs``
  and calls the loader the cache was built with (the inference pipeline).

Identical concurrent requests to any nodes therefore all ask the result key's owner,
whose singleflight runs the model once. The inputs getter never raises
``KeyNotFound`` (which geecache would remember as missing for ``negative_ttl``): a
missing input is a transient failure, and the asking node falls back to loading the
result itself from the copy it holds, so a dead peer costs a duplicate inference,
never an error.

A job (a volume whose progress a client follows) runs on the node that took it, so
that its progress is known there; its result is then published to the key's owner
(``publish``), and every node answers for it from then on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from geecache import Group, GroupCollector, HTTPPool, KeyNotFound, PeerError
from geecache.auth import PeerAuth
from segserve.keys import ResultKey

log = logging.getLogger("segserve.cache")

INPUTS = "segserve-inputs"
RESULTS = "segserve-results"
Loader = Callable[[ResultKey, bytes], Awaitable[bytes]]


class InputMissing(RuntimeError):
    """The input of a result key is not on this node (a transient failure, never cached as missing)."""


class Cache:
    """This node's HTTPPool and its two groups; ``self_url`` must be one of ``peers``; ``loader`` computes a result
    from its key and the input's bytes (it runs on the key's owner).

    ``auth`` signs and checks peer traffic (a cluster of several nodes needs it; ``trusted_network`` is geecache's
    unsigned read-only mode, in which inputs cannot be published to their owner, so owners fall back as for a
    dead peer). ``pool.engine()`` is the peer protocol's application, served on the peer listener.
    """

    def __init__(
        self,
        self_url: str,
        peers: list[str] | None = None,
        *,
        loader: Loader,
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
        self._loader = loader
        self.collector = GroupCollector(self.pool.groups.values)  # the groups' metrics, for a Prometheus registry

    def peers(self) -> list[str]:
        return self.pool.peers

    async def result(self, key: ResultKey, data: bytes) -> bytes:
        """The serialized result for ``key``, computed at most once in the cluster."""
        digest = key.digest
        held = self._pending.get(digest)
        self._pending[digest] = (data, held[1] + 1 if held else 1)
        try:
            if held is None and self.held(key) is None:
                await self.publish_input(digest, data)
            value = await self.results.get(str(key))
            return value.bytes()
        finally:
            data_held, count = self._pending[digest]
            if count <= 1:
                del self._pending[digest]
            else:
                self._pending[digest] = (data_held, count - 1)

    def held(self, key: ResultKey) -> bytes | None:
        """The result if this node holds it (main or hot cache), without asking anyone."""
        value = self.results.main_cache.get(str(key)) or self.results.hot_cache.get(str(key))
        return None if value is None else value.bytes()

    async def lookup(self, key: ResultKey) -> bytes | None:
        """The result from this node or the cluster, or None when no node has it and its input is gone (the
        owner computes it when the input is still held: the usual path)."""
        try:
            return (await self.results.get(str(key))).bytes()
        except (InputMissing, PeerError, KeyNotFound):
            return None

    async def publish(self, key: ResultKey, blob: bytes) -> None:
        """Store a result computed here on the key's owner (and here), so every node answers for it."""
        self.results.set_local(str(key), blob)
        try:
            if self.pool.owner(str(key)) != self.pool.self_url:
                await self.results.set(str(key), blob)
                self.results.set_local(str(key), blob)  # set() drops this node's copy; keep it
        except PeerError as exc:  # the owner is down or the cluster is read-only: this node still answers
            log.warning("could not publish result %s: %s", str(key)[:28], exc)

    async def publish_input(self, digest: str, data: bytes) -> None:
        """Store an input on its owner, for the owner of a result to read (and for DICOM outputs later)."""
        try:
            await self.inputs.set(digest, data)
        except PeerError as exc:  # the owner may be down; this node still holds the input
            log.warning("could not publish input %s: %s", digest[:12], exc)

    async def input(self, digest: str) -> bytes | None:
        """An input's bytes from this node or the cluster (kept for the inputs group's TTL), or None."""
        try:
            return (await self.inputs.get(digest)).bytes()
        except (InputMissing, PeerError, KeyNotFound):
            return None

    async def _load_input(self, digest: str) -> bytes:
        held = self._pending.get(digest)
        if held is not None:
            return held[0]
        raise InputMissing(f"input {digest[:12]} is not held by {self.pool.self_url}")

    async def _load_result(self, text: str) -> bytes:
        key = ResultKey.parse(text)
        digest = key.digest
        held = self._pending.get(digest)
        if held is not None:
            data = held[0]
        else:
            try:
                data = (await self.inputs.get(digest)).bytes()
            except (PeerError, InputMissing) as exc:
                raise InputMissing(f"input {digest[:12]} for {text} is not available here: {exc}") from exc
        return await self._loader(key, data)

    async def close(self) -> None:
        await self.pool.close()

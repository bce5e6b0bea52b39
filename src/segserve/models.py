"""The models one node serves, by name, as serving systems such as Triton serve several at once.

Each model is an ``Inference`` (its ONNX Runtime session behind the node's one bounded pool); the first is the
default, used when a request names none. A result's key names its model by content hash, so one cluster cache
holds every model's results apart, and ``load`` (the results group's getter) sends each key to its own model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from segserve.errors import ServiceError, clip
from segserve.inference import Inference
from segserve.keys import ResultKey


class Models:
    """``inferences`` by name, in the order given; the first is the default. Names are unique and non-empty."""

    def __init__(self, inferences: dict[str, Inference]) -> None:
        if not inferences:
            raise ValueError("a node serves at least one model")
        self._by_name = dict(inferences)
        self._by_key = {inference.model_key: inference for inference in inferences.values()}
        if len(self._by_key) < len(self._by_name):
            raise ValueError("two of the models are the same file (the same content hash); serve it once")
        self.names = list(inferences)
        self.default = inferences[self.names[0]]

    def __iter__(self) -> Iterator[tuple[str, Inference]]:
        return iter(self._by_name.items())

    def get(self, name: str | None) -> Inference:
        """The model a request names (by name, or by the first digits of its SHA-256), or the default."""
        if name is None or name == "":
            return self.default
        if name in self._by_name:
            return self._by_name[name]
        matches = [i for i in self._by_name.values() if len(name) >= 8 and i.model.info.sha256.startswith(name)]
        if len(matches) == 1:
            return matches[0]
        raise ServiceError(
            400,
            "unknown_model",
            f"model {clip(repr(name))} is not served here; name one of {', '.join(self.names)} (GET /v1/models)",
            valid=self.names,
        )

    def name_of(self, inference: Inference) -> str:
        return next(name for name, candidate in self._by_name.items() if candidate is inference)

    def by_key(self, key: ResultKey) -> Inference:
        """The model a result key was made for; 409 when this node does not serve it."""
        inference = self._by_key.get(key.model)
        if inference is None:
            raise ServiceError(409, "model_mismatch", f"this node does not serve model {key.model}")
        return inference

    def serves(self, key: ResultKey) -> bool:
        return key.model in self._by_key

    async def load(self, key: ResultKey, data: bytes) -> bytes:
        """The results group's getter body: the key's own model computes it."""
        return await self.by_key(key).load(key, data)

    def describe(self) -> list[dict[str, Any]]:
        return [
            {"name": name, "default": inference is self.default, **inference.model.describe()}
            for name, inference in self._by_name.items()
        ]

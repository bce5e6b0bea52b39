"""The errors a cache user meets."""

from __future__ import annotations


class KeyNotFound(LookupError):
    """The data for a key does not exist: raised by getters, and by ``Group.get``.

    Not-found is an answer, not a failure: it is cached briefly on the owner, sent
    to peers as a 404, and never retried locally by the node that asked.
    """

    def __init__(self, group: str, key: str, reason: str = "the getter found no such key"):
        super().__init__(f"group {group!r}: key {key!r} not found ({reason})")
        self.group = group
        self.key = key


class PeerError(Exception):
    """A peer could not be asked or gave no usable answer; the value is then loaded locally."""

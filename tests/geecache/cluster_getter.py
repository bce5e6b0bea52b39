"""The getter the multi-process tests load into their nodes (``--getter cluster_getter:get_value``)."""

import os
import time

from geecache import KeyNotFound

DELAY = float(os.environ.get("GETTER_DELAY", "0"))  # simulated database time, so concurrent loads overlap


def get_value(key: str) -> bytes:
    if DELAY:
        time.sleep(DELAY)
    if key.startswith("missing-"):
        raise KeyNotFound("scores", key)
    if key.startswith("big-"):
        return (key.encode() * (1 << 20))[: 1 << 20]  # exactly 1 MiB
    return f"py:{key}".encode()

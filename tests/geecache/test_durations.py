"""Every duration is checked: 0 means "do not cache" where that has a meaning (negative_ttl), and is refused
elsewhere; negative, NaN and infinite durations are refused with a clear error, never read as "forever"."""

from __future__ import annotations

import asyncio
import math

import httpx
import pytest

from geecache import Group, HTTPPool, KeyNotFound, LRUCache, S3FIFOCache
from geecache.auth import PeerAuth
from geecache.node import main as node_main

from tests.geecache.test_http import SECRET, cluster, signed

BAD = [0, 0.0, -1, -0.5, math.nan, math.inf, -math.inf]


def missing(key: str) -> bytes:
    raise KeyNotFound("g", key)


def test_negative_ttl_0_remembers_nothing() -> None:
    calls: list[str] = []

    def getter(key: str) -> bytes:
        calls.append(key)
        raise KeyNotFound("g", key)

    group = Group("g", 1 << 20, getter, negative_ttl=0)

    async def ask() -> None:
        for _ in range(5):
            with pytest.raises(KeyNotFound):
                await group.get("nobody")

    asyncio.run(ask())
    assert calls == ["nobody"] * 5 and len(group.negative_cache) == 0


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf])
def test_a_bad_negative_ttl_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="negative_ttl"):
        Group("g", 1, missing, negative_ttl=bad)


@pytest.mark.parametrize("bad", BAD)
def test_a_bad_group_ttl_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match=r"ttl must be a finite number of seconds above 0 \(None: no expiry\)"):
        Group("g", 1, missing, ttl=bad)


@pytest.mark.parametrize(("option", "value"), [("ttl", "5"), ("ttl", True)])
def test_a_ttl_that_is_not_a_number_is_a_type_error(option: str, value: object) -> None:
    with pytest.raises(TypeError, match="number of seconds"):
        Group("g", 1, missing, **{option: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(("option", "value"), [("ttl_jitter", -0.1), ("ttl_jitter", math.nan), ("hot_cache_ratio", 2)])
def test_bad_fractions_are_refused(option: str, value: float) -> None:
    with pytest.raises(ValueError, match=option):
        Group("g", 1, missing, **{option: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", BAD)
def test_set_with_a_bad_ttl_is_refused_and_stores_nothing(bad: float) -> None:
    group = Group("g", 1 << 20, lambda key: b"from the getter")
    with pytest.raises(ValueError, match="ttl"):
        asyncio.run(group.set("k", b"written", ttl=bad))
    with pytest.raises(ValueError, match="ttl"):
        group.set_local("k", b"written", ttl=bad)
    assert group.main_cache.get("k") is None
    assert group.get_sync("k") == b"from the getter"


@pytest.mark.parametrize("cache_type", [LRUCache, S3FIFOCache])
@pytest.mark.parametrize("bad", BAD)
def test_caches_refuse_a_bad_ttl(cache_type: type[LRUCache[bytes]], bad: float) -> None:
    cache = cache_type(max_bytes=100)
    with pytest.raises(ValueError, match="ttl"):
        cache.add("k", b"v", ttl=bad)
    assert "k" not in cache and cache.nbytes == 0


def test_set_with_a_ttl_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("geecache.lru.time.monotonic", lambda: now[0])
    group = Group("g", 1 << 20, lambda key: b"from the getter", ttl_jitter=0)
    group.set_local("k", b"written", ttl=5)
    assert group.main_cache.get("k") == b"written"
    now[0] += 5.01
    assert group.main_cache.get("k") is None


@pytest.mark.parametrize("ttl", ["0", "-1", "nan", "NaN", "inf", "-inf", "1e999", "", "abc", "0x10"])
def test_put_with_a_bad_ttl_answers_400_and_stores_nothing(ttl: str) -> None:
    auth = PeerAuth(SECRET)
    path = f"/_groupcache/kv/put-key?ttl={ttl}"
    with cluster(1) as (node,), httpx.Client(base_url=node.url) as client:
        answer = client.put(path, content=b"poison", headers=signed(auth, "PUT", path, b"poison"))
        assert answer.status_code == 400 and "ttl must be a finite number of seconds above 0" in answer.text
        assert node.group.main_cache.get("put-key") is None
        good = "/_groupcache/kv/put-key?ttl=5"
        assert client.put(good, content=b"kept", headers=signed(auth, "PUT", good, b"kept")).status_code == 204
        assert node.group.main_cache.get("put-key") == b"kept"


def test_the_pool_refuses_a_bad_timeout() -> None:
    for bad in BAD:
        with pytest.raises(ValueError, match="timeout"):
            HTTPPool("http://127.0.0.1:1", timeout=bad)


def test_peer_auth_refuses_a_bad_window() -> None:
    for bad in BAD:
        with pytest.raises(ValueError, match="window"):
            PeerAuth(SECRET, window=bad)


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--ttl", "0"), ("--ttl", "-1"), ("--ttl", "nan"), ("--negative-ttl", "inf"), ("--timeout", "0")],
)
def test_a_node_refuses_bad_durations_on_its_command_line(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["node", "--self", "http://127.0.0.1:1", "--peers", "http://127.0.0.1:1", "--group", "g"]
    with pytest.raises(SystemExit) as exit_info:
        node_main([*argv, "--getter", "os:getcwd", flag, value])
    assert exit_info.value.code == 2
    assert "finite number of seconds above 0" in capsys.readouterr().err

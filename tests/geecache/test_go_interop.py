"""Interoperability with a real golang/groupcache peer, built offline from Debian's packages.

.ci/run installs golang-go and golang-github-golang-groupcache-dev; on a machine
without them these tests are skipped, except under CI, where that is a failure.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from geecache import Ring

from tests.geecache.cluster import python_cluster
from tests.processes import free_port

GO_DIR = Path(__file__).resolve().parent / "go"
GOPATH = "/usr/share/gocode"
SPECIAL_KEYS = ["plain", "with space", "a+b", "with/slash", "100%", "%41", "ünïcode ✓", "", "q?x=1&y=2#f"]


def go_binary(name: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("go") is None or not Path(GOPATH, "src/github.com/golang/groupcache").is_dir():
        message = "needs golang-go and golang-github-golang-groupcache-dev (apt-get install them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("go") / name
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH, "GOPROXY": "off", "GOFLAGS": "-mod=mod"}
    env.setdefault("GOCACHE", str(tmp_path_factory.getbasetemp() / "gocache"))
    subprocess.run(["go", "build", "-o", str(out), "."], cwd=GO_DIR / name, env=env, check=True)
    return out


@pytest.fixture(scope="module")
def ringowners(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return go_binary("ringowners", tmp_path_factory)


@pytest.fixture(scope="module")
def gopeer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return go_binary("peer", tmp_path_factory)


@pytest.mark.parametrize("replicas", [1, 50, 160])
def test_ring_agrees_with_go_on_every_key(ringowners: Path, replicas: int):
    peers = [f"http://127.0.0.1:{8000 + i}" for i in range(7)]
    keys = [f"key-{random.random()}" for _ in range(3000)] + [k for k in SPECIAL_KEYS if k]
    result = subprocess.run(
        [str(ringowners), "-peers", ",".join(peers), "-replicas", str(replicas)],
        input="\n".join(keys) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    ring = Ring(replicas, peers=peers)
    assert result.stdout.splitlines() == [ring.get(k) for k in keys]


@pytest.fixture
def mixed_cluster(gopeer: Path) -> Iterator[tuple[str, list]]:
    """One Go peer and two Python nodes on one ring, in the trusted-network mode Go peers need (no signatures)."""
    go_port = free_port()
    go_url = f"http://127.0.0.1:{go_port}"
    with python_cluster(2, extra_peers=[go_url], trusted=True) as nodes:
        peers = [n.url for n in nodes] + [go_url]
        process = subprocess.Popen(
            [str(gopeer), "-self", go_url, "-peers", ",".join(peers), "-addr", f"127.0.0.1:{go_port}"],
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 10
            while True:  # Go's ListenAndServe prints nothing: poll until it accepts
                try:
                    httpx.get(f"{go_url}/loads", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
            yield go_url, nodes
        finally:
            process.kill()
            process.wait()


def test_python_and_go_peers_fetch_from_each_other(mixed_cluster):
    go_url, nodes = mixed_cluster
    ring = Ring(50, peers=[n.url for n in nodes] + [go_url])
    keys = SPECIAL_KEYS + [f"k{i}" for i in range(40)]
    for key in keys:
        owner = ring.get(key)
        expected = (b"go:" if owner == go_url else b"py:") + key.encode()
        # Python asks: values owned by Go come over the wire from Go.
        python_answer = httpx.get(f"{nodes[0].api}/api", params={"key": key})
        assert python_answer.content == expected, (key, owner)
        # Go asks: values owned by Python nodes come from them.
        go_answer = httpx.get(f"{go_url}/get", params={"key": key})
        assert go_answer.status_code == 200, go_answer.text
        assert go_answer.content == expected, (key, owner)
    go_owned = sum(ring.get(k) == go_url for k in keys)
    assert 0 < go_owned < len(keys)
    assert int(httpx.get(f"{go_url}/loads").text) == go_owned  # Go loaded only its own keys


# Keys that a URL library would normalise. Go's ServeMux answers a path with a "." or ".." segment (after its own
# percent-decoding) with a redirect to the cleaned path, another key: the Python client takes that as a peer failure
# and loads the key itself. Either way each key gets its own value, never another key's.
URL_NORMALISED_KEYS = [".", "..", "./k", "a/../b", "a/./b", "k/.", "k/..", "%2e", "//", "a//b", "a/", "?", "#", "?x"]
URL_NORMALISED_KEYS += [f"./k{i}" for i in range(12)] + [f"k{i}/.." for i in range(12)]


def test_keys_a_url_library_would_normalise_keep_their_own_values(mixed_cluster):
    go_url, nodes = mixed_cluster
    ring = Ring(50, peers=[n.url for n in nodes] + [go_url])
    go_owned = [k for k in URL_NORMALISED_KEYS if ring.get(k) == go_url]
    assert go_owned  # the list is long enough that Go owns some of these keys
    for key in URL_NORMALISED_KEYS:
        answer = httpx.get(f"{nodes[0].api}/api", params={"key": key})
        assert answer.status_code == 200 and answer.content in (b"go:" + key.encode(), b"py:" + key.encode()), key
        if ring.get(key) != go_url:
            assert answer.content == b"py:" + key.encode(), key
        go_answer = httpx.get(f"{go_url}/get", params={"key": key})
        assert go_answer.content in (b"go:" + key.encode(), b"py:" + key.encode()), key

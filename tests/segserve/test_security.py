"""The trust model of a node: peers on their own listener with the cluster secret, the public port guarded by an
API token when asked, answering only its own host names, with hardening headers; and no exposure by accident."""

from __future__ import annotations

import base64
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from geecache.auth import PeerAuth

from tests.imagefiles import png_bytes
from tests.processes import running
from tests.segserve.conftest import CLUSTER_SECRET, ROOT, Node, phantom

TOKEN = "segserve-test-api-token-0123456789"
PEER_PATHS = [
    "/_groupcache/segserve-results/abc/sp=file/def",
    "/_groupcache/segserve-inputs/def",
    "/_geecache/peers",
    "/_geecache/stats",
]


@pytest.fixture(scope="module")
def guarded(standin: pathlib.Path) -> Iterator[Node]:
    with running([Node(standin, env={"SEGSERVE_API_TOKEN": TOKEN})]) as (node,):
        yield node


@pytest.mark.parametrize("path", PEER_PATHS)
def test_the_public_port_serves_no_peer_route(node: Node, path: str) -> None:
    assert httpx.get(f"{node.url}{path}").status_code == 404
    assert httpx.put(f"{node.url}{path}", content=b"x" * 23).status_code == 404


def test_the_peer_listener_answers_no_one_without_the_secret(node: Node) -> None:
    """A single node's peer listener: anonymous reads, writes and membership changes are refused, nothing changes."""
    image = png_bytes(phantom())
    digest = hashlib.sha256(image).hexdigest()
    model = httpx.get(f"{node.url}/v1/models").json()["models"][0]["sha256"][:16]
    key_path = f"/_groupcache/segserve-results/{model}/sp=file/{digest}"
    assert httpx.put(f"{node.peer_url}{key_path}", content=b"23 arbitrary bytes here!").status_code == 401
    members = httpx.put(f"{node.peer_url}/_geecache/peers", json={"peers": [node.peer_url, "http://127.0.0.1:9"]})
    assert members.status_code == 401  # a single node holds a throw-away secret: nobody is a peer
    assert httpx.get(f"{node.url}/healthz").json()["peers"] == [node.peer_url]
    forged = PeerAuth(CLUSTER_SECRET.encode())  # a secret, but not this node's
    headers = forged.sign_request("PUT", key_path, b"23 arbitrary bytes here!")
    assert (
        httpx.put(f"{node.peer_url}{key_path}", content=b"23 arbitrary bytes here!", headers=headers).status_code == 401
    )
    answer = httpx.post(f"{node.url}/v1/segment", content=image, params={"format": "png"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"  # the real segmentation


def test_hardening_headers_and_allowed_hosts(node: Node) -> None:
    page = httpx.get(f"{node.url}/")
    assert page.status_code == 200
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    error = httpx.post(f"{node.url}/v1/segment", content=b"not an image")
    assert error.headers["x-content-type-options"] == "nosniff"
    rebound = httpx.get(f"{node.url}/v1/models", headers={"host": "attacker.example:8000"})
    assert rebound.status_code == 400 and rebound.json()["error"]["code"] == "bad_host"
    assert httpx.get(f"{node.url}/v1/models", headers={"host": "localhost:8000"}).status_code == 200


def test_an_api_token_guards_the_api_and_the_page_but_not_health(guarded: Node) -> None:
    image = png_bytes(phantom())
    anonymous = httpx.post(f"{guarded.url}/v1/segment", content=image)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(f"{guarded.url}/").status_code == 401
    wrong = httpx.post(f"{guarded.url}/v1/segment", content=image, headers={"authorization": "Bearer " + "x" * 34})
    assert wrong.status_code == 401
    bearer = httpx.post(f"{guarded.url}/v1/segment", content=image, headers={"authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    assert httpx.get(f"{guarded.url}/", headers={"authorization": f"Basic {basic}"}).status_code == 200
    assert httpx.get(f"{guarded.url}/healthz").status_code == 200


def run_node(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m segserve`` that is expected to refuse to start: it must exit at once with a message."""
    return subprocess.run(
        [sys.executable, "-m", "segserve", "--port", "0", "--tcp-port", "-1", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={k: v for k, v in {**os.environ, **(env or {})}.items() if k not in ("GEECACHE_SECRET",)},
    )


def test_no_exposure_by_accident(standin: pathlib.Path) -> None:
    public = run_node("--model", str(standin), "--host", "0.0.0.0")
    assert public.returncode != 0 and "API token" in public.stderr and "--allow-anonymous" in public.stderr
    cluster = run_node("--model", str(standin), "--peers", "http://127.0.0.1:1,http://127.0.0.1:2", "--self",
                       "http://127.0.0.1:1")  # fmt: skip
    assert cluster.returncode != 0 and "cluster secret" in cluster.stderr


def test_tcp_needs_the_token_first(guarded: Node) -> None:
    import socket

    from tests.segserve.conftest import tcp_call, tcp_read

    image = base64.b64encode(png_bytes(phantom())).decode()
    with socket.create_connection(("127.0.0.1", guarded.tcp_port), timeout=10) as sock:
        tcp_call(sock, {"id": 1, "op": "segment", "image": image})
        assert tcp_read(sock)["error"]["code"] == "unauthorized"
        tcp_call(sock, {"id": 2, "op": "health"})
        assert tcp_read(sock)["ok"] is True  # health needs no token
        tcp_call(sock, {"id": 3, "op": "auth", "token": TOKEN})
        assert tcp_read(sock) == {"id": 3, "ok": True, "result": {"authenticated": True}}
        tcp_call(sock, {"id": 4, "op": "segment", "image": image})
        assert tcp_read(sock)["ok"] is True
    with socket.create_connection(("127.0.0.1", guarded.tcp_port), timeout=10) as sock:
        tcp_call(sock, {"id": 5, "op": "auth", "token": "x" * len(TOKEN)})
        assert tcp_read(sock)["error"]["code"] == "unauthorized"
        assert sock.recv(1) == b""  # and the connection is closed


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificate")
def test_tls_on_the_public_port_and_tcp(standin: pathlib.Path, tmp_path: pathlib.Path) -> None:
    import socket
    import ssl

    from tests.segserve.conftest import tcp_call, tcp_read

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    node = Node(standin, "--tls-cert", str(cert), "--tls-key", str(key)).start()
    try:
        assert node.url.startswith("https://")
        answer = httpx.post(f"{node.url}/v1/segment", content=png_bytes(phantom()), verify=str(cert))
        assert answer.status_code == 200
        with pytest.raises(httpx.TransportError):
            httpx.get(node.url.replace("https://", "http://") + "/healthz", timeout=5)  # no plain HTTP
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        with context.wrap_socket(socket.create_connection(("127.0.0.1", node.tcp_port), timeout=10)) as sock:
            tcp_call(sock, {"id": 1, "op": "health"})
            assert tcp_read(sock)["ok"] is True
    finally:
        node.stop()

"""Three real nodes sharing results through geecache: one inference per input in the whole cluster."""

from __future__ import annotations

import pathlib
import threading
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tests.imagefiles import png_bytes
from tests.processes import free_port, running
from tests.segserve.conftest import Node


@pytest.fixture
def cluster(standin: pathlib.Path) -> Iterator[list[Node]]:
    ports = [free_port() for _ in range(3)]
    peers = [f"http://127.0.0.1:{port}" for port in ports]
    with running([Node(standin, peer_port=port, peers=peers) for port in ports]) as nodes:
        yield nodes


def inferences(nodes: list[Node]) -> int:
    return int(sum(node.metric("segserve_inferences_total") for node in nodes))


def send_to_all_at_once(nodes: list[Node], body: bytes, rounds: int = 1) -> list[httpx.Response]:
    barrier = threading.Barrier(len(nodes) * rounds)
    answers: list[httpx.Response] = []

    def one(node: Node) -> None:
        barrier.wait()
        answers.append(httpx.post(f"{node.url}/v1/segment?format=json", content=body, timeout=30))

    threads = [threading.Thread(target=one, args=(node,)) for node in nodes * rounds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_same_image_on_every_node_at_once_runs_the_model_once(cluster: list[Node]) -> None:
    for seed in range(3):  # several images, so that several different nodes own results
        image = np.random.default_rng(seed).integers(0, 255, (128, 160), np.uint8)
        answers = send_to_all_at_once(cluster, png_bytes(image), rounds=2)
        assert [a.status_code for a in answers] == [200] * 6
        assert len({a.content for a in answers}) == 1
        assert inferences(cluster) == seed + 1


def test_a_killed_node_does_not_stop_the_others(cluster: list[Node]) -> None:
    body = png_bytes(np.random.default_rng(7).integers(0, 255, (64, 64), np.uint8))
    assert httpx.post(f"{cluster[0].url}/v1/segment", content=body).status_code == 200
    cluster[2].kill()
    for seed in range(8):  # new inputs: some are owned by the dead node, on either group
        fresh = png_bytes(np.random.default_rng(100 + seed).integers(0, 255, (64, 64), np.uint8))
        for node in cluster[:2]:
            response = httpx.post(f"{node.url}/v1/segment?format=png", content=fresh, timeout=30)
            assert response.status_code == 200, response.text
    assert httpx.post(f"{cluster[1].url}/v1/segment", content=body).status_code == 200

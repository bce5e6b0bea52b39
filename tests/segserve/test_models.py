"""Several models on one node (``--model`` repeated), and the bundled model in either precision."""

from __future__ import annotations

import base64
import pathlib
import socket

import httpx
import pytest

from segserve.node import model_specs

from tests.imagefiles import png_bytes
from tests.segserve.conftest import BUNDLED, SAMPLES, Node, phantom, tcp_call, tcp_read


def test_two_models_listed_chosen_by_name_and_cached_apart(standin: pathlib.Path, slow_standin: pathlib.Path) -> None:
    node = Node(standin, "--model", f"slow={slow_standin}").start()  # Node passes --model standin first
    try:
        listed = httpx.get(f"{node.url}/v1/models", timeout=10).json()["models"]
        assert [(m["name"], m["default"], m["precision"]) for m in listed] == [
            ("standin", True, "fp32"),
            ("slow", False, "fp32"),
        ]
        body = png_bytes(phantom())
        default = httpx.post(f"{node.url}/v1/segment", content=body, timeout=30)
        slow = httpx.post(f"{node.url}/v1/segment", content=body, params={"model": "slow"}, timeout=30)
        assert default.status_code == slow.status_code == 200
        assert default.json()["model"] == listed[0]["sha256"] and slow.json()["model"] == listed[1]["sha256"]
        assert node.metric("segserve_inferences_total") == 2  # one input, two models: two results
        by_hash = httpx.post(f"{node.url}/v1/segment", content=body, params={"model": listed[1]["sha256"][:12]})
        assert by_hash.status_code == 200 and by_hash.headers["x-cache"] == "hit"
        unknown = httpx.post(f"{node.url}/v1/segment", content=body, params={"model": "nope"}, timeout=10)
        assert unknown.status_code == 400 and unknown.json()["error"]["valid"] == ["standin", "slow"]
        job = httpx.post(f"{node.url}/v1/jobs", content=body, params={"model": "slow"}, timeout=30).json()
        assert job["id"].startswith(listed[1]["sha256"][:16])
        with socket.create_connection(("127.0.0.1", node.tcp_port), timeout=30) as sock:
            tcp_call(sock, {"id": 1, "op": "segment", "image": base64.b64encode(body).decode(), "model": "slow"})
            answer = tcp_read(sock)
            assert answer["ok"] and answer["result"]["model"] == listed[1]["sha256"]
        assert 'name="slow"' in httpx.get(f"{node.url}/metrics", timeout=10).text
    finally:
        node.stop()


def test_model_names_come_from_the_flag_or_the_file_and_are_unique() -> None:
    assert model_specs(["/m/a.onnx", "fast=/m/b.onnx"], "fp32") == {"a": "/m/a.onnx", "fast": "/m/b.onnx"}
    assert model_specs(None, "int8") == {"default-int8": str(BUNDLED.with_name("default-int8.onnx"))}
    with pytest.raises(SystemExit, match="name each model once"):
        model_specs(["/m/a.onnx", "a=/n/other.onnx"], "fp32")


def test_the_bundled_int8_model_runs_with_precision_int8() -> None:
    int8 = BUNDLED.with_name("default-int8.onnx")
    if not int8.is_file():
        pytest.skip(f"{int8} is not committed")
    node = Node("", "--precision", "int8").start()  # no --model: the bundled model in the precision asked for
    try:
        listed = httpx.get(f"{node.url}/v1/models", timeout=10).json()["models"]
        assert [(m["name"], m["precision"]) for m in listed] == [("default-int8", "int8")]
        assert "int8" in httpx.get(f"{node.url}/", timeout=10).text
    finally:
        node.stop()


def test_the_bundled_int8_model_labels_as_the_fp32_one_does() -> None:
    """A quantization gone wrong (a broken calibration, a node quantized that must stay float) answers background
    everywhere while every other check passes: the two bundled files must agree on a real CT slice."""
    int8 = BUNDLED.with_name("default-int8.onnx")
    sample = SAMPLES / "ct_btcv_b_z4.png"
    if not int8.is_file() or not sample.is_file():
        pytest.skip("the bundled models or samples are not committed")
    from medimage import read_path, to_model
    from segserve.model import Model

    fp32_model, int8_model = Model(BUNDLED, threads=1), Model(int8, threads=1)
    planes = to_model(read_path(sample), fp32_model.info).planes
    fp32_labels, int8_labels = fp32_model.predict(planes), int8_model.predict(planes)
    organs = fp32_labels > 0
    assert organs.mean() > 0.1  # the slice holds organs
    assert (int8_labels[organs] == fp32_labels[organs]).mean() > 0.9

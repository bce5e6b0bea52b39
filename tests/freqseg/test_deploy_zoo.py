"""benchmarks/deploy_zoo.py's architectures, untrained and tiny (64x64): each builds offline, exports to ONNX with a
dynamic batch and the parity check, and quantizes to static INT8. No timing."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SIZE = 64
NEEDS = {"yolov8n-seg": "ultralytics"}  # the others: torchvision


def load_zoo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_zoo", ROOT / "benchmarks" / "deploy_zoo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


zoo = load_zoo()


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """PyTorch on one thread: on cores shared with another busy process, two threads under libgomp's default waiting
    made these tiny models' forward passes up to a hundred times slower (see the benchmark's docstring)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", list(zoo.ARCHITECTURES))
def test_builds_offline_exports_with_parity_and_quantizes(name: str, tmp_path: Path) -> None:
    package = NEEDS.get(name, "torchvision")
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed: pip install -e '.[bench]'")
    architecture = zoo.ARCHITECTURES[name]
    with zoo.no_network() as attempts:
        model = zoo.build(architecture, statistics_size=SIZE)
        report = zoo.export_module(model, tmp_path / f"{name}.onnx", SIZE, architecture.outputs)
    assert attempts == []  # no online check, no weight or font download
    for figures in report["parity"]:
        assert figures["max_abs_output"] > 0.1  # BatchNorm statistics set: outputs of a size the check means something
        assert figures["max_abs_diff"] <= 1e-3 * max(1.0, figures["max_abs_output"])

    fp32 = onnx.load(report["out"])
    assert fp32.opset_import[0].version >= 17
    assert [o.name for o in fp32.graph.output] == list(architecture.outputs)
    session = ort.InferenceSession(report["out"], providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": np.random.default_rng(0).random((3, 3, SIZE, SIZE), dtype=np.float32)})
    assert [g.shape[0] for g in got] == [3] * len(architecture.outputs)  # the batch is dynamic
    if name == "yolov8n-seg":  # 4 box + 80 classes + 32 mask coefficients at (8^2 + 4^2 + 2^2) anchors; 32 prototypes
        assert [g.shape[1:] for g in got] == [(116, 84), (32, SIZE // 4, SIZE // 4)]

    rng = np.random.default_rng(1)
    calibration = [rng.random((3, SIZE, SIZE), dtype=np.float32) for _ in range(2)]
    zoo.quiet_quantize(Path(report["out"]), tmp_path / f"{name}-int8.onnx", calibration)
    ops = {node.op_type for node in onnx.load(str(tmp_path / f"{name}-int8.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops


def test_no_network_refuses_and_records() -> None:
    import socket

    with zoo.no_network() as attempts, pytest.raises(OSError):
        socket.getaddrinfo("example.org", 443)
    assert attempts == ["DNS lookup of example.org"]
    assert socket.getaddrinfo("localhost", 0)  # restored after

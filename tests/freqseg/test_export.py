"""ONNX export of a tiny untrained GFUNet: dynamic shapes, parity with torch.fft, metadata, INT8 and its errors."""

import json
import logging

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from freqseg.checkpoint import build_model
from freqseg.config import TrainConfig
from freqseg.export import ExportError, export_onnx, quantize_int8, read_metadata

CLASSES = ["background", "spleen", "liver"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    config = TrainConfig.from_dict({"size": "tiny", "dataset": "unused", "spacing": [2.0, 2.0]})
    model = build_model(config, CLASSES)
    path = tmp_path_factory.mktemp("ckpt") / "best.pt"
    torch.save({"model": model.state_dict(), "config": config.to_dict(), "classes": CLASSES}, path)
    return path


@pytest.fixture(scope="module")
def exported(checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    return export_onnx(checkpoint, out, parity_shapes=[(1, 64, 64), (2, 48, 80), (1, 16, 48)])


def test_export_matches_pytorch_at_several_sizes_and_batches(exported):
    assert exported["max_abs_diff"] <= 1e-4 * max(1.0, exported["max_abs_logit"])
    session = ort.InferenceSession(exported["out"], providers=["CPUExecutionProvider"])
    for shape in [(1, 1, 32, 32), (5, 1, 96, 16), (3, 1, 112, 144)]:  # odd numbers of patches included
        logits = session.run(["logits"], {"image": np.random.rand(*shape).astype(np.float32)})[0]
        assert logits.shape == (shape[0], len(CLASSES), *shape[2:])


def test_one_file_without_dft_and_with_metadata(exported):
    model = onnx.load(exported["out"])
    assert model.opset_import[0].version >= 17
    assert not {"DFT", "STFT"} & {node.op_type for node in model.graph.node}
    assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    meta = read_metadata(exported["out"])
    assert json.loads(meta["classes"]) == CLASSES
    assert json.loads(meta["spacing"]) == [2.0, 2.0] and json.loads(meta["window"]) == [-175.0, 250.0]
    assert meta["stride"] == "16" and len(meta["sha256"]) == 64 and meta["layout"] == "ras-xy"


def test_int8_is_static_qdq_and_close(exported, tmp_path):
    logging.disable(logging.WARNING)  # ONNX Runtime's quantizer notes every rank-1 weight it skips per channel
    rng = np.random.default_rng(0)
    calibration = [rng.random((1, 64, 64), dtype=np.float32) for _ in range(4)]
    report = quantize_int8(exported["out"], tmp_path / "int8.onnx", calibration)
    logging.disable(logging.NOTSET)
    ops = {node.op_type for node in onnx.load(report["out"]).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops and "DynamicQuantizeLinear" not in ops
    assert report["sha256"] != read_metadata(exported["out"])["sha256"] and "static QDQ" in report["quantization"]
    image = calibration[0][None]
    fp32 = ort.InferenceSession(exported["out"]).run(["logits"], {"image": image})[0]
    int8 = ort.InferenceSession(report["out"]).run(["logits"], {"image": image})[0]
    assert np.corrcoef(int8.ravel(), fp32.ravel())[0, 1] > 0.98  # 8 bits: close, not equal
    assert (int8.argmax(1) == fp32.argmax(1)).mean() > 0.9
    with pytest.raises(ExportError, match="at least one image"):
        quantize_int8(exported["out"], tmp_path / "none.onnx", [])


def test_parity_failure_deletes_the_file(checkpoint, tmp_path):
    with pytest.raises(ExportError, match="nothing written"):
        export_onnx(checkpoint, tmp_path / "strict.onnx", tolerance=0.0, parity_shapes=[(1, 32, 32)])
    assert not (tmp_path / "strict.onnx").exists()

"""GFUNet's INT8-minded options (norm, upsample, activation): they build, run, export with parity, and quantize with
BatchNorm folded and the global filter left in float."""

import logging
from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from freqseg.config import TrainConfig
from freqseg.export import export_model, float_nodes, quantize_int8
from freqseg.models.gfunet import GFUNet, GFUNetConfig, config_for

CLASSES = ["background", "spleen", "liver"]
SHAPES = [(1, 64, 64), (2, 48, 80)]


def variant(**options: str) -> GFUNet:
    """A tiny untrained model with BatchNorm statistics away from their defaults, so folding them is tested."""
    torch.manual_seed(0)
    model = GFUNet(config_for("tiny", num_classes=len(CLASSES), position_embedding=False, **options))
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def export(model: GFUNet, path) -> dict:
    config = TrainConfig.from_dict({"size": "tiny", "dataset": "unused"})
    return export_model(model, config, CLASSES, path, "test", parity_shapes=SHAPES)


@pytest.fixture(scope="module")
def chosen(tmp_path_factory):
    """The design ``small-int8`` trains (BatchNorm, ReLU MLP), exported: the model and the export's report."""
    model = variant(norm="batch", activation="relu")
    return model, export(model, tmp_path_factory.mktemp("onnx") / "model.onnx")


@pytest.mark.parametrize("norm", ["layer", "batch"])
@pytest.mark.parametrize("upsample", ["bilinear", "nearest", "transpose"])
def test_variants_run_at_any_multiple_of_the_stride(norm, upsample):
    model = variant(norm=norm, upsample=upsample, activation="relu")
    with torch.no_grad():
        for batch, height, width in [(2, 64, 48), (1, 16, 112)]:
            assert model(torch.rand(batch, 1, height, width)).shape == (batch, len(CLASSES), height, width)
    norms = {type(m) for m in model.modules()}
    assert (nn.BatchNorm2d in norms) == (norm == "batch") and (nn.GroupNorm in norms) == (norm == "layer")
    assert any(isinstance(m, nn.ConvTranspose2d) for m in model.modules()) == (upsample == "transpose")


def test_defaults_are_the_trained_models_design():
    config = GFUNetConfig()
    assert (config.norm, config.upsample, config.activation) == ("layer", "bilinear", "gelu")
    for field, value in [("norm", "instance"), ("upsample", "cubic"), ("activation", "silu")]:
        with pytest.raises(ValueError, match=field):
            GFUNetConfig(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("options", [{"norm": "batch", "upsample": "nearest"}, {"upsample": "transpose"}])
def test_export_matches_pytorch(options, chosen, tmp_path):
    for report in (chosen[1], export(variant(**options), tmp_path / "model.onnx")):  # export_model raises above 1e-4
        assert report["max_abs_diff"] <= 1e-4 * max(1.0, report["max_abs_logit"])


def test_batchnorm_folds_into_the_convolutions(chosen, tmp_path):
    model, report = chosen
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC  # where Conv+BN fusion runs
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(report["out"], options, providers=["CPUExecutionProvider"])
    blocks = sum(depth for depth in config_for("tiny").depths)
    graph = onnx.load(str(tmp_path / "optimized.onnx")).graph
    producers = {output: node.op_type for node in graph.node for output in node.output}
    readers = Counter(tensor for node in graph.node for tensor in node.input)
    norms = [n for n in graph.node if n.op_type == "BatchNormalization"]
    assert not [n for n in norms if producers.get(n.input[0]) == "Conv" and readers[n.input[0]] == 1]
    # Left: the one in front of each global filter, which runs in float (the exporter folds the rest already).
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) > len(norms) == blocks


def test_int8_keeps_the_global_filter_in_float(chosen, tmp_path):
    report = chosen[1]
    exported = onnx.load(report["out"])
    kept = set(float_nodes(exported))
    assert {n.name for n in exported.graph.node if n.op_type == "MatMul"} <= kept
    assert not {n.name for n in exported.graph.node if n.op_type == "Conv"} & kept
    rng = np.random.default_rng(0)
    calibration = [rng.random((1, 64, 64), dtype=np.float32) for _ in range(4)]
    logging.disable(logging.WARNING)
    quantized = quantize_int8(report["out"], tmp_path / "int8.onnx", calibration)
    logging.disable(logging.NOTSET)
    graph = onnx.load(quantized["out"]).graph
    producers = {output: node.op_type for node in graph.node for output in node.output}
    matmuls = [n for n in graph.node if n.op_type == "MatMul"]
    assert matmuls and not any(producers.get(i) == "DequantizeLinear" for n in matmuls for i in n.input[1:])
    image = calibration[0][None]
    fp32 = ort.InferenceSession(report["out"]).run(["logits"], {"image": image})[0]
    int8 = ort.InferenceSession(quantized["out"]).run(["logits"], {"image": image})[0]
    assert np.corrcoef(int8.ravel(), fp32.ravel())[0, 1] > 0.98

"""ONNX export and static INT8 quantization: the model file the service runs with ONNX Runtime alone.

The global filters switch to the matrix-product form of the transform before export, so the graph holds no DFT
operator (slow in ONNX Runtime) and keeps height and width dynamic. Everything the service needs to pre- and
post-process an image travels in the file's metadata (``freqseg.*`` keys), so the service never reads a
checkpoint or imports torch. Export ends with a parity check against PyTorch's ``torch.fft`` model; a file that
fails it is deleted, not left behind.
"""

from __future__ import annotations

import ast
import hashlib
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from freqseg.checkpoint import load_checkpoint, model_spec, model_stride
from freqseg.config import TrainConfig
from freqseg.models.gfunet import GFUNet
from medimage import INPUT_NAME, OUTPUT_NAME, PREFIX, ModelSpec

PARITY_SHAPES = ((1, 128, 128), (2, 208, 256), (3, 64, 48))


class ExportError(ValueError):
    """The exported model does not match PyTorch, or cannot be quantized: nothing usable was written."""


def export_onnx(
    checkpoint: str | Path,
    out: str | Path,
    opset: int = 18,
    tolerance: float = 1e-4,
    parity_shapes: Sequence[tuple[int, int, int]] = PARITY_SHAPES,
    postprocess: str | None = None,
) -> dict[str, Any]:
    """Write ``out`` (one file, dynamic batch/height/width) and return its metadata and parity figures. The file's
    post-processing is the checkpoint's, or ``postprocess`` if given."""
    model, config, classes = load_checkpoint(checkpoint, torch.device("cpu"))
    if postprocess is not None:
        config = replace(config, postprocess=postprocess)
    return export_model(model, config, classes, out, Path(checkpoint).name, opset, tolerance, parity_shapes)


def export_model(
    model: torch.nn.Module,
    config: TrainConfig,
    classes: list[str],
    out: str | Path,
    source: str,
    opset: int = 18,
    tolerance: float = 1e-4,
    parity_shapes: Sequence[tuple[int, int, int]] = PARITY_SHAPES,
) -> dict[str, Any]:
    """``export_onnx`` for a model in memory (in eval mode) that ``config`` describes; ``source`` names it in the
    metadata."""
    out = Path(out)
    stride = model_stride(model)
    architecture = f"{config.model} ({config.size})" if config.model != "unet" else "MONAI UNet"
    if isinstance(model, GFUNet):
        model.set_transform("matmul")
    example = torch.rand(2, 1, 8 * stride, 6 * stride)
    batch = torch.export.Dim("batch", min=1, max=1024)
    rows = torch.export.Dim("rows", min=1, max=4096 // stride)
    cols = torch.export.Dim("cols", min=1, max=4096 // stride)
    program = torch.onnx.export(
        model,
        (example,),
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_shapes=({0: batch, 2: stride * rows, 3: stride * cols},),
        opset_version=opset,
        dynamo=True,
        external_data=False,
        verbose=False,
    )
    assert program is not None
    proto = program.model_proto
    spec = replace(model_spec(model, config, classes), architecture=architecture, extra=(("source", source),))
    onnx.helper.set_model_props(proto, spec.to_metadata())  # the hash covers the graph and its contract
    spec = replace(spec, sha256=hashlib.sha256(proto.SerializeToString()).hexdigest())
    onnx.helper.set_model_props(proto, spec.to_metadata())
    metadata = read_props(proto)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(proto, str(out))
    if isinstance(model, GFUNet):
        model.set_transform("fft")  # the parity reference is the model as trained
    worst, scale = parity(model, out, parity_shapes)
    if worst > tolerance * max(1.0, scale):
        out.unlink()
        raise ExportError(
            f"ONNX Runtime differs from PyTorch by {worst:.2e} on logits up to {scale:.1f} (more than {tolerance:.0e} "
            "of them); nothing written"
        )
    return {"out": str(out), "bytes": out.stat().st_size, "max_abs_diff": worst, "max_abs_logit": scale,
            "opset": opset, "dataset": config.dataset, **metadata}  # fmt: skip


def parity(
    model: torch.nn.Module, onnx_path: str | Path, shapes: Sequence[tuple[int, int, int]]
) -> tuple[float, float]:
    """Largest |ONNX Runtime - PyTorch| over random inputs of the given (batch, height, width), and the largest
    |logit| PyTorch gave: float32 differences grow with the logits, so the bound is relative to them (at least 1)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(0)
    worst = scale = 0.0
    with torch.no_grad():
        for batch, height, width in shapes:
            image = torch.rand(batch, 1, height, width, generator=generator)
            expected = model(image).numpy()
            got = session.run([OUTPUT_NAME], {INPUT_NAME: image.numpy()})[0]
            worst = max(worst, float(np.abs(got - expected).max()))
            scale = max(scale, float(np.abs(expected).max()))
    return worst, scale


def calibration_slices(report: dict[str, Any], count: int, dataset: str | None = None) -> list[np.ndarray]:
    """``count`` training slices spread evenly over the split, preprocessed as the exported model expects (its
    metadata in ``report``, from ``export_onnx``): INT8 calibration data. ``dataset`` overrides the training one."""
    from freqseg.data import Preprocessing, SliceDataset, load_dataset

    spec = ModelSpec.from_metadata({PREFIX + k: str(v) for k, v in report.items()}, str(report.get("out", "")))
    classes = list(spec.classes)
    prep = Preprocessing.from_spec(spec)
    data = load_dataset(dataset or report["dataset"])
    slices = SliceDataset(data.cases["training"], len(classes), prep)
    picks = np.linspace(0, len(slices) - 1, min(count, len(slices))).round().astype(int)
    return [slices[int(i)][0].numpy() for i in picks]


def read_metadata(onnx_path: str | Path) -> dict[str, str]:
    """The ``freqseg.*`` metadata of an exported file, without the prefix (``medimage.modelfile`` defines it)."""
    return read_props(onnx.load(str(onnx_path), load_external_data=False))


def read_props(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key[len(PREFIX) :]: p.value for p in model.metadata_props if p.key.startswith(PREFIX)}


def float_nodes(model: onnx.ModelProto) -> list[str]:
    """The nodes INT8 leaves in float: every node of a token mixer (the global filter's DFT and complex product,
    whose module scope the exporter records on each node), and, for files without those scopes, every MatMul with
    no weight among its inputs (the DFT's); then every other node but a convolution whose outputs only those read
    (the norm in front of a filter), which would otherwise be quantized for nothing: its output is dequantized
    again at once. Eight bits on both sides of a 64-point DFT cost too much accuracy, and quantizing only the DFT's
    MatMuls still put Quantize/DequantizeLinear on the products and sums between them, which ONNX Runtime then
    fused into integer matrix products anyway (MatMulIntegerToFloat)."""
    weights = {tensor.name for tensor in model.graph.initializer}
    names = set()
    for node in model.graph.node:
        scopes = next((p.value for p in node.metadata_props if p.key == "pkg.torch.onnx.name_scopes"), "[]")
        in_mixer = any(scope.rsplit(".", 1)[-1] == "mixer" for scope in ast.literal_eval(scopes))
        if in_mixer or (node.op_type == "MatMul" and not weights & set(node.input)):
            names.add(node.name)
    readers: dict[str, list[str]] = {}
    for node in model.graph.node:
        for tensor in node.input:
            readers.setdefault(tensor, []).append(node.name)
    for node in reversed(model.graph.node):  # topological order, reversed: a node's readers come first
        read_by = [reader for tensor in node.output for reader in readers.get(tensor, [])]
        if node.op_type not in ("Conv", "ConvTranspose") and read_by and names.issuperset(read_by):
            names.add(node.name)
    return sorted(names)


def quantize_int8(
    fp32_path: str | Path,
    out: str | Path,
    calibration: Sequence[np.ndarray],
    per_channel: bool = True,
    op_types: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Static QDQ INT8 (weights per channel, activations calibrated on ``calibration`` images [1, H, W]).

    Static, not dynamic: dynamic quantization leaves convolutions' activations in float and made conv nets about
    11x slower here. ``op_types`` limits it to those operators (e.g. ``["Conv"]``). The metadata is copied over,
    with a new hash and the calibration count.
    """
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration:
        raise ExportError("INT8 calibration needs at least one image; give training slices")

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.images: Iterator[np.ndarray] = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            image = next(self.images, None)
            return None if image is None else {INPUT_NAME: image[None].astype(np.float32)}

    out = Path(out)
    metadata = read_metadata(fp32_path)
    with tempfile.TemporaryDirectory() as work:
        prepared = Path(work) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(out),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=float_nodes(onnx.load(str(fp32_path))),  # names the pre-processing keeps
            op_types_to_quantize=list(op_types) if op_types else None,  # None: every kind ONNX Runtime can
        )
    proto = onnx.load(str(out))
    digest = hashlib.sha256(proto.SerializeToString()).hexdigest()
    metadata.update(sha256=digest, quantization=f"static QDQ int8, per-channel, {len(calibration)} calibration slices")
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, {PREFIX + k: v for k, v in metadata.items()})
    onnx.save_model(proto, str(out))
    return {"out": str(out), "bytes": out.stat().st_size, **metadata}

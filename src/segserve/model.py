"""The segmentation model: an ONNX Runtime session and the freqseg metadata that says how to feed it.

Only ONNX Runtime and numpy run here, never torch: the exported file is all the
service needs. The metadata (``freqseg.*`` in the model's ``metadata_props``) is the
contract with the exporter: class names, the CT window, the pixel spacing the model
was trained at, the stride that H and W must be multiples of, the axis layout, and a
content hash that names the model in cache keys.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from segserve.errors import ModelError

DEFAULT_MODEL = pathlib.Path(__file__).resolve().parent / "assets" / "default.onnx"
INPUT_NAME = "image"
OUTPUT_NAME = "logits"
PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "dml": "DmlExecutionProvider",
}


@dataclass(frozen=True)
class ModelInfo:
    """What the exporter wrote into the model, checked once at load time."""

    classes: tuple[str, ...]
    window: tuple[float, float]  # Hounsfield units: clipped to it, then scaled to [0, 1]
    spacing: tuple[float, float]  # mm per pixel along the model's two input axes (x, y)
    stride: int  # H and W must be multiples of it
    sha256: str
    architecture: str
    layout: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "window_hu": list(self.window),
            "spacing_mm": list(self.spacing),
            "stride": self.stride,
            "sha256": self.sha256,
            "architecture": self.architecture,
            "layout": self.layout,
        }


def _meta_json(meta: dict[str, str], key: str, path: str) -> Any:
    if key not in meta:
        raise ModelError(f"{path}: metadata {key!r} is missing; export the model with the freqseg exporter")
    try:
        return json.loads(meta[key])
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: metadata {key!r} is not JSON: {meta[key]!r}") from exc


def read_info(meta: dict[str, str], path: str, file_hash: str) -> ModelInfo:
    """Validate the freqseg metadata; every failure names the key and what it should hold."""
    classes = _meta_json(meta, "freqseg.classes", path)
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise ModelError(f"{path}: 'freqseg.classes' must be a JSON list of class names")
    if len(classes) > 256:
        raise ModelError(f"{path}: {len(classes)} classes do not fit an 8-bit label map (at most 256)")
    window = _meta_json(meta, "freqseg.window", path)
    spacing = _meta_json(meta, "freqseg.spacing", path)
    for key, value in (("freqseg.window", window), ("freqseg.spacing", spacing)):
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value)):
            raise ModelError(f"{path}: {key!r} must be a JSON list of two numbers, not {value!r}")
    if not window[0] < window[1] or min(spacing) <= 0:
        raise ModelError(f"{path}: window {window} must be increasing and spacing {spacing} positive")
    try:
        stride = int(meta.get("freqseg.stride", "1"))
    except ValueError as exc:
        raise ModelError(f"{path}: 'freqseg.stride' must be an integer, not {meta['freqseg.stride']!r}") from exc
    layout = meta.get("freqseg.layout", "ras-xy")
    if layout != "ras-xy":
        raise ModelError(f"{path}: layout {layout!r} is not supported; this service reads 'ras-xy' models")
    return ModelInfo(
        classes=tuple(classes),
        window=(float(window[0]), float(window[1])),
        spacing=(float(spacing[0]), float(spacing[1])),
        stride=max(1, stride),
        sha256=meta.get("freqseg.sha256") or file_hash,
        architecture=meta.get("freqseg.architecture", "unknown"),
        layout=layout,
    )


class Model:
    """An ONNX Runtime session plus its metadata; ``predict`` turns a batch of slices into labels.

    ``threads`` is ONNX Runtime's intra-op thread count per run; with several pool
    workers running at once, keep ``workers * threads`` near the number of cores.
    The session is shared by all workers: ``InferenceSession.run`` is thread-safe.
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_MODEL, provider: str = "cpu", threads: int = 0):
        self.path = str(path)
        if not os.path.isfile(self.path):
            raise ModelError(
                f"model file {self.path} does not exist; pass --model PATH to an ONNX file exported by freqseg"
            )
        name = PROVIDERS.get(provider.lower(), provider)
        available = ort.get_available_providers()
        if name not in available:
            raise ModelError(
                f"execution provider {provider!r} is not available in this onnxruntime build; "
                f"available: {', '.join(available)}"
            )
        with open(self.path, "rb") as file:
            blob = file.read()
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(0, threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(blob, sess_options=options, providers=[name])
        except Exception as exc:  # onnxruntime raises its own exception types for a bad file
            raise ModelError(f"{self.path} is not a model ONNX Runtime can load: {exc}") from exc
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        self.info = read_info(meta, self.path, hashlib.sha256(blob).hexdigest())
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name for o in self.session.get_outputs()}
        if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
            raise ModelError(
                f"{self.path}: expected input {INPUT_NAME!r} and output {OUTPUT_NAME!r}, "
                f"found inputs {sorted(inputs)} and outputs {sorted(outputs)}"
            )
        self.provider = self.session.get_providers()[0]
        self.threads = threads
        self._lock = threading.Lock()
        self.runs = 0  # session.run calls
        self.slices = 0  # slices through the model
        self.run_seconds = 0.0

    def predict(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
        """Labels [N, X, Y] (uint8) for windowed slices [N, X, Y] in [0, 1] on the model's grid.

        Pads X and Y at the high end to the model's stride with 0 (the bottom of the
        window, i.e. air), runs the model, crops back and takes the arg-max class.
        """
        n, x, y = batch.shape
        stride = self.info.stride
        px, py = -x % stride, -y % stride
        tensor = batch[:, None]
        if px or py:
            tensor = np.pad(tensor, ((0, 0), (0, 0), (0, px), (0, py)))
        start = time.perf_counter()
        (logits,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(tensor, dtype=np.float32)})
        elapsed = time.perf_counter() - start
        with self._lock:
            self.runs += 1
            self.slices += n
            self.run_seconds += elapsed
        if logits.ndim != 4 or logits.shape[0] != n or logits.shape[1] != len(self.info.classes):
            raise ModelError(
                f"the model answered logits of shape {logits.shape}; expected [{n}, {len(self.info.classes)}, H, W]"
            )
        return argmax_classes(logits[:, :, :x, :y])

    def describe(self) -> dict[str, Any]:
        return {
            **self.info.as_dict(),
            "file": os.path.basename(self.path),
            "provider": self.provider,
            "input": {
                "name": INPUT_NAME,
                "shape": ["N", 1, "X", "Y"],
                "dtype": "float32",
                "multiple_of": self.info.stride,
                "formats": ["png", "jpeg", "dicom", "nifti"],
            },
            "output": {"name": OUTPUT_NAME, "shape": ["N", len(self.info.classes), "X", "Y"]},
        }


def argmax_classes(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """Arg-max over the class axis of [N, C, X, Y], as uint8.

    One contiguous pass per class instead of numpy's strided ``argmax(axis=1)``,
    which is several times slower on this layout; ties go to the lower class, as
    with ``argmax``.
    """
    best = logits[:, 0].copy()
    labels = np.zeros(best.shape, np.uint8)
    for c in range(1, logits.shape[1]):
        plane = logits[:, c]
        better = plane > best
        np.copyto(labels, np.uint8(c), where=better)
        np.maximum(best, plane, out=best)
    return labels

"""The segmentation model: an ONNX Runtime session and the metadata that says how to feed it.

Only ONNX Runtime and numpy run here, never torch: the exported file is all the service needs. Its metadata is
read through ``medimage.ModelSpec``, the contract the exporter writes: class names, the window, the spacing, the
stride, the modality, and a content hash that names the model in cache keys.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import threading
import time
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from medimage import FORMATS, INPUT_NAME, OUTPUT_NAME, ModelFileError, ModelSpec, available_cpus, pad_to_stride
from segserve.errors import ModelError

DEFAULT_MODEL = pathlib.Path(__file__).resolve().parent / "assets" / "default.onnx"
BUNDLED = {"fp32": DEFAULT_MODEL, "int8": DEFAULT_MODEL.with_name("default-int8.onnx")}
"""The bundled model in each precision (``segserve --precision``); both are exports of one checkpoint."""
PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "dml": "DmlExecutionProvider",
}


class Model:
    """An ONNX Runtime session plus its metadata; ``predict`` turns a batch of slices into labels.

    ``threads`` is ONNX Runtime's intra-op thread count per run (0: the CPUs this process may use, by its
    affinity and cgroup quota, not the machine's count); with several pool workers running at once, keep
    ``workers * threads`` near that number. The session is shared by all workers: ``InferenceSession.run`` is
    thread-safe.
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
        threads = threads or available_cpus()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Threads that sleep instead of spinning while idle: spinning saves a little on an idle machine and costs
        # far more when the cores are shared (another process, or two runs at once).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(blob, sess_options=options, providers=[name])
        except Exception as exc:  # onnxruntime raises its own exception types for a bad file
            raise ModelError(f"{self.path} is not a model ONNX Runtime can load: {exc}") from exc
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        try:
            self.info = ModelSpec.from_metadata(meta, self.path, hashlib.sha256(blob).hexdigest())
        except ModelFileError as exc:
            raise ModelError(str(exc)) from exc
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name for o in self.session.get_outputs()}
        if INPUT_NAME not in inputs or OUTPUT_NAME not in outputs:
            raise ModelError(
                f"{self.path}: expected input {INPUT_NAME!r} and output {OUTPUT_NAME!r}, "
                f"found inputs {sorted(inputs)} and outputs {sorted(outputs)}"
            )
        # ONNX Runtime's arena keeps its high-water mark (a 2048x2048 plane left 3.2 GB held); shrinking it after
        # each run gives most of it back at the default's speed; without an arena runs are ~27 % slower
        # (benchmarks/segserve_ort_memory.py).
        self._run_options = ort.RunOptions()
        self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
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
        tensor = pad_to_stride(batch[:, None], self.info.stride)
        start = time.perf_counter()
        feeds = {INPUT_NAME: np.ascontiguousarray(tensor, dtype=np.float32)}
        (logits,) = self.session.run([OUTPUT_NAME], feeds, self._run_options)
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

    @property
    def precision(self) -> str:
        """``int8`` for a quantized file (its metadata names the quantization), else ``fp32``."""
        return "int8" if dict(self.info.extra).get("quantization") else "fp32"

    def describe(self) -> dict[str, Any]:
        return {
            **self.info.as_dict(),
            "precision": self.precision,
            "window_hu": list(self.info.window) if self.info.modality == "CT" else None,
            "file": os.path.basename(self.path),
            "provider": self.provider,
            "input": {
                "name": INPUT_NAME,
                "shape": ["N", 1, "X", "Y"],
                "dtype": "float32",
                "multiple_of": self.info.stride,
                "formats": [*FORMATS, "zip"],
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

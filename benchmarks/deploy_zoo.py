"""The deployment table's other rows: YOLOv8n-seg, EfficientNet-B0 and DeepLabV3 built without weights, exported and
timed the way ``freqseg_deploy.py`` times the project's own models.

Each architecture is built untrained (ultralytics' model YAML; torchvision's constructors with ``weights=None``: no
weights can be fetched here), its BatchNorm statistics set on a few random images (see ``set_batchnorm_statistics``),
exported to ONNX (opset 18, dynamic batch) with ``torch.onnx.export(dynamo=True)`` as ``freqseg.export`` does, checked
against PyTorch on random inputs (every output: max |ONNX Runtime - PyTorch| within ``--tolerance`` of the output's
magnitude, at least 1: the project's bound), quantized to static QDQ INT8 with ``freqseg.export.quantize_int8`` on a
handful of random images, and timed: ONNX Runtime fp32 and INT8 and PyTorch at batch 1 and 8, ``--threads`` intra-op
threads, interleaved over ``--rounds`` rounds (medians). The accuracy columns stay empty: there are no weights to
score. Random weights and random calibration make every INT8 figure a speed figure only. Then ONNX Runtime's own
profile of each file at batch 1 (milliseconds per operator type) says where the INT8 speed-up comes from or goes.

PyTorch runs with ``OMP_WAIT_POLICY=PASSIVE`` unless the variable is set (the script restarts itself with it): on two
cores shared with another busy process (a training job), libgomp's default waiting made PyTorch on 2 threads 10 to
150 times slower (EfficientNet-B0 at batch 1: 2.4 s, against 17 ms passive and 16 ms on one thread). ONNX Runtime
keeps its defaults, as in ``freqseg_deploy.py``.

Nothing here reaches the network: every DNS lookup and socket connection is refused and recorded while it runs
(``no_network``), and the table says whether anything tried.

DeepLabV3-ResNet50 gets its params, FLOPs and one timed PyTorch forward, and a timed row only with ``--resnet50``:
on two shared cores its batch-8 row alone takes many minutes.

    python benchmarks/deploy_zoo.py [--rounds 5] [--resnet50]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import copy
import importlib
import json
import logging
import os
import socket
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from freqseg.complexity import count_flops, cpu_latency, parameters
from freqseg.export import ExportError, quantize_int8
from medimage import INPUT_NAME

OUT = Path("runs/deploy-zoo")
NO_WEIGHTS = "no weights (none can be fetched here)"
TORCHVISION_NOTES: list[str] = []


@contextlib.contextmanager
def no_network() -> Iterator[list[str]]:
    """Refuse every DNS lookup and every internet socket connection made inside, and list them (an import-time
    online check, a weight, font or package download): nothing here may reach the network."""
    attempts: list[str] = []
    lookup, connect, connect_ex = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex

    def refuse_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(f"DNS lookup of {host}")
        raise OSError(f"deploy_zoo: no network (lookup of {host} refused)")

    def refuse(self: socket.socket, address: Any) -> Any:  # connect and connect_ex alike
        if self.family == socket.AF_UNIX:
            return connect(self, address)
        attempts.append(f"connection to {address}")
        raise OSError(f"deploy_zoo: no network (connection to {address} refused)")

    socket.getaddrinfo = refuse_lookup
    socket.socket.connect = refuse  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign,assignment]
    try:
        yield attempts
    finally:
        socket.getaddrinfo = lookup
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]


def import_torchvision() -> types.ModuleType:
    """``import torchvision``, also where its C++ ops cannot load. The only torchvision 0.28.0 wheel this machine's
    indexes hold is PyPI's CUDA build, whose ``_C.so`` links ``libc10_cuda.so``, which the CPU torch lacks; torchvision
    then skips its ops, but ``_meta_registrations`` registers a fake ``torchvision::nms`` unconditionally and the
    import fails. That module only registers shapes for the detection ops (nms, roi_align, deform_conv2d), which no
    model here uses: stubbed, the import goes through and the model constructors (pure Python) are torchvision's own.
    With the CPU wheel (``torchvision==0.28.0+cpu`` from PyTorch's CPU index) nothing is stubbed."""
    try:
        return importlib.import_module("torchvision")
    except RuntimeError as error:
        if "torchvision::nms" not in str(error):
            raise
    for name in [name for name in sys.modules if name.split(".")[0] == "torchvision"]:
        del sys.modules[name]
    sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
    module = importlib.import_module("torchvision")
    TORCHVISION_NOTES.append(
        f"torchvision {module.__version__}: its C++ ops could not load against torch {torch.__version__} (the CUDA "
        "wheel), so its meta registrations were stubbed; the models use none of those ops"
    )
    return module


def import_ultralytics_tasks() -> types.ModuleType:
    """``ultralytics.nn.tasks``, imported offline: no import-time online check (a DNS probe otherwise), no pip
    auto-install, no banner, and its settings file in a temporary folder instead of ~/.config."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "deploy-zoo-ultralytics"))
    return importlib.import_module("ultralytics.nn.tasks")


class Wrapper(nn.Module):
    """A model whose outputs are picked out of what ``model`` returns in eval mode (in train mode it may return
    something else: ``set_batchnorm_statistics`` runs ``model`` itself)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model


class YoloOutputs(Wrapper):
    """An ultralytics segmentation model's inference outputs, the two its predictor reads: predictions [B, 4 + classes
    + 32, anchors] (boxes as centre x, y, width, height in pixels, class scores after a sigmoid, 32 mask coefficients;
    no NMS) and mask prototypes [B, 32, H/4, W/4]. In eval mode the model also returns its raw head outputs."""

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        predictions, protos = self.model(image)[0]
        return predictions, protos


class SegmentationOut(Wrapper):
    """torchvision's segmentation models return a dict; its ``out`` entry holds the logits at the input's size."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.model(image)["out"]
        return logits


def yolov8n_seg() -> nn.Module:
    tasks = import_ultralytics_tasks()
    return YoloOutputs(tasks.SegmentationModel("yolov8n-seg.yaml", verbose=False))  # scale n, nc 80: the YAML's


def efficientnet_b0() -> nn.Module:
    model: nn.Module = import_torchvision().models.efficientnet_b0(weights=None)
    return model


def deeplabv3_mobilenet() -> nn.Module:
    segmentation = import_torchvision().models.segmentation
    return SegmentationOut(segmentation.deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None))


def deeplabv3_resnet50() -> nn.Module:
    segmentation = import_torchvision().models.segmentation
    return SegmentationOut(segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None))


@dataclass(frozen=True)
class Architecture:
    name: str  # the row's name and the files' stem
    description: str
    size: int  # square input side
    outputs: tuple[str, ...]
    build: Callable[[], nn.Module]


ARCHITECTURES = {
    a.name: a
    for a in (
        Architecture("yolov8n-seg", "YOLOv8n-seg, ultralytics YAML, 80 classes", 640, ("predictions", "protos"),
                     yolov8n_seg),
        Architecture("efficientnet-b0", "EfficientNet-B0, torchvision, 1000 classes", 224, ("logits",),
                     efficientnet_b0),
        Architecture("deeplabv3-mobilenet-v3-large", "DeepLabV3, MobileNetV3-Large, torchvision, 21 classes", 520,
                     ("logits",), deeplabv3_mobilenet),
        Architecture("deeplabv3-resnet50", "DeepLabV3, ResNet50, torchvision, 21 classes", 520, ("logits",),
                     deeplabv3_resnet50),
    )
}  # fmt: skip


def build(architecture: Architecture, statistics_size: int | None = None, seed: int = 0) -> nn.Module:
    """The architecture in eval mode, seeded, with BatchNorm statistics from random images of ``statistics_size``
    (its own input size unless given)."""
    torch.manual_seed(seed)
    model = architecture.build()
    set_batchnorm_statistics(model, statistics_size or architecture.size, seed=seed)
    return model.eval()


def set_batchnorm_statistics(model: nn.Module, size: int, batches: int = 2, batch: int = 2, seed: int = 0) -> None:
    """BatchNorm's running statistics from random [0, 1) images, as training would leave them, in place of the
    untrained mean 0 and variance 1. Left untrained, the activations shrink stage after stage: EfficientNet-B0's
    logits came out near 1e-13, with denormal floats on the way that made PyTorch ten times slower, and a parity
    check relative to such outputs checks nothing. Batches of 2: DeepLab's image-pooling branch normalizes a 1x1 map."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches
    generator = torch.Generator().manual_seed(seed)
    runner = model.model if isinstance(model, Wrapper) else model
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            runner(torch.rand(batch, 3, size, size, generator=generator))
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    model.eval()


def export_module(
    model: nn.Module,
    out: str | Path,
    size: int,
    output_names: Sequence[str],
    tolerance: float = 1e-3,
    parity_batches: Sequence[int] = (1, 2),
    opset: int = 18,
) -> dict[str, Any]:
    """Write ``out`` (one file; input ``image`` [batch, 3, size, size], the batch dynamic) from a model in eval mode
    and check it against PyTorch on random inputs of each batch in ``parity_batches``: every output's max
    |ONNX Runtime - PyTorch| within ``tolerance`` times its max |PyTorch output| (at least 1): ``freqseg.export``'s
    bound, at ``freqseg_deploy.py``'s default (1e-3; DeepLabV3-ResNet50 differs from itself in float64 by about 2e-4
    of its output in float32). A file that fails is deleted and ``ExportError`` raised. Returns the parity figures
    per output."""
    out = Path(out)
    batch = torch.export.Dim("batch", min=1, max=1024)
    program = torch.onnx.export(
        copy.deepcopy(model),  # exporting can leave traced state behind (YOLO's anchor cache): time the original
        (torch.rand(2, 3, size, size),),
        input_names=[INPUT_NAME],
        output_names=list(output_names),
        dynamic_shapes=({0: batch},),
        opset_version=opset,
        dynamo=True,
        external_data=False,
        verbose=False,
    )
    assert program is not None
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(program.model_proto, str(out))
    figures = parity(model, out, size, parity_batches)
    failed = [f for f in figures if f["max_abs_diff"] > tolerance * max(1.0, f["max_abs_output"])]
    if failed:
        out.unlink()
        raise ExportError(
            "ONNX Runtime differs from PyTorch: "
            + "; ".join(
                f"{f['output']} by {f['max_abs_diff']:.2e} on values up to {f['max_abs_output']:.3g}" for f in failed
            )
            + f" (more than {tolerance:.0e} of them); nothing written"
        )
    return {"out": str(out), "bytes": out.stat().st_size, "opset": opset, "tolerance": tolerance, "parity": figures}


def parity(model: nn.Module, onnx_path: str | Path, size: int, batches: Sequence[int]) -> list[dict[str, Any]]:
    """Per output: the largest |ONNX Runtime - PyTorch| and the largest |PyTorch output| over random [0, 1) images of
    each batch size, their ratio, and float32's own error there: the largest |PyTorch float32 - PyTorch float64| at
    the first batch size (what a difference of that size is worth)."""
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    generator = torch.Generator().manual_seed(1)
    worst = dict.fromkeys(names, 0.0)
    scale = dict.fromkeys(names, 0.0)
    shapes: dict[str, list[int | str]] = {}
    noise: dict[str, float] = {}
    with torch.no_grad():
        for batch in batches:
            image = torch.rand(batch, 3, size, size, generator=generator)
            expected = outputs(model(image))
            got = session.run(names, {INPUT_NAME: image.numpy()})
            for name, want, have in zip(names, expected, got, strict=True):
                worst[name] = max(worst[name], float(np.abs(have - want.numpy()).max()))
                scale[name] = max(scale[name], float(np.abs(want.numpy()).max()))
                shapes[name] = ["batch", *have.shape[1:]]
            if not noise:
                exact = outputs(copy.deepcopy(model).double()(image.double()))
                noise = {n: float((w.double() - e).abs().max()) for n, w, e in zip(names, expected, exact, strict=True)}
    return [{"output": n, "shape": shapes[n], "max_abs_diff": worst[n], "max_abs_output": scale[n],
             "relative": worst[n] / max(scale[n], 1e-30), "torch_fp32_vs_fp64": noise[n]} for n in names]  # fmt: skip


def outputs(value: Any) -> tuple[torch.Tensor, ...]:
    return tuple(value) if isinstance(value, tuple | list) else (value,)


def session(path: Path, provider: str, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=[provider])


def op_profile(path: Path, image: np.ndarray, threads: int, runs: int = 3) -> dict[str, float]:
    """ONNX Runtime's profile of ``runs`` runs after one warm-up: mean milliseconds per run for each operator type
    (the kernel ONNX Runtime ran, after its fusions: QLinearConv, FusedConv, ...), largest first."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.enable_profiling = True
    options.profile_file_prefix = str(OUT / f"profile-{path.stem}")
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    for _ in range(runs + 1):
        sess.run(None, {INPUT_NAME: image})
    trace = Path(sess.end_profiling())
    events = json.loads(trace.read_text())
    trace.unlink()
    windows = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("name") == "model_run")[1:]
    totals: collections.Counter[str] = collections.Counter()
    for event in events:
        kernel = event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time")
        if kernel and any(start <= event["ts"] <= end for start, end in windows):
            totals[event["args"]["op_name"]] += event["dur"] / 1e3 / len(windows)
    return dict(totals.most_common())


def quiet_quantize(fp32: Path, int8: Path, calibration: Sequence[np.ndarray]) -> dict[str, Any]:
    logging.disable(logging.WARNING)  # the quantizer's per-weight notes
    try:
        report: dict[str, Any] = quantize_int8(fp32, int8, calibration)
        return report
    finally:
        logging.disable(logging.NOTSET)


def parity_cell(figures: list[dict[str, Any]]) -> str:
    return "; ".join(f"{f['max_abs_diff']:.1e} of {f['max_abs_output']:.3g}" for f in figures)


def main() -> None:
    if "OMP_WAIT_POLICY" not in os.environ:  # libgomp reads it once, when torch loads it: start again with it set
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    from common import header, interleaved

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calibration", type=int, default=8, help="random images for INT8 calibration")
    parser.add_argument("--provider", default="CPUExecutionProvider", help="the GPU column's execution provider")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="export parity bound, relative (at least 1)")
    parser.add_argument("--resnet50", action="store_true", help="time DeepLabV3-ResNet50 too (many minutes)")
    parser.add_argument("--no-profile", action="store_true", help="skip ONNX Runtime's per-operator profile")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    OUT.mkdir(parents=True, exist_ok=True)
    gpu = args.provider != "CPUExecutionProvider"
    if gpu and args.provider not in ort.get_available_providers():
        raise SystemExit(f"{args.provider} is not available here: {ort.get_available_providers()}")
    timed = [a for a in ARCHITECTURES.values() if args.resnet50 or a.name != "deeplabv3-resnet50"]
    rows: dict[str, dict[str, Any]] = {}
    engines: dict[str, Callable[[], float]] = {}
    inputs: dict[str, dict[int, np.ndarray]] = {}
    started = time.perf_counter()
    with no_network() as attempts:
        for arch in timed:
            clock = time.perf_counter()
            model = build(arch)
            fp32, int8 = OUT / f"{arch.name}.onnx", OUT / f"{arch.name}-int8.onnx"
            report = export_module(model, fp32, arch.size, arch.outputs, args.tolerance)
            rng = np.random.default_rng(0)
            calibration = [rng.random((3, arch.size, arch.size), dtype=np.float32) for _ in range(args.calibration)]
            quiet_quantize(fp32, int8, calibration)
            feed = {INPUT_NAME: np.random.default_rng(2).random((1, 3, arch.size, arch.size), dtype=np.float32)}
            want = session(fp32, "CPUExecutionProvider", args.threads).run(None, feed)
            got = session(int8, "CPUExecutionProvider", args.threads).run(None, feed)
            rows[arch.name] = {
                "int8_diff": {n: float(np.abs(w - g).max()) for n, w, g in zip(arch.outputs, want, got, strict=True)},
                "int8_distinct_scores": int(np.unique(got[0][:, 4:84]).size) if arch.name == "yolov8n-seg" else None,
                "model": arch.description,
                "input": f"{arch.size}x{arch.size}x3",
                "params": parameters(model),
                "gflops": count_flops(model, torch.rand(1, 3, arch.size, arch.size)) / 1e9,
                "parity": report["parity"],
                "mb_fp32": fp32.stat().st_size / 1e6,
                "mb_int8": int8.stat().st_size / 1e6,
                "prepare_s": time.perf_counter() - clock,
            }
            inputs[arch.name] = {}
            for batch in (1, 8):
                x = np.random.default_rng(0).random((batch, 3, arch.size, arch.size), dtype=np.float32)
                inputs[arch.name][batch] = x
                tx = torch.from_numpy(x)
                engines[f"{arch.name}|torch|{batch}"] = partial(cpu_latency, partial(torch.no_grad()(model), tx), 3)
                for kind, path in (("fp32", fp32), ("int8", int8)):
                    sess = session(path, "CPUExecutionProvider", args.threads)
                    engines[f"{arch.name}|{kind}|{batch}"] = partial(
                        cpu_latency, partial(sess.run, None, {INPUT_NAME: x}), 3
                    )
                if gpu:
                    sess = session(fp32, args.provider, args.threads)
                    engines[f"{arch.name}|gpu|{batch}"] = partial(
                        cpu_latency, partial(sess.run, None, {INPUT_NAME: x}), 10
                    )
            print(f"# {arch.name}: built, exported, quantized in {rows[arch.name]['prepare_s']:.0f} s", file=sys.stderr)
        left_out: dict[str, Any] = {}
        if not args.resnet50:
            arch = ARCHITECTURES["deeplabv3-resnet50"]
            model = build(arch)
            x1 = torch.rand(1, 3, arch.size, arch.size)
            left_out = {
                "params": parameters(model),
                "gflops": count_flops(model, x1) / 1e9,
                "torch_b1_ms": cpu_latency(partial(torch.no_grad()(model), x1), 1) * 1e3,
            }
            del model
        times = {k: statistics.median(v) * 1e3 for k, v in interleaved(engines, args.rounds).items()}
        profiles: dict[str, dict[str, dict[str, float]]] = {}
        if not args.no_profile:
            for arch in timed:
                profiles[arch.name] = {
                    kind: op_profile(OUT / f"{arch.name}{suffix}.onnx", inputs[arch.name][1], args.threads)
                    for kind, suffix in (("fp32", ""), ("int8", "-int8"))
                }
    print(header(["torch", "torchvision", "ultralytics", "onnxruntime", "onnx"]))
    print(
        f"threads: {args.threads}; rounds: {args.rounds} (medians; each a median of 3 calls after 1 warm-up); "
        f"parity bound {args.tolerance:.0e} of each output's max |value| (at least 1), at batch 1 and 2; INT8: static "
        f"QDQ, per-channel, {args.calibration} random calibration images, so its figures are speed figures only; "
        f"network attempts: {', '.join(attempts) or 'none'}; whole run {time.perf_counter() - started:.0f} s; "
        f"PyTorch: OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']} (PASSIVE unless set: with libgomp's default, "
        "PyTorch on 2 threads beside another busy process ran EfficientNet-B0 at batch 1 in 2.4 s instead of 17 ms)"
    )
    for note in TORCHVISION_NOTES:
        print(f"note: {note}")
    print()
    print("| model | params | GFLOPs | ONNX vs PyTorch | Dice fp32 | Dice INT8 | ORT fp32 b1 / b8 ms | "
          "ORT INT8 b1 / b8 ms | PyTorch b1 / b8 ms | fp32/PyTorch | INT8 speed-up | GPU b1 / b8 ms | "
          "MB fp32 / INT8 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        t = {kind: [times[f"{name}|{kind}|{b}"] for b in (1, 8)] for kind in ("torch", "fp32", "int8")}
        row.update(latency_ms=t, fp32_over_torch=t["fp32"][0] / t["torch"][0], int8_speedup=t["fp32"][0] / t["int8"][0])
        row["int8_speedup_b8"] = t["fp32"][1] / t["int8"][1]
        gpu_cell = (
            " / ".join(f"{times[f'{name}|gpu|{b}']:.1f}" for b in (1, 8))
            if gpu
            else "not measured: no GPU execution provider on this machine"
        )
        print(
            f"| {name} ({row['model']}; {row['input']}) | {row['params']:,} | {row['gflops']:.2f} | "
            f"{parity_cell(row['parity'])} | {NO_WEIGHTS} | {NO_WEIGHTS} | {t['fp32'][0]:.1f} / {t['fp32'][1]:.1f} | "
            f"{t['int8'][0]:.1f} / {t['int8'][1]:.1f} | {t['torch'][0]:.1f} / {t['torch'][1]:.1f} | "
            f"{row['fp32_over_torch']:.2f} | {row['int8_speedup']:.2f}x (b8 {row['int8_speedup_b8']:.2f}x)"
            f" | {gpu_cell} | {row['mb_fp32']:.1f} / {row['mb_int8']:.1f} |"
        )
    print()
    print(
        "Per output, max |difference| (ONNX Runtime vs PyTorch at batch 1 and 2; PyTorch float32 vs float64 at "
        "batch 1: float32's own error; INT8 vs fp32 ONNX Runtime at batch 1, random weights and calibration):"
    )
    for name, row in rows.items():
        cells = "; ".join(
            f"{f['output']} {f['shape']}: ONNX Runtime - PyTorch {f['max_abs_diff']:.1e} (relative "
            f"{f['relative']:.1e}), PyTorch float32 - float64 {f['torch_fp32_vs_fp64']:.1e}, INT8 - fp32 "
            f"{row['int8_diff'][f['output']]:.2g}, max |value| {f['max_abs_output']:.3g}"
            for f in row["parity"]
        )
        print(f"- {name}: {cells}")
    if "yolov8n-seg" in rows:
        print(
            "- yolov8n-seg: predictions = 4 box values (centre x, y, width, height in pixels) + 80 class scores "
            "(sigmoid) + 32 mask coefficients per anchor (80x80 + 40x40 + 20x20 anchors at strides 8, 16, 32); "
            "protos = 32 mask prototypes at 1/4 scale; no NMS in the graph (the predictor's, after it). Its INT8 "
            "file quantizes the predictions' Concat with one uint8 scale for box pixels and sigmoid scores alike: "
            f"{rows['yolov8n-seg']['int8_distinct_scores']} distinct class-score value(s) left in INT8 (a usable INT8 "
            "YOLO keeps the head's decoding in float, which quantize_int8 has no option for)."
        )
    if left_out:
        print(
            f"- deeplabv3-resnet50 (DeepLabV3, ResNet50, torchvision, 21 classes; 520x520x3) left out of the timed "
            f"rows: {left_out['params']:,} params, {left_out['gflops']:.1f} GFLOPs, one PyTorch batch-1 forward "
            f"{left_out['torch_b1_ms']:.0f} ms on {args.threads} threads; its batch-8 engines alone (3 engines x 4 "
            f"calls x {args.rounds} rounds, about 8x that each) would add about "
            f"{left_out['torch_b1_ms'] * 8 * 12 * args.rounds / 6e4:.0f} min. --resnet50 times it."
        )
    for name, kinds in profiles.items():
        print(f"\nONNX Runtime profile, {name}, batch 1 (ms per run by operator type, mean of 3 runs after a warm-up):")
        for kind, ops in kinds.items():
            top = ", ".join(f"{op} {ms:.1f}" for op, ms in list(ops.items())[:8])
            print(f"- {kind} (total {sum(ops.values()):.1f}): {top}")
    (OUT / "deploy_zoo.json").write_text(
        json.dumps({"rows": rows, "left_out": left_out, "profiles": profiles, "network_attempts": attempts}, indent=2)
    )


if __name__ == "__main__":
    main()

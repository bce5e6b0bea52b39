"""Uncached segserve requests: the service's own time beyond the model's run, for a 256x256 slice.

Every request sends a new 256x256 PNG (so each one misses every cache and runs the
model) to one node pinned to CPU 0, one at a time over a keep-alive connection. Per
request, the model's own run time (ONNX Runtime's ``session.run``) is read from the
node's ``segserve_model_seconds_total`` counter; the overhead is the request's
latency seen by the client minus that: HTTP, hashing, the cache groups, the pool's
thread hop, PNG decode, pre-processing, arg-max, resampling and PNG encode.

Then the same images go through the service's own steps in this process, one thread, each timed apart (medians):
what the in-process part of the overhead is made of; the rest of the overhead is HTTP, the cache and the thread hop.

    .venv/bin/python benchmarks/segserve_overhead.py [--requests 200]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from medimage import Limits, labels_to_input, postprocess, read_bytes, to_model
from segserve.inference import Inference
from segserve.inference import statistics as class_statistics
from segserve.model import INPUT_NAME, OUTPUT_NAME, Model, argmax_classes, pad_to_stride
from segserve.pool import InferencePool
from segserve.results import LabelMap
from segserve_cached import model_path, slice_png

from common import header, node


def model_seconds(conn: http.client.HTTPConnection) -> float:
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith("segserve_model_seconds_total")))


def steps(model: Path, bodies: list[bytes]) -> dict[str, float]:
    """Median milliseconds of each step of the uncached path (``Inference.pipeline``, split where it calls out),
    the cache's serial form and the PNG answer, over ``bodies`` (the first 20 warm up)."""
    inference = Inference(Model(model, threads=1), InferencePool(workers=1), Limits())
    info = inference.model.info
    times: dict[str, list[float]] = {}

    def timed(name: str, function: Any, *args: Any) -> Any:
        start = time.perf_counter()
        result = function(*args)
        times.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        return result

    for body in bodies:
        image = timed("read (PNG decode, checks)", read_bytes, body, inference.limits)
        model_input = timed("onto the model grid (orient, window)", to_model, image, info, inference.limits)
        planes = model_input.planes
        feeds = {INPUT_NAME: timed("pad to stride", pad_to_stride, planes[:, None], info.stride)}
        (logits,) = timed("model run (session.run)", inference.model.session.run, [OUTPUT_NAME], feeds)
        labels = timed("arg-max", argmax_classes, logits[:, :, : planes.shape[1], : planes.shape[2]])
        labels = timed("post-processing (largest component)", postprocess, labels, info.postprocess)
        voxels = timed("back onto the input grid", labels_to_input, labels, model_input)
        timed("statistics per class", class_statistics, voxels, image, len(info.classes), False)
        label_map = inference.finish(image, model_input, labels)  # the steps above again, untimed: the result
        blob = timed("cache serial form", label_map.to_bytes)
        cached = timed("serial form read back", LabelMap.from_bytes, blob)
        timed("PNG answer", cached.to_png)
    inference.pool.shutdown()
    return {name: statistics.median(values[20:]) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    bodies = [slice_png(seed) for seed in range(args.requests + 20)]
    with tempfile.TemporaryDirectory() as tmp, node(model := model_path(Path(tmp)), cpus="0") as url:
        address = urlsplit(url)
        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        totals, models = [], []
        for i, body in enumerate(bodies):
            before = model_seconds(conn)
            start = time.perf_counter()
            conn.request("POST", "/v1/segment?format=png", body=body, headers={"content-type": "image/png"})
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - start
            if response.status != 200 or response.getheader("x-cache") != "miss":
                raise SystemExit(f"request {i}: {response.status} {response.getheader('x-cache')}")
            if i >= 20:  # the first ones warm up ONNX Runtime and the allocator
                totals.append(elapsed * 1000)
                models.append((model_seconds(conn) - before) * 1000)
        overhead = [t - m for t, m in zip(totals, models, strict=True)]
        in_process = steps(model, bodies)
    print(header(["gee-stack", "onnxruntime", "numpy", "pillow"]))
    print(f"requests: {len(totals)} uncached 256x256 PNG slices, answers as PNG; server on one core")
    print("| | p50 (ms) | p90 (ms) |")
    print("|---|---:|---:|")
    for name, values in (("request latency", totals), ("model run (session.run)", models), ("overhead", overhead)):
        ordered = sorted(values)
        print(f"| {name} | {statistics.median(ordered):.2f} | {ordered[int(0.9 * len(ordered))]:.2f} |")
    print("\nthe same images through the service's steps in this process, one thread (medians):")
    print("| step | ms |")
    print("|---|---:|")
    for name, ms in in_process.items():
        print(f"| {name} | {ms:.2f} |")


if __name__ == "__main__":
    main()

"""Uncached segserve requests: the service's own time beyond the model's run, for a 256x256 slice.

Every request sends a new 256x256 PNG (so each one misses every cache and runs the
model) to one node pinned to CPU 0, one at a time over a keep-alive connection. Per
request, the model's own run time (ONNX Runtime's ``session.run``) is read from the
node's ``segserve_model_seconds_total`` counter; the overhead is the request's
latency seen by the client minus that: HTTP, hashing, the cache groups, the pool's
thread hop, PNG decode, pre-processing, arg-max, resampling and PNG encode.

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
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from segserve_cached import model_path, slice_png

from common import header, node


def model_seconds(conn: http.client.HTTPConnection) -> float:
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith("segserve_model_seconds_total")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    bodies = [slice_png(seed) for seed in range(args.requests + 20)]
    with tempfile.TemporaryDirectory() as tmp, node(model_path(Path(tmp)), cpus="0") as url:
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
    print(header(["gee-stack", "onnxruntime", "numpy", "pillow"]))
    print(f"requests: {len(totals)} uncached 256x256 PNG slices, answers as PNG; server on one core")
    print("| | p50 (ms) | p90 (ms) |")
    print("|---|---:|---:|")
    for name, values in (("request latency", totals), ("model run (session.run)", models), ("overhead", overhead)):
        ordered = sorted(values)
        print(f"| {name} | {statistics.median(ordered):.2f} | {ordered[int(0.9 * len(ordered))]:.2f} |")


if __name__ == "__main__":
    main()

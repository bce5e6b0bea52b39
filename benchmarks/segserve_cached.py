"""Cached answers of segserve: p50, p99 and requests per second at 1, 16 and 64 connections.

One node serves on 127.0.0.1, pinned to CPU 0 (one core for the whole service); wrk,
pinned to CPU 1, POSTs the same 256x256 PNG slice to ``/v1/segment?format=png`` over
and over, so after the first request every answer is a cache hit (the node's memo of
encoded answers). The model is the bundled one when it exists, else the test suite's
stand-in (cached answers never run the model, so the figures do not depend on it).

    .venv/bin/python benchmarks/segserve_cached.py [--duration 5] [--connections 1,16,64]

Needs Linux, two CPUs, ``wrk`` and ``taskset``. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import io
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import header, node  # noqa: E402

SERVER_CPU, WRK_CPU = 0, 1
BUNDLED = ROOT / "src" / "segserve" / "assets" / "default.onnx"


def slice_png(seed: int = 0, size: int = 256) -> bytes:
    """A CT-like 256x256 8-bit slice (smooth blobs plus noise), as PNG."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    image = 0.3 + 0.4 * np.exp(-((x - 0.45) ** 2 + (y - 0.5) ** 2) / 0.05) + 0.05 * rng.standard_normal((size, size))
    buffer = io.BytesIO()
    Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def model_path(tmp: Path) -> Path:
    if BUNDLED.is_file():
        return BUNDLED
    import onnx

    from tests.segserve.standin_model import build

    path = tmp / "standin.onnx"
    onnx.save(build(), str(path))
    return path


UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def to_ms(text: str, output: str) -> float:
    """wrk's latency text (``812.00us``, ``1.23ms``, ``2.00s``, ``1.02m``) in ms; anything else (``-nan``, or a
    unit wrk did not print before) stops the benchmark with wrk's whole output, never a traceback."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)", text)
    if match is None:
        raise SystemExit(f"wrk printed a latency that is not a number ({text!r}); its output:\n{output}")
    return float(match.group(1)) * UNITS_MS[match.group(2)]


def field(pattern: str, output: str) -> str:
    match = re.search(pattern, output)
    if match is None:
        raise SystemExit(f"wrk's output lacks {pattern!r} (did any request complete?):\n{output}")
    return match.group(1)


def run_wrk(url: str, body_file: Path, connections: int, duration: int) -> dict[str, float]:
    script = body_file.with_suffix(".lua")
    script.write_text(
        'wrk.method = "POST"\n'
        f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*all")\nf:close()\n'
        'wrk.headers["Content-Type"] = "image/png"\n'
    )
    command = [
        "taskset", "-c", str(WRK_CPU), "wrk", "-t1", f"-c{connections}", f"-d{duration}s",
        "--latency", "-s", str(script), f"{url}/v1/segment?format=png",
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        raise SystemExit(f"wrk saw {non2xx.group(1)} error answers:\n{output}")
    if int(field(r"(\d+) requests in", output)) == 0:
        raise SystemExit(f"no request completed in {duration} s:\n{output}")
    return {
        "p50_ms": to_ms(field(r"50%\s+(\S+)", output), output),
        "p99_ms": to_ms(field(r"99%\s+(\S+)", output), output),
        "rps": float(field(r"Requests/sec:\s+([\d.]+)", output)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", default="1,16,64", help="comma-separated connection counts")
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install -y {tool if tool == 'wrk' else 'util-linux'})")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        body = tmp / "slice.png"
        body.write_bytes(slice_png())
        model = model_path(tmp)
        print(header(["gee-stack", "onnxruntime", "uvicorn", "uvloop", "httptools"]))
        print(f"model: {model.name}; body: 256x256 PNG, {body.stat().st_size} bytes; answer: PNG label map")
        with node(model, cpus=str(SERVER_CPU)) as url:
            # Warm-up: one request computes and memoizes the answer (on a cold machine it can take seconds, which a
            # one-second wrk run would end with no request done), then wrk warms the connections.
            warm = httpx.post(f"{url}/v1/segment?format=png", content=body.read_bytes(), timeout=120)
            if warm.status_code != 200:
                raise SystemExit(f"the warm-up request answered {warm.status_code}: {warm.text[:500]}")
            run_wrk(url, body, 4, 1)
            print("| connections | p50 (ms) | p99 (ms) | requests/s |")
            print("|---:|---:|---:|---:|")
            for connections in (int(c) for c in args.connections.split(",")):
                result = run_wrk(url, body, connections, args.duration)
                print(f"| {connections} | {result['p50_ms']:.2f} | {result['p99_ms']:.2f} | {result['rps']:,.0f} |")


if __name__ == "__main__":
    main()

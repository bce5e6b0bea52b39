"""A whole volume through segserve as a job, beside the model's own run time on the same slices.

The volume: scan B's twenty 512x512 CT slices (TotalSegmentator's example DICOM series, real anatomy) mirrored
back and forth to 100 slices, as one NIfTI (int16, gzip, B's affine). Each round, interleaved:

- ``job``: a node (bundled model, ``--threads`` = both cores, warmed with one small job) takes ``POST /v1/jobs``
  and the client follows the job's server-sent events to ``done``; wall time from the POST to the ``done`` event.
  One voxel differs per round, so no round is answered from a cache.
- ``model``: this process runs the same ONNX file through ``segserve.model.Model`` (same threads, same runs of
  ``--batch-size`` slices) on the same model-grid planes, prepared once beforehand: the model's own time.

The service's overhead (reading, orienting, resampling, post-processing, statistics, the viewer's volume, the
cache, HTTP) is ``job / model - 1``; the node's own ``segserve_model_seconds_total`` is reported beside it.

    .venv/bin/python benchmarks/segserve_volume.py [--rounds 3] [--slices 100]

Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from medimage import Limits, read_bytes, read_path, to_model, write_nifti  # noqa: E402
from segserve.model import DEFAULT_MODEL, Model  # noqa: E402

from common import header, interleaved, median, node  # noqa: E402

SERIES = ROOT / ".cache" / "freqseg" / "reference_files" / "example_ct_dicom"


def volume(slices: int) -> tuple[np.ndarray, np.ndarray]:
    """B's HU volume [512, 512, slices] (mirrored to length) and its affine."""
    if not SERIES.is_dir():
        raise SystemExit(f"{SERIES} is missing: run `python -m freqseg prepare` first (it fetches scan B)")
    image = read_path(SERIES)
    order = np.concatenate([np.arange(image.shape[2]), np.arange(image.shape[2])[::-1]])
    index = np.resize(order, slices)
    return np.round(image.array[:, :, index]).astype(np.int16), image.affine


def metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise KeyError(name)


def run_job(url: str, body: bytes) -> tuple[float, float, dict[str, float]]:
    """Seconds from the POST to the ``done`` event, the node's model seconds for it, and the job's own timings."""
    model_before = metric(url, "segserve_model_seconds_total")
    start = time.perf_counter()
    job = httpx.post(f"{url}/v1/jobs", content=body, timeout=600).json()
    state: dict[str, Any] = {}
    with httpx.stream("GET", f"{url}{job['urls']['events']}", timeout=600) as events:
        for line in events.iter_lines():
            if line.startswith("data: "):
                state = json.loads(line[6:])
                if state.get("status") in ("done", "failed", "cancelled"):
                    break
    wall = time.perf_counter() - start
    if state.get("status") != "done":
        raise SystemExit(f"the job ended {state.get('status')}: {state.get('error')}")
    return wall, metric(url, "segserve_model_seconds_total") - model_before, state["timings_ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slices", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    hu, affine = volume(args.slices)
    bodies = []
    for r in range(args.rounds):
        hu[0, 0, 0] = -1024 - r  # a different input each round: nothing comes from a cache
        bodies.append(write_nifti(hu, affine, "segserve_volume benchmark"))
    model = Model(DEFAULT_MODEL, threads=args.threads)
    planes = to_model(read_bytes(bodies[0]), model.info, Limits()).planes
    step = Limits().planes_per_run((planes.shape[1], planes.shape[2]), args.batch_size)
    print(header(["onnxruntime", "numpy", "nibabel", "scipy"]))
    print(
        f"volume: {hu.shape[0]}x{hu.shape[1]}x{hu.shape[2]} HU (scan B mirrored), {len(bodies[0]) / 1e6:.1f} MB "
        f"NIfTI; model grid {planes.shape[1]}x{planes.shape[2]} x {planes.shape[0]} planes, runs of {step}"
    )

    in_service: list[float] = []
    steps: list[dict[str, float]] = []
    with node(DEFAULT_MODEL, "--batch-size", str(args.batch_size), threads=args.threads) as url:
        rounds = iter(range(args.rounds))
        run_job(url, write_nifti(hu[:, :, : args.batch_size], affine, "warm-up"))  # as the model alone is warmed

        def job() -> float:
            wall, model_seconds, timings = run_job(url, bodies[next(rounds)])
            in_service.append(model_seconds)
            steps.append(timings)
            return wall

        def model_alone() -> float:
            start = time.perf_counter()
            for i in range(0, len(planes), step):
                model.predict(planes[i : i + step])
            return time.perf_counter() - start

        model_alone()  # warm-up: ONNX Runtime's first run allocates
        results = interleaved({"job": job, "model": model_alone}, args.rounds)

    wall, alone = median(results["job"]), median(results["model"])
    print(f"job (POST to done), median of {args.rounds}: {wall:.2f} s  (rounds: {fmt(results['job'])})")
    print(f"model alone, same planes and runs:    {alone:.2f} s  (rounds: {fmt(results['model'])})")
    print(f"model time inside the service:        {median(in_service):.2f} s")
    for name in steps[0]:
        print(f"  job step {name:8s} median {median([t[name] for t in steps]) / 1000:.2f} s")
    print(f"service overhead: {100 * (wall / alone - 1):.1f} % of the model's own time (target: at most 10 %)")


def fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()

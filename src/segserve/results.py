"""Label maps: what the cache holds, and the ways to answer with one (PNG, NIfTI, JSON, DICOM SEG).

The cache holds the full label map of one input (every class), compressed, in the
input's own geometry, with each class's statistics (computed where the input's values
were at hand). The requested format and class subset are applied after the
cache, so a PNG and a JSON answer for the same image share one inference.

Layouts: ``"yx"`` is ``[rows, cols]`` (PNG, JPEG, DICOM; ``[frames, rows, cols]`` for
multi-frame DICOM), ``"xy"`` / ``"xyz"`` is the NIfTI voxel array's own order.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from medimage import ImageError, encode_png, write_nifti
from segserve.errors import ServiceError, clip, image_error

U8 = npt.NDArray[np.uint8]

OUTPUT_FORMATS = {
    "json": "application/json",
    "png": "image/png",
    "nifti": "application/gzip",
    "dicom-seg": "application/dicom",
}
ACCEPT = {
    "application/dicom": "dicom-seg",
    "image/png": "png",
    "application/json": "json",
    "application/gzip": "nifti",
    "application/x-gzip": "nifti",
    "application/nifti": "nifti",
    "application/x-nifti": "nifti",
    "image/nifti": "nifti",
}


@dataclass(frozen=True)
class ClassStatistics:
    """One class of one label map: ``voxels``, ``volume_ml`` (None when the spacing is unknown), and the mean and
    standard deviation of the input's values inside it (HU for CT; None for pictures or an empty class)."""

    voxels: int
    volume_ml: float | None
    mean: float | None
    sd: float | None


@dataclass
class LabelMap:
    """One input's labels (all classes) in the input's geometry, with what the answers need."""

    labels: U8
    layout: str  # "yx", "xy" or "xyz"
    spacing: list[float] | None  # mm per answer axis, or None when unknown
    spacing_source: str
    affine: list[list[float]] | None
    kind: str  # the input's format
    model: str  # the model's hash
    classes: list[str]
    statistics: list[ClassStatistics] = field(default_factory=list)  # one per class, background first
    model_ms: float = 0.0  # time spent in the model (summed over batches)

    def to_bytes(self) -> bytes:
        """A compact serial form for the cache: header length, JSON header, zlib'd labels."""
        header = json.dumps(
            {
                "shape": list(self.labels.shape),
                "layout": self.layout,
                "spacing": self.spacing,
                "spacing_source": self.spacing_source,
                "affine": self.affine,
                "kind": self.kind,
                "model": self.model,
                "classes": self.classes,
                "model_ms": self.model_ms,
                "statistics": [asdict(entry) for entry in self.statistics],
            },
            separators=(",", ":"),
        ).encode()
        return struct.pack(">I", len(header)) + header + zlib.compress(self.labels.tobytes(), 1)

    @classmethod
    def from_bytes(cls, blob: bytes) -> LabelMap:
        (size,) = struct.unpack(">I", blob[:4])
        header = json.loads(blob[4 : 4 + size])
        labels = np.frombuffer(zlib.decompress(blob[4 + size :]), np.uint8).reshape(header["shape"])
        return cls(
            labels=labels,
            layout=header["layout"],
            spacing=header["spacing"],
            spacing_source=header["spacing_source"],
            affine=header["affine"],
            kind=header["kind"],
            model=header["model"],
            classes=header["classes"],
            model_ms=header["model_ms"],
            statistics=[ClassStatistics(**entry) for entry in header["statistics"]],
        )

    def voxels(self) -> U8:
        """The labels on the input's own voxel axes ``[i, j, k]`` (``medimage.Image.array``'s order)."""
        labels = self.labels
        if self.layout == "yx":  # [rows, cols] or [slices, rows, cols]
            out: U8 = labels.T[:, :, None] if labels.ndim == 2 else labels.transpose(2, 1, 0)
        else:
            out = labels[:, :, None] if labels.ndim == 2 else labels
        return out

    # ------------------------------------------------------------- subsets

    def select(self, keep: list[int] | None) -> U8:
        """The labels with classes outside ``keep`` set to background (0)."""
        if keep is None:
            return self.labels
        lut = np.zeros(256, np.uint8)
        lut[keep] = keep
        out: U8 = lut[self.labels]
        return out

    # ------------------------------------------------------------- answers

    def to_png(self, keep: list[int] | None = None) -> bytes:
        """8-bit grey PNG whose pixel values are class indices, shaped like the input image."""
        labels = self.select(keep)
        if labels.ndim == 3 and 1 in labels.shape:
            labels = labels.reshape([n for n in labels.shape if n != 1] or [1, 1])
        if labels.ndim != 2:
            raise ServiceError(
                406,
                "not_representable",
                f"a PNG holds one slice, and this label map is a volume of shape {list(labels.shape)}; "
                "ask for format=nifti or format=json",
                valid=self.formats(),
            )
        if self.layout == "xy":
            labels = labels.T  # a 2-D NIfTI array is [x, y]; a picture is [rows = y, cols = x]
        return encode_png(np.ascontiguousarray(labels))

    def to_nifti(self, keep: list[int] | None = None) -> bytes:
        """A .nii.gz label volume (uint8) with the input's affine, or a diagonal one from the spacing."""
        labels = self.select(keep)
        spacing = self.spacing
        if self.layout == "yx":  # [rows, cols] or [slices, rows, cols] -> the voxel axes [i, j(, k)]
            labels = labels.T if labels.ndim == 2 else labels.transpose(2, 1, 0)
            if spacing is not None:
                spacing = spacing[::-1]
        if self.affine is not None:
            affine = np.asarray(self.affine, dtype=np.float64)
        else:
            diag = [*(spacing or [1.0] * labels.ndim)][:3]
            diag += [1.0] * (3 - len(diag))
            affine = np.diag([*diag, 1.0])
        return write_nifti(labels, affine, f"segserve labels; model {self.model[:16]}")

    def formats(self) -> list[str]:
        """The answers this label map can take: PNG for one slice, DICOM SEG for a DICOM input."""
        one_slice = self.labels.ndim == 2 or 1 in self.labels.shape
        return [f for f in OUTPUT_FORMATS if (f != "png" or one_slice) and (f != "dicom-seg" or self.kind == "dicom")]

    def to_seg(self, source: bytes, keep: list[int] | None = None) -> bytes:
        """A DICOM Segmentation object referencing the input series ``source`` (its bytes as uploaded)."""
        if self.kind != "dicom":
            raise ServiceError(
                406,
                "not_representable",
                f"a DICOM SEG references a DICOM series, and this input is {self.kind}; ask for format=nifti",
                valid=self.formats(),
            )
        labels = self.select(keep)
        labels = labels[None] if labels.ndim == 2 else labels  # [slices, rows, cols]
        from medimage import write_seg  # highdicom: only when a SEG is asked for

        try:
            return write_seg(source, labels, self.classes, algorithm="segserve", version=self.model[:16])
        except ImageError as exc:
            raise image_error(exc) from exc

    def to_json(self, keep: list[int] | None = None) -> dict[str, Any]:
        """Per-class pixel counts, areas (2-D) or volumes (3-D) in mm, statistics, and run-length-encoded masks.

        RLE: ``[start, length, start, length, ...]`` over the label map flattened in
        C order (``labels.ravel()``), i.e. along the last axis first.
        """
        flat = self.labels.ravel()
        runs_by_class = _runs(flat)
        slices = 1
        if self.labels.ndim == 3:
            slices = self.labels.shape[2] if self.layout == "xyz" else self.labels.shape[0]
        volume = slices > 1
        unit: float | None = None
        if self.spacing is not None:
            unit = float(np.prod(self.spacing))
        wanted = keep if keep is not None else list(range(1, len(self.classes)))
        classes = []
        for index in wanted:
            runs = runs_by_class.get(index, [])
            pixels = int(sum(runs[1::2]))
            entry: dict[str, Any] = {"index": index, "name": self.classes[index], "pixels": pixels}
            size_key = "volume_mm3" if volume else "area_mm2"
            entry[size_key] = None if unit is None else round(pixels * unit, 3)
            stats = self.statistics[index] if index < len(self.statistics) else None
            entry["volume_ml"] = _rounded(stats.volume_ml if stats else None, 3)
            entry["hu_mean"] = _rounded(stats.mean if stats else None, 1)
            entry["hu_sd"] = _rounded(stats.sd if stats else None, 1)
            entry["rle"] = runs
            classes.append(entry)
        return {
            "model": self.model,
            "input": self.kind,
            "shape": list(self.labels.shape),
            "axes": "zyx" if self.layout == "yx" and self.labels.ndim == 3 else self.layout,
            "spacing_mm": self.spacing,
            "spacing_source": self.spacing_source,
            "present": [self.classes[i] for i in wanted if runs_by_class.get(i)],
            "classes": classes,
            "rle_order": "C",
        }


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _runs(flat: U8) -> dict[int, list[int]]:
    """Runs of equal labels in one pass: {class: [start, length, ...]}."""
    if flat.size == 0:
        return {}
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate(([0], change))
    lengths = np.diff(np.concatenate((starts, [flat.size])))
    values = flat[starts]
    out: dict[int, list[int]] = {}
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    bounds = np.flatnonzero(np.diff(sorted_values)) + 1
    for group in np.split(order, bounds):
        if group.size == 0:
            continue
        pairs = np.empty(group.size * 2, np.int64)
        pairs[0::2] = starts[group]
        pairs[1::2] = lengths[group]
        out[int(values[group[0]])] = pairs.tolist()
    return out


def pick_format(requested: str | None, accept: str | None) -> str:
    """``format`` wins over ``Accept``; without either the answer is JSON."""
    if requested:
        name = requested.strip().lower()
        if name in ("nii", "nii.gz", "nifti-gz"):
            name = "nifti"
        if name in ("seg", "dicomseg", "dicom_seg"):
            name = "dicom-seg"
        if name not in OUTPUT_FORMATS:
            raise ServiceError(
                400,
                "unknown_format",
                f"format {clip(repr(requested))} is not one of {', '.join(OUTPUT_FORMATS)}",
                valid=list(OUTPUT_FORMATS),
            )
        return name
    if accept:
        for part in accept.split(","):
            media = part.split(";")[0].strip().lower()
            if media in ACCEPT:
                return ACCEPT[media]
        if not any(part.split(";")[0].strip() in ("*/*", "", "image/*", "application/*") for part in accept.split(",")):
            raise ServiceError(
                406,
                "unknown_format",
                f"cannot answer in any of Accept: {clip(accept)}; ask for one of {', '.join(ACCEPT)} "
                f"or pass format={'|'.join(OUTPUT_FORMATS)}",
                valid=list(OUTPUT_FORMATS),
            )
        if "image/*" in accept:
            return "png"
    return "json"


def pick_classes(requested: str | list[str] | None, classes: list[str]) -> list[int] | None:
    """Class names (comma-separated or a list) to indices; unknown names answer 400 listing the valid ones."""
    if requested is None or requested == "" or requested == []:
        return None
    names = requested.split(",") if isinstance(requested, str) else requested
    index = {name: i for i, name in enumerate(classes)}
    keep = []
    unknown = []
    for raw in names:
        name = str(raw).strip()
        if name in index:
            keep.append(index[name])
        elif name:
            unknown.append(name)
    if unknown or not keep:
        raise ServiceError(
            400,
            "unknown_class",
            f"{len(unknown)} unknown class name(s) {clip(', '.join(map(repr, unknown[:3])) or '(none given)')}"
            f"{'...' if len(unknown) > 3 else ''}; valid: {', '.join(classes)}",
            valid=classes,
        )
    return sorted(set(keep))


def encode(label_map: LabelMap, fmt: str, keep: list[int] | None, source: bytes | None = None) -> tuple[bytes, str]:
    """The answer's body and content type; ``source`` (the input's bytes) is needed for ``dicom-seg`` only."""
    if fmt == "dicom-seg":
        if source is None:
            raise ServiceError(
                410,
                "input_gone",
                "this node no longer holds the input series a DICOM SEG must reference; send the series again",
            )
        return label_map.to_seg(source, keep), OUTPUT_FORMATS["dicom-seg"]
    if fmt == "png":
        return label_map.to_png(keep), OUTPUT_FORMATS["png"]
    if fmt == "nifti":
        return label_map.to_nifti(keep), OUTPUT_FORMATS["nifti"]
    body = json.dumps(label_map.to_json(keep), separators=(",", ":")).encode()
    return body, OUTPUT_FORMATS["json"]

"""The exported model file's contract: its input and output names and the metadata that says how to feed it.

``freqseg``'s exporter writes it, ``segserve`` and ``freqseg``'s ONNX evaluation read it; both go through
``ModelSpec`` so the keys and their meaning live here once. Keys sit in the ONNX file's ``metadata_props`` under
``freqseg.``:

| key | value |
|---|---|
| ``classes`` | JSON list of class names, index = label value (0 = background), at most 256 |
| ``window`` | JSON ``[low, high]``: the window applied to the modality's values, then scaled to [0, 1] |
| ``spacing`` | JSON ``[x, y]``: mm per pixel of the model's planes (RAS+ x and y) |
| ``stride`` | planes are padded at the high end to a multiple of it |
| ``layout`` | ``ras-xy``: input ``[N, 1, X, Y]`` = RAS+ axial planes |
| ``modality`` | DICOM Modality the window is meant for (``CT``); older files without it are CT models |
| ``architecture``, ``source``, ``sha256``, ``quantization``, ``dataset`` | descriptive; ``sha256`` names the model |
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from medimage.components import POSTPROCESSING

PREFIX = "freqseg."
INPUT_NAME = "image"
OUTPUT_NAME = "logits"
LAYOUT = "ras-xy"


class ModelFileError(ValueError):
    """The model file's metadata is missing or malformed: the message names the key and what it should hold."""


@dataclass(frozen=True)
class ModelSpec:
    """What a model takes and gives, as its file says.

    Attributes:
        classes: class names by label value.
        window: (low, high) of the modality's values (Hounsfield units for CT) mapped to [0, 1].
        spacing: (x, y) mm per pixel of the model's planes.
        stride: planes are padded to a multiple of it.
        modality: the DICOM Modality the model was trained on.
        layout: input axis layout; only ``ras-xy`` exists.
        architecture: a description of the network.
        sha256: the model's name in cache keys (the hash of the exported graph and its contract).
        postprocess: what to do to the predicted labels (``medimage.components.POSTPROCESSING``).
        extra: the other ``freqseg.*`` keys, kept as written.
    """

    classes: tuple[str, ...]
    window: tuple[float, float]
    spacing: tuple[float, float]
    stride: int
    modality: str = "CT"
    layout: str = LAYOUT
    architecture: str = "unknown"
    sha256: str = ""
    postprocess: str = "none"
    extra: tuple[tuple[str, str], ...] = ()

    def to_metadata(self) -> dict[str, str]:
        """The ``freqseg.*`` key-value pairs to store in the ONNX file."""
        values = {
            "classes": json.dumps(list(self.classes)),
            "window": json.dumps(list(self.window)),
            "spacing": json.dumps(list(self.spacing)),
            "stride": str(self.stride),
            "layout": self.layout,
            "modality": self.modality,
            "architecture": self.architecture,
            "sha256": self.sha256,
            "postprocess": self.postprocess,
            **dict(self.extra),
        }
        return {PREFIX + key: value for key, value in values.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "window": list(self.window),
            "spacing_mm": list(self.spacing),
            "stride": self.stride,
            "modality": self.modality,
            "layout": self.layout,
            "architecture": self.architecture,
            "sha256": self.sha256,
            "postprocess": self.postprocess,
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, str], where: str, file_hash: str = "") -> ModelSpec:
        """Read and validate the ``freqseg.*`` keys of ``meta`` (an ONNX file's ``metadata_props``).

        Raises:
            ModelFileError: a key missing or holding the wrong kind of value; the message names ``where``.
        """
        classes = _json(meta, "classes", where)
        if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
            raise ModelFileError(f"{where}: '{PREFIX}classes' must be a JSON list of class names")
        if len(classes) > 256:
            raise ModelFileError(f"{where}: {len(classes)} classes do not fit an 8-bit label map (at most 256)")
        window = _pair(meta, "window", where)
        spacing = _pair(meta, "spacing", where)
        if not window[0] < window[1] or min(spacing) <= 0:
            raise ModelFileError(
                f"{where}: window {list(window)} must be increasing and spacing {list(spacing)} positive"
            )
        try:
            stride = int(meta.get(PREFIX + "stride", "1"))
        except ValueError as exc:
            raise ModelFileError(
                f"{where}: '{PREFIX}stride' must be an integer, not {meta[PREFIX + 'stride']!r}"
            ) from exc
        layout = meta.get(PREFIX + "layout", LAYOUT)
        if layout != LAYOUT:
            raise ModelFileError(f"{where}: layout {layout!r} is not supported; models take {LAYOUT!r} planes")
        postprocess = meta.get(PREFIX + "postprocess", "none")
        if postprocess not in POSTPROCESSING:
            raise ModelFileError(
                f"{where}: '{PREFIX}postprocess' is {postprocess!r}; this reader knows {', '.join(POSTPROCESSING)}"
            )
        known = {
            "classes",
            "window",
            "spacing",
            "stride",
            "layout",
            "modality",
            "architecture",
            "sha256",
            "postprocess",
        }
        extra = tuple(
            sorted(
                (k[len(PREFIX) :], v) for k, v in meta.items() if k.startswith(PREFIX) and k[len(PREFIX) :] not in known
            )
        )
        return cls(
            classes=tuple(classes),
            window=window,
            spacing=spacing,
            stride=max(1, stride),
            modality=meta.get(PREFIX + "modality", "CT") or "CT",
            layout=layout,
            architecture=meta.get(PREFIX + "architecture", "unknown"),
            sha256=meta.get(PREFIX + "sha256") or file_hash,
            postprocess=postprocess,
            extra=extra,
        )


def _json(meta: dict[str, str], key: str, where: str) -> Any:
    if PREFIX + key not in meta:
        raise ModelFileError(
            f"{where}: metadata '{PREFIX}{key}' is missing; export the model with `python -m freqseg export`"
        )
    try:
        return json.loads(meta[PREFIX + key])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{where}: metadata '{PREFIX}{key}' is not JSON: {meta[PREFIX + key]!r}") from exc


def _pair(meta: dict[str, str], key: str, where: str) -> tuple[float, float]:
    value = _json(meta, key, where)
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value)):
        raise ModelFileError(f"{where}: '{PREFIX}{key}' must be a JSON list of two numbers, not {value!r}")
    return float(value[0]), float(value[1])

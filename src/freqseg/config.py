"""Training configuration: a dataclass, read from a TOML or JSON file, checked before anything runs."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from freqseg.errors import DataError
from medimage import POSTPROCESSING

MODELS = ("gfunet", "attention", "unet", "universal")  # freqseg.checkpoint.ARCHITECTURES builds each
TRAINABLE = ("all", "head", "head+decoder")


@dataclass
class TrainConfig:
    dataset: str = "data/btcv"
    out: str = "runs/gfunet-small"
    model: str = "gfunet"  # gfunet (global filter), attention (the same network with self-attention), unet (MONAI)
    size: str = "small"  # tiny / small / base
    epochs: int = 60
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-4
    dice_weight: float = 1.0
    ce_weight: float = 1.0
    window: tuple[float, float] = (-175.0, 250.0)
    spacing: tuple[float, float] = (1.5, 1.5)
    position_embedding: bool = True  # GFUNet's learned absolute position embedding (see GFUNetConfig)
    postprocess: str = "none"  # what inference does to the labels (medimage.POSTPROCESSING); exported with the model
    augment: bool = True
    enhance: bool = True  # with augment: simulated contrast phases (freqseg.data.RandContrastEnhanced), blur, shift
    crop: int = 128  # train on random crops of this side (0: whole slices); evaluation uses whole slices
    samples_per_slice: int = 4  # crops drawn from each training slice per epoch
    seed: int = 0
    device: str = "auto"  # auto, cpu, cuda
    num_workers: int = 0
    unet_channels: tuple[int, ...] = (16, 32, 64, 128, 256)
    # Partial labels: train on these datasets' training splits (each may name its ``labelled_classes``) instead of
    # ``dataset``'s; validation and test stay on ``dataset``, which must share their class list.
    datasets: tuple[str, ...] = ()
    # With several training datasets: each one's share of the crops (() = in proportion to its slices), and how many
    # crops make an epoch (0 = samples_per_slice for every training slice).
    dataset_weights: tuple[float, ...] = ()
    epoch_crops: int = 0
    # The universal model (model = "universal"): how classes are told apart, and the prompt embedding file.
    conditioning: str = "text"  # text, onehot-branch, onehot-channel
    prompts: str = ""  # "" = the committed MiniLM embeddings of the BTCV classes (freqseg/assets/prompts-minilm.pt)
    init: str = ""  # start from this checkpoint's weights (e.g. to add a class by fine-tuning)
    trainable: str = "all"  # all, head (controller + projections + the 8-channel map), head+decoder
    # Lighter models: a narrower decoder than the size's (a pruned model's widths), and knowledge distillation.
    decoder_dims: tuple[int, ...] = ()  # () = the size's own
    teacher: str = ""  # a checkpoint whose softened outputs the student also learns from
    distill_weight: float = 1.0
    temperature: float = 2.0

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise DataError(f"config field 'model' is {self.model!r}; use one of {', '.join(MODELS)}")
        if self.crop < 0:
            raise DataError(f"config field 'crop' must be >= 0 (0: whole slices), not {self.crop}")
        for name in ("epochs", "batch_size", "samples_per_slice"):
            if getattr(self, name) < 1:
                raise DataError(f"config field {name!r} must be at least 1, not {getattr(self, name)}")
        if self.conditioning not in ("text", "onehot-branch", "onehot-channel"):
            raise DataError(
                f"config field 'conditioning' is {self.conditioning!r}; use one of text, onehot-branch, onehot-channel"
            )
        if self.trainable not in TRAINABLE:
            raise DataError(f"config field 'trainable' is {self.trainable!r}; use one of {', '.join(TRAINABLE)}")
        if self.postprocess not in POSTPROCESSING:
            raise DataError(
                f"config field 'postprocess' is {self.postprocess!r}; use one of {', '.join(POSTPROCESSING)}"
            )
        if self.lr <= 0:
            raise DataError(f"config field 'lr' must be positive, not {self.lr}")
        self.window = tuple(self.window)  # type: ignore[assignment]
        self.spacing = tuple(self.spacing)  # type: ignore[assignment]
        self.unet_channels = tuple(self.unet_channels)
        self.datasets = tuple(self.datasets)
        self.dataset_weights = tuple(self.dataset_weights)
        if self.dataset_weights and (
            len(self.dataset_weights) != max(len(self.datasets), 1) or min(self.dataset_weights) <= 0
        ):
            raise DataError(
                f"config field 'dataset_weights' needs one positive weight per training dataset "
                f"({max(len(self.datasets), 1)}), got {list(self.dataset_weights)}"
            )
        if self.epoch_crops < 0:
            raise DataError(
                f"config field 'epoch_crops' must be >= 0 (0: samples_per_slice each), not {self.epoch_crops}"
            )
        self.decoder_dims = tuple(self.decoder_dims)
        if self.teacher and self.model == "universal":
            raise DataError("config field 'teacher': distillation is for softmax models (gfunet, attention, unet)")

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Read TOML or JSON; a field this class does not know is an error naming it."""
        p = Path(path)
        if not p.is_file():
            raise DataError(f"{p}: no such config file")
        try:
            values = tomllib.loads(p.read_text()) if p.suffix == ".toml" else json.loads(p.read_text())
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{p}: cannot parse the config ({exc})") from exc
        return cls.from_dict({**values, **{k: v for k, v in overrides.items() if v is not None}}, where=str(p))

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "config") -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise DataError(f"{where}: unknown field(s) {', '.join(unknown)}; valid fields: {', '.join(sorted(known))}")
        try:
            return cls(**values)
        except TypeError as exc:
            raise DataError(f"{where}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

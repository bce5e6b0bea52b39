"""Checkpoints and the networks they hold: building a configured model, its stride, the device, and loading.

Training, evaluation, export, pruning and prediction all start here, so they import one way (none of them
imports another for these).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from freqseg.config import TrainConfig
from freqseg.models.gfunet import GFUNet, GFUNetConfig, config_for
from freqseg.models.universal import UniversalConfig, UniversalGFUNet
from freqseg.prompts import DEFAULT_FILE as DEFAULT_PROMPTS
from freqseg.prompts import PromptEmbeddings
from medimage import ModelSpec

Builder = Callable[[TrainConfig, list[str], "torch.Tensor | None"], nn.Module]


def _backbone(config: TrainConfig, **fields: object) -> GFUNetConfig:
    extra: dict[str, object] = {"position_embedding": config.position_embedding}
    if config.decoder_dims:
        extra["decoder_dims"] = config.decoder_dims
    return config_for(config.size, **extra, **fields)


def _gfunet(config: TrainConfig, classes: list[str], _: torch.Tensor | None) -> nn.Module:
    mixer = "filter" if config.model == "gfunet" else "attention"
    return GFUNet(_backbone(config, num_classes=len(classes), mixer=mixer))


def _universal(config: TrainConfig, classes: list[str], text_embeddings: torch.Tensor | None) -> nn.Module:
    if config.conditioning == "text" and text_embeddings is None:
        prompts = PromptEmbeddings.load(config.prompts or DEFAULT_PROMPTS)
        prompts.check(classes[1:], where="the dataset's foreground classes")
        text_embeddings = prompts.embeddings
    width = int(text_embeddings.shape[1]) if text_embeddings is not None else 384
    universal = UniversalConfig(_backbone(config), len(classes) - 1, config.conditioning, width)
    return UniversalGFUNet(universal, text_embeddings)


def _unet(config: TrainConfig, classes: list[str], _: torch.Tensor | None) -> nn.Module:
    from monai.networks.nets.unet import UNet

    channels = config.unet_channels
    strides = (2,) * (len(channels) - 1)
    return UNet(spatial_dims=2, in_channels=1, out_channels=len(classes), channels=channels, strides=strides,
                num_res_units=1)  # fmt: skip


# The architectures a config's ``model`` names (``freqseg.config.MODELS``).
ARCHITECTURES: dict[str, Builder] = {"gfunet": _gfunet, "attention": _gfunet, "universal": _universal, "unet": _unet}


def build_model(config: TrainConfig, classes: list[str], text_embeddings: torch.Tensor | None = None) -> nn.Module:
    """The configured network for ``classes`` (background first), from ``ARCHITECTURES``. The universal model reads
    its prompt embeddings from ``config.prompts`` unless given (a checkpoint carries its own)."""
    return ARCHITECTURES[config.model](config, classes, text_embeddings)


def model_stride(model: nn.Module) -> int:
    """How much the deepest features are smaller than the input: inputs are padded to a multiple of it."""
    if isinstance(model, GFUNet):
        return model.config.stride
    if isinstance(model, UniversalGFUNet):
        return model.stride
    from monai.networks.nets.unet import UNet

    assert isinstance(model, UNet), f"no stride known for {type(model).__name__}"
    return math.prod(model.strides)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("config asks for device 'cuda', but no GPU is visible; use 'auto' or 'cpu'")
    return torch.device(name)


def load_checkpoint(path: str | Path, device: torch.device) -> tuple[nn.Module, TrainConfig, list[str]]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such checkpoint; train first (python -m freqseg train)")
    state = torch.load(p, map_location=device, weights_only=False)
    config = TrainConfig.from_dict(state["config"], where=str(p))
    model = build_model(config, list(state["classes"]), state["model"].get("text_embeddings")).to(device)
    model.load_state_dict(state["model"])
    return model.eval(), config, list(state["classes"])


def model_spec(model: nn.Module, config: TrainConfig, classes: list[str]) -> ModelSpec:
    """What ``model`` takes, in the image contract's terms: the window, spacing and stride it was trained with, and
    the post-processing chosen for it."""
    return ModelSpec(tuple(classes), config.window, config.spacing, model_stride(model), postprocess=config.postprocess)

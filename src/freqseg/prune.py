"""Structured channel pruning of GFUNet's decoder, where most of its FLOPs are.

Each decoder block keeps the output channels whose weights are largest (L1 norm over the second convolution and
the shortcut that both write them) and the inner channels whose first-convolution filters are largest; every
layer that reads a removed channel loses that input too, so the result is an ordinary, narrower GFUNet (a smaller
``decoder_dims``) that runs dense at its full speed, unlike masked weights. Pruning costs accuracy at once (and
GroupNorm's groups change), so the pruned checkpoint is the ``init`` of a short fine-tuning run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from freqseg.checkpoint import load_checkpoint
from freqseg.models.gfunet import GFUNet, ResBlock, UpBlock


def _keep(scores: torch.Tensor, count: int) -> torch.Tensor:
    return scores.topk(count).indices.sort().values


def _width(dim: int, keep: float) -> int:
    """A kept width that GroupNorm's groups (min(8, width)) still divide."""
    width = max(1, round(dim * keep))
    return width if width <= 8 else max(8, width - width % 8)


def _layers(block: ResBlock) -> tuple[nn.Conv2d, nn.GroupNorm, nn.Conv2d, nn.GroupNorm, nn.Conv2d]:
    conv1, norm1, _, conv2, norm2 = block.body
    shortcut = block.shortcut
    if not isinstance(shortcut, nn.Conv2d):
        raise ValueError("every decoder block must change width (a 1x1 shortcut) to be pruned this way")
    return conv1, norm1, conv2, norm2, shortcut  # type: ignore[return-value]


def _prune_block(old: ResBlock, new: ResBlock, inputs: torch.Tensor, inner: int, out: int) -> torch.Tensor:
    """Copy ``old``'s weights for the kept channels into ``new``; returns the kept output channels."""
    conv1, norm1, conv2, norm2, shortcut = _layers(old)
    new_conv1, new_norm1, new_conv2, new_norm2, new_shortcut = _layers(new)
    out_scores = conv2.weight.abs().sum(dim=(1, 2, 3)) + shortcut.weight.abs().sum(dim=(1, 2, 3))
    kept_out = _keep(out_scores, out)
    kept_inner = _keep(conv1.weight.abs().sum(dim=(1, 2, 3)), inner)
    with torch.no_grad():
        new_conv1.weight.copy_(conv1.weight[kept_inner][:, inputs])
        new_norm1.weight.copy_(norm1.weight[kept_inner])
        new_norm1.bias.copy_(norm1.bias[kept_inner])
        new_conv2.weight.copy_(conv2.weight[kept_out][:, kept_inner])
        new_norm2.weight.copy_(norm2.weight[kept_out])
        new_norm2.bias.copy_(norm2.bias[kept_out])
        new_shortcut.weight.copy_(shortcut.weight[kept_out][:, inputs])
    return kept_out


def prune_decoder(model: GFUNet, keep: float) -> GFUNet:
    """A GFUNet whose decoder keeps about ``keep`` of each block's channels; the encoder is copied unchanged."""
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], not {keep}")
    config = model.config
    widths = tuple(_width(d, keep) for d in config.decoder_dims)
    pruned = GFUNet(type(config)(**{**config.__dict__, "decoder_dims": widths}))
    state = {k: v for k, v in model.state_dict().items() if not k.startswith(("up_blocks.", "head."))}
    pruned.load_state_dict(state, strict=False)
    previous = torch.arange(config.dims[-1])  # the deepest encoder stage feeds the first block, unpruned
    previous_width = config.dims[-1]
    skips = [*reversed(config.dims[:-1]), config.stem_dim]
    for old_up, new_up, skip, width in zip(model.up_blocks, pruned.up_blocks, skips, widths, strict=True):
        old_block, new_block = cast(UpBlock, old_up).block, cast(UpBlock, new_up).block
        inputs = torch.cat([previous, previous_width + torch.arange(skip)])  # kept upsampled channels + the skip
        previous = _prune_block(old_block, new_block, inputs, width, width)
        previous_width = _layers(old_block)[2].out_channels
    with torch.no_grad():
        pruned.head.weight.copy_(model.head.weight[:, previous])
        if model.head.bias is not None and pruned.head.bias is not None:
            pruned.head.bias.copy_(model.head.bias)
    return pruned


def prune_checkpoint(checkpoint: str | Path, out: str | Path, keep: float) -> dict[str, Any]:
    """Write a pruned checkpoint (its config says the new ``decoder_dims``) to fine-tune from."""
    model, config, classes = load_checkpoint(checkpoint, torch.device("cpu"))
    if not isinstance(model, GFUNet):
        raise ValueError(f"{checkpoint}: pruning is written for GFUNet, not {type(model).__name__}")
    pruned = prune_decoder(model, keep)
    config.decoder_dims = pruned.config.decoder_dims
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": pruned.state_dict(), "config": config.to_dict(), "classes": classes}, out)
    before = sum(p.numel() for p in model.parameters())
    after = sum(p.numel() for p in pruned.parameters())
    return {"out": str(out), "decoder_dims": list(config.decoder_dims), "params_before": before, "params_after": after}

"""Dice + cross-entropy, with the multi-class Dice built from the binary one.

Binary soft Dice of probabilities p and a mask g: (2 sum(p g) + s) / (sum(p) + sum(g) + s).
The multi-class Dice is the binary Dice of each class's probability map against its
one-hot mask, averaged over classes. A class absent from both the label and the
prediction scores 1 through the smoothing term ``s`` (nothing to find, nothing
found); ``empty="ignore"`` leaves classes absent from the label out of the mean
instead, so that rare organs do not hide behind free points.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def binary_dice(prob: torch.Tensor, target: torch.Tensor, dims: tuple[int, ...], smooth: float = 1e-5) -> torch.Tensor:
    intersection = (prob * target).sum(dims)
    total = prob.sum(dims) + target.sum(dims)
    return (2 * intersection + smooth) / (total + smooth)


def multiclass_dice(
    probs: torch.Tensor,
    target: torch.Tensor,
    include_background: bool = False,
    empty: str = "smooth",
    smooth: float = 1e-5,
) -> torch.Tensor:
    """Mean soft Dice; probs [B, C, H, W], target [B, H, W] of class indexes. Per sample, then averaged."""
    if empty not in ("smooth", "ignore"):
        raise ValueError(f"empty must be 'smooth' or 'ignore', not {empty!r}")
    classes = probs.shape[1]
    one_hot = F.one_hot(target.long(), classes).permute(0, 3, 1, 2).to(probs.dtype)
    first = 0 if include_background else 1
    dice = binary_dice(probs[:, first:], one_hot[:, first:], dims=(2, 3), smooth=smooth)  # [B, C']
    if empty == "ignore":
        present = one_hot[:, first:].sum(dim=(2, 3)) > 0
        return (dice * present).sum() / present.sum().clamp(min=1)
    return dice.mean()


class DiceCELoss(nn.Module):
    """``dice_weight * (1 - Dice) + ce_weight * CE`` over softmax outputs."""

    def __init__(
        self,
        dice_weight: float = 1.0,
        ce_weight: float = 1.0,
        include_background: bool = False,
        empty: str = "smooth",
        class_weights: torch.Tensor | None = None,
    ):
        super().__init__()
        if dice_weight < 0 or ce_weight < 0 or dice_weight + ce_weight == 0:
            raise ValueError(f"weights must be >= 0 and not both 0, not dice={dice_weight} ce={ce_weight}")
        self.dice_weight = dice_weight
        self.ce_weight = ce_weight
        self.include_background = include_background
        self.empty = empty
        self.class_weights = class_weights

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.shape[0] != target.shape[0] or logits.shape[2:] != target.shape[1:]:
            raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target.shape)} do not match")
        loss = logits.new_zeros(())
        if self.ce_weight:
            loss = loss + self.ce_weight * F.cross_entropy(logits, target.long(), weight=self.class_weights)
        if self.dice_weight:
            dice = multiclass_dice(logits.softmax(dim=1), target, self.include_background, self.empty)
            loss = loss + self.dice_weight * (1 - dice)
        return loss


def _check_partial(logits: torch.Tensor, target: torch.Tensor, labelled: torch.Tensor, classes: int) -> None:
    if logits.shape[0] != target.shape[0] or logits.shape[2:] != target.shape[1:]:
        raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target.shape)} do not match")
    if tuple(labelled.shape) != (logits.shape[0], classes):
        raise ValueError(f"labelled {tuple(labelled.shape)} must be [batch, {classes}] (one flag per class)")


class PartialBinaryDiceBCELoss(nn.Module):
    """Binary Dice + BCE per foreground class, over the (sample, class) pairs that are labelled.

    logits [B, K, H, W] (one sigmoid per class), target [B, H, W] with classes 1..K, labelled [B, K] booleans. A
    class its dataset does not label contributes nothing, not even a gradient: its absence from the label map says
    nothing about whether it is in the image. BCE covers every labelled pair; Dice only the labelled pairs whose class
    is drawn in the sample (in a crop most organs are absent, and their Dice would be all smoothing term, pulling
    every prediction to zero).
    """

    def __init__(self, dice_weight: float = 1.0, bce_weight: float = 1.0):
        super().__init__()
        self.dice_weight = dice_weight
        self.bce_weight = bce_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor, labelled: torch.Tensor) -> torch.Tensor:
        classes = logits.shape[1]
        _check_partial(logits, target, labelled, classes)
        masks = F.one_hot(target.long(), classes + 1)[..., 1:].permute(0, 3, 1, 2).to(logits.dtype)  # [B, K, H, W]
        weight = labelled.to(logits.dtype)  # [B, K]
        bce = F.binary_cross_entropy_with_logits(logits, masks, reduction="none").mean(dim=(2, 3))
        dice = binary_dice(torch.sigmoid(logits), masks, dims=(2, 3))
        return self.bce_weight * _mean(bce, weight) + self.dice_weight * (1 - _mean(dice, weight * _present(masks)))


class MarginalDiceCELoss(nn.Module):
    """Dice + CE for a softmax network on partial labels: the probabilities of the classes a sample's dataset does
    not label are merged into background (the marginal loss of Shi et al., 2021), since an unlabelled organ is drawn
    as background there; Dice counts labelled classes drawn in the sample, as ``PartialBinaryDiceBCELoss`` does.

    logits [B, 1 + K, H, W], target [B, H, W], labelled [B, K].
    """

    def __init__(self, dice_weight: float = 1.0, ce_weight: float = 1.0):
        super().__init__()
        self.dice_weight = dice_weight
        self.ce_weight = ce_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor, labelled: torch.Tensor) -> torch.Tensor:
        classes = logits.shape[1] - 1
        _check_partial(logits, target, labelled, classes)
        probs = logits.softmax(dim=1)
        unlabelled = F.pad((~labelled.bool()).to(probs.dtype), (1, 0), value=1.0)  # background joins them
        background = (probs * unlabelled[..., None, None]).sum(dim=1)  # [B, H, W]
        log_probs = torch.log(probs.clamp(min=1e-8))
        picked = log_probs.gather(1, target.long()[:, None])[:, 0]
        log_likelihood = torch.where(target == 0, torch.log(background.clamp(min=1e-8)), picked)
        loss = self.ce_weight * -log_likelihood.mean()
        if self.dice_weight:
            masks = F.one_hot(target.long(), classes + 1)[..., 1:].permute(0, 3, 1, 2).to(probs.dtype)
            dice = binary_dice(probs[:, 1:], masks, dims=(2, 3))  # [B, K]
            loss = loss + self.dice_weight * (1 - _mean(dice, labelled.to(probs.dtype) * _present(masks)))
        return loss


def _present(masks: torch.Tensor) -> torch.Tensor:
    """[B, K] 1 where the class is drawn in the sample: Dice is undefined (and all smoothing) where it is not."""
    return (masks.sum(dim=(2, 3)) > 0).to(masks.dtype)


def _mean(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return (values * weight).sum() / weight.sum().clamp(min=1)

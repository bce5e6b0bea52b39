"""Figures of the frequency domain: an image's spectrum, and the filters a model learned.

The spectrum follows the notes: normalise the slice, take its 2-D FFT, shift the
zero frequency to the centre (fftshift), then show log(1 + |F|) and the phase.
A learned filter is shown as its magnitude averaged over channels, shifted the
same way along the height (the width holds only the non-negative frequencies of
a real FFT).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from freqseg.models.gfunet import GlobalFilter


def spectrum(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log-magnitude, phase) of a 2-D slice, zero frequency centred."""
    normalised = (plane - plane.mean()) / (plane.std() + 1e-8)
    shifted = np.fft.fftshift(np.fft.fft2(normalised))
    return np.log1p(np.abs(shifted)), np.angle(shifted)


def plot_spectrum(plane: np.ndarray, path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    magnitude, phase = spectrum(plane)
    figure, axes = plt.subplots(1, 3, figsize=(12, 4))
    panels = ((plane, "slice", "gray"), (magnitude, "log(1 + |F|), centred", "magma"), (phase, "phase", "twilight"))
    for axis, (data, name, cmap) in zip(axes, panels, strict=True):
        shown = axis.imshow(data.T, cmap=cmap, origin="lower")
        axis.set_title(name)
        axis.axis("off")
        figure.colorbar(shown, ax=axis, fraction=0.046)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def filter_magnitudes(model: nn.Module) -> list[np.ndarray]:
    """Mean |W| over channels of every global filter, in order, shifted along the height."""
    out = []
    for module in model.modules():
        if isinstance(module, GlobalFilter):
            weight = torch.view_as_complex(module.weight.detach().float().contiguous())
            out.append(np.fft.fftshift(weight.abs().mean(0).numpy(), axes=0))
    return out


def plot_filters(model: nn.Module, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    magnitudes = filter_magnitudes(model)
    if not magnitudes:
        raise ValueError("the model has no global filters (is it the attention variant or the UNet?)")
    figure, axes = plt.subplots(1, len(magnitudes), figsize=(3 * len(magnitudes), 3.2), squeeze=False)
    for i, (axis, magnitude) in enumerate(zip(axes[0], magnitudes, strict=True)):
        shown = axis.imshow(magnitude, cmap="viridis", origin="lower", aspect="auto")
        axis.set_title(f"filter {i + 1} ({magnitude.shape[0]}x{magnitude.shape[1]})")
        axis.set_xlabel("width frequency (0..W/2)")
        axis.set_ylabel("height frequency (centred)")
        figure.colorbar(shown, ax=axis, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)

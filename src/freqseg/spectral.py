"""The global filter's transform: rFFT2 -> complex product -> iFFT2, in two numerically equal forms.

``torch.fft`` is what training uses. The same transform written as real matrix
products (the DFT as cosine and sine matrices) is what export uses: it needs no
complex tensors and no DFT operator, which ONNX Runtime runs slowly, and it
exports with dynamic height and width because the matrices are built from the
input's shape inside the graph. Both use ``norm="ortho"``.

For a real ``x`` of width W, the half spectrum along W is ``x @ (C - iS)`` with
``C[w, k] = cos(2 pi w k / W)``, ``S[w, k] = sin(...)``, k = 0..W//2. Along H the
full DFT is ``(C_H - i S_H) @ X``. The inverse runs the conjugates back, and the
inverse real transform counts the bins k = 1..(W-1)//2 twice, as ``irfft`` does.

The matrix form is exact only where float32 matrix products are: on NVIDIA GPUs
that allow TF32 for them, it drifts by about 1e-2 (seen on an H200), so compare
or export there with ``torch.backends.cuda.matmul.allow_tf32 = False``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def fft_filter(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``irfft2(rfft2(x) * weight)``; x is [B, C, H, W] real, weight [C, H, W//2+1, 2] (real, imag)."""
    height, width = x.shape[-2:]
    # FFTs of half-precision inputs lose too much (and need power-of-two sizes on GPU): run them in float32.
    work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    spectrum = torch.fft.rfft2(work, norm="ortho")
    spectrum = spectrum * torch.view_as_complex(weight.to(work.dtype).contiguous())
    return torch.fft.irfft2(spectrum, s=(height, width), norm="ortho").to(x.dtype)


def _dft_matrices(size: int, bins: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of 2 pi n k / size for n < size, k < bins, scaled by 1/sqrt(size) (ortho)."""
    n = torch.arange(size, device=like.device)
    k = torch.arange(bins, device=like.device)
    # n k mod size in integers first: the float angle then stays below 2 pi, where float32 is exact to ~1e-7.
    # (The modulus is a tensor, n's last value + 1, because export cannot translate a remainder by a symbolic int.)
    angle = torch.remainder(torch.outer(n, k), n[-1:] + 1).to(like.dtype) * (2 * math.pi / size)
    scale = size**-0.5
    return torch.cos(angle) * scale, torch.sin(angle) * scale


def matmul_filter(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The same transform as ``fft_filter``, as real matrix products."""
    height, width = x.shape[-2], x.shape[-1]
    bins = width // 2 + 1
    cos_w, sin_w = _dft_matrices(width, bins, x)  # [W, K]
    cos_h, sin_h = _dft_matrices(height, height, x)  # [H, H], symmetric
    # Forward: along W (real -> half spectrum), then along H.
    a_re = x @ cos_w
    a_im = -(x @ sin_w)
    y_re = cos_h @ a_re + sin_h @ a_im
    y_im = cos_h @ a_im - sin_h @ a_re
    # Complex product with the filter.
    w_re, w_im = weight[..., 0], weight[..., 1]
    z_re = y_re * w_re - y_im * w_im
    z_im = y_re * w_im + y_im * w_re
    # Inverse along H.
    u_re = cos_h @ z_re - sin_h @ z_im
    u_im = cos_h @ z_im + sin_h @ z_re
    # Inverse real transform along W: interior bins count twice; the imaginary part of
    # the DC and Nyquist bins drops out, since their sines are zero. (2k == W marks the Nyquist bin
    # of an even width without a branch on W's parity, which export would freeze.)
    k = torch.arange(bins, device=x.device)
    twice = torch.where((k == 0) | (2 * k == width), 1.0, 2.0).to(x.dtype)
    return u_re @ (cos_w * twice).transpose(0, 1) - u_im @ (sin_w * twice).transpose(0, 1)


def resize_weight(weight: torch.Tensor, height: int, bins: int) -> torch.Tensor:
    """Resize a [C, h, k, 2] frequency weight to [C, height, bins, 2] (bilinear, on real and imaginary parts)."""
    if weight.shape[1] == height and weight.shape[2] == bins:
        return weight
    channels = weight.shape[0]
    planes = weight.permute(0, 3, 1, 2).reshape(1, channels * 2, weight.shape[1], weight.shape[2])
    resized = F.interpolate(planes, size=(height, bins), mode="bilinear", align_corners=True)
    return resized.reshape(channels, 2, height, bins).permute(0, 2, 3, 1)

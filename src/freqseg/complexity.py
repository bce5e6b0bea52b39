"""Parameters, FLOPs and CPU time: of whole models, and of the token mixers the notes compare.

PyTorch's FlopCounterMode counts nothing for FFTs; here a real FFT of N points
counts 2.5 N log2 N floating-point operations (half the classic 5 N log2 N of a
complex FFT), per transformed plane, for ``rfft2`` and ``irfft2`` alike. It also
misses the CPU attention kernels (PyTorch's fused scaled-dot-product attention and
nn.MultiheadAttention's inference fast path), counted here as their matmuls. Element-wise
work (activations, the filter's complex product) is not counted, for any model.

The mixer comparison runs each mixer on a C-channel map of S x S positions
(N = S^2 tokens): self-attention (O(N^2 C)), a 3x3 convolution (O(N C^2)), an
RNN (a GRU over the N tokens, O(N C^2) but sequential), a dense token-mixing
matrix multiply (O(N^2 C), and N^2 parameters), and the global filter
(O(N C log N), with C N/2 parameters).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from freqseg.models.gfunet import GlobalFilter


def _fft_r2c_flops(input_shape: Any, dims: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    points = math.prod(input_shape[d] for d in dims)
    planes = math.prod(input_shape) // points
    return int(planes * 2.5 * points * math.log2(max(points, 2)))


def _fft_c2r_flops(input_shape: Any, dims: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    points = math.prod(out_shape[d] for d in dims)
    planes = math.prod(out_shape) // points
    return int(planes * 2.5 * points * math.log2(max(points, 2)))


def _sdpa_cpu_flops(query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    """QK^T and the weighted sum of V: two batched matmuls of N x N x d (FlopCounterMode misses the CPU kernel)."""
    batch, heads, tokens, depth = query
    return 4 * batch * heads * tokens * key[2] * depth


def _native_mha_flops(query: Any, key: Any, value: Any, dim: int, heads: int, *args: Any, **kwargs: Any) -> int:
    """nn.MultiheadAttention's fused inference kernel: the QKV projection, attention, the output projection."""
    batch, tokens, _ = query
    projections = 2 * batch * tokens * dim * 3 * dim + 2 * batch * tokens * dim * dim
    return projections + 4 * batch * tokens * key[1] * dim


FLOP_FORMULAS = {
    torch.ops.aten._native_multi_head_attention: _native_mha_flops,
    torch.ops.aten._fft_r2c: _fft_r2c_flops,
    torch.ops.aten._fft_c2r: _fft_c2r_flops,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_cpu_flops,
}


def count_flops(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Floating-point operations of one forward pass (a multiply-add counts 2), FFTs included."""
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=FLOP_FORMULAS) as counter:
        module(*inputs)
    return int(counter.get_total_flops())


def parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def cpu_latency(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """Median seconds of ``fn()`` under inference mode."""
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


class TokenRNN(nn.Module):
    """A GRU run over the map's positions in raster order: the notes' RNN entry."""

    def __init__(self, dim: int):
        super().__init__()
        self.rnn = nn.GRU(dim, dim, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        out, _ = self.rnn(x.flatten(2).transpose(1, 2))
        return out.transpose(1, 2).reshape(batch, channels, height, width)


class TokenMatmul(nn.Module):
    """A learned N x N matrix mixing all positions (MLP-Mixer's token mixing)."""

    def __init__(self, tokens: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(tokens, tokens) / math.sqrt(tokens))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        return (x.flatten(2) @ self.weight).reshape(batch, channels, height, width)


class TokenAttention(nn.Module):
    """Multi-head self-attention over the positions (PyTorch's fused kernel: O(N) memory, O(N^2) time)."""

    def __init__(self, dim: int, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        q, k, v = self.qkv(tokens).reshape(batch, -1, 3, self.heads, channels // self.heads).permute(2, 0, 3, 1, 4)
        mixed = nn.functional.scaled_dot_product_attention(q, k, v)
        out = self.proj(mixed.transpose(1, 2).reshape(batch, -1, channels))
        return out.transpose(1, 2).reshape(batch, channels, height, width)


def mixers(dim: int, size: int) -> dict[str, nn.Module]:
    """Every token mixer of the notes' table, for a dim-channel map of size x size."""
    return {
        "global filter": GlobalFilter(dim, size, size),
        "self-attention": TokenAttention(dim),
        "convolution 3x3": nn.Conv2d(dim, dim, 3, padding=1),
        "RNN (GRU)": TokenRNN(dim),
        "matrix multiply": TokenMatmul(size * size),
    }


def mixer_table(dim: int = 64, size: int = 32) -> list[dict[str, Any]]:
    x = torch.randn(1, dim, size, size)
    rows = []
    for name, module in mixers(dim, size).items():
        rows.append(
            {
                "mixer": name,
                "params": parameters(module),
                "flops": count_flops(module, x),
                "cpu_ms": cpu_latency(partial(module, x)) * 1e3,
            }
        )
    return rows


def scaling(
    dim: int = 32, sizes: tuple[int, ...] = (64, 128, 256, 512), attention_max: int = 256
) -> list[dict[str, Any]]:
    """Time and FLOPs of global filter, self-attention and convolution against the map's side.

    Self-attention stops at ``attention_max``: at 512 (262,144 tokens) one pass costs about 9 TFLOPs, minutes
    on two cores, and the trend is clear well before.
    """
    rows = []
    for size in sizes:
        x = torch.randn(1, dim, size, size)
        subjects: dict[str, nn.Module] = {
            "global filter": GlobalFilter(dim, size, size),
            "convolution 3x3": nn.Conv2d(dim, dim, 3, padding=1),
        }
        if size <= attention_max:
            subjects["self-attention"] = TokenAttention(dim)
        for name, module in subjects.items():
            repeats = 1 if name == "self-attention" and size >= 256 else 5
            rows.append(
                {
                    "mixer": name,
                    "size": size,
                    "tokens": size * size,
                    "flops": count_flops(module, x),
                    "seconds": cpu_latency(partial(module, x), repeats=repeats, warmup=int(repeats > 1)),
                }
            )
    return rows


def nlogn_check(rows: list[dict[str, Any]], small: int = 128, large: int = 512) -> dict[str, float]:
    """The global filter's measured time ratio between two sizes, beside the N log N prediction."""
    times = {r["size"]: r["seconds"] for r in rows if r["mixer"] == "global filter"}
    n_small, n_large = small * small, large * large
    predicted = (n_large * math.log2(n_large)) / (n_small * math.log2(n_small))
    measured = times[large] / times[small]
    return {"measured_ratio": measured, "predicted_ratio": predicted, "measured_over_predicted": measured / predicted}


def plot_scaling(rows: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name in dict.fromkeys(r["mixer"] for r in rows):
        mine = [r for r in rows if r["mixer"] == name]
        tokens = [r["tokens"] for r in mine]
        left.loglog(tokens, [r["seconds"] for r in mine], "o-", label=name)
        right.loglog(tokens, [r["flops"] for r in mine], "o-", label=name)
    for axis, title in ((left, "CPU time (s)"), (right, "FLOPs")):
        axis.set_xlabel("tokens N (map side 64 to 512)")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)

"""GFUNet: a frequency-domain encoder (global filters) with a ResNet-style decoder.

Encoder, as in GFNet: the image is cut into patches by a strided convolution, a
learned position embedding (ViT-style) is added, and each stage runs blocks of

    x = x + MLP(LayerNorm(GlobalFilter(LayerNorm(x))))

where the global filter is rFFT2 -> element-wise product with a learned complex
weight -> iFFT2. By the convolution theorem that product is a convolution whose
kernel spans the whole feature map, at O(N log N) for N pixels instead of the
O(N^2) of self-attention. A strided convolution halves the resolution between
stages. Decoder: residual blocks that upsample and merge the encoder's skips, down
to the input's resolution, then a 1x1 convolution to class logits.

The model runs at any input size divisible by the total stride: the position
embedding and the filters' weights are resized (bilinearly) to the feature map at
run time, so a model trained on 128x128 slices segments 512x512 ones.

``mixer="attention"`` swaps the global filter for multi-head self-attention with
everything else unchanged: the comparison the notes' complexity table asks for.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from freqseg.spectral import fft_filter, matmul_filter, resize_weight

NORMS = ("layer", "batch")
UPSAMPLES = ("bilinear", "nearest", "transpose")
ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


@dataclass
class GFUNetConfig:
    in_channels: int = 1
    num_classes: int = 14
    img_size: int = 128  # the size the position embedding and filters are made for
    patch_size: int = 2
    dims: tuple[int, ...] = (32, 64, 128, 256)
    depths: tuple[int, ...] = (1, 1, 2, 1)
    mlp_ratio: float = 2.0
    decoder_dims: tuple[int, ...] = (128, 64, 32, 32)
    stem_dim: int = 16
    mixer: str = "filter"  # "filter" (global filter) or "attention" (multi-head self-attention)
    heads: int = 4
    transform: str = "fft"  # "fft" for training, "matmul" for export (see freqseg.spectral)
    # A learned absolute position embedding (ViT's), resized to the input. Off, the network is translation
    # equivariant and must place organs by their context: a model trained on crops meets whole slices of another
    # field of view at test time, where the embedding's positions mean something else.
    position_embedding: bool = True
    # What INT8 inference (ONNX Runtime, static QDQ) can run without leaving the integer graph.
    # "layer": LayerNorm (encoder) and GroupNorm (decoder), as trained so far; both stay in float when quantized, and
    # the Quantize/DequantizeLinear pairs around them cost more than the INT8 convolutions save.
    # "batch": BatchNorm after every convolution (folded into the convolution's weights by the exporter, or ONNX
    # Runtime at load, so it costs nothing in fp32 or INT8) and one more in front of each global filter, which runs
    # in float anyway (see freqseg.export.float_nodes), so that norm adds no Quantize/DequantizeLinear pair.
    norm: str = "layer"
    # How the decoder doubles its map: "bilinear"; "nearest", which ONNX Runtime 1.32 does run on the int8 tensor,
    # but with a slower kernel there (1.1 ms for 32 x 256 x 208) than bilinear's in float between its Dequantize/
    # QuantizeLinear (0.3 ms); or "transpose", a learned stride-2 ConvTranspose, which it runs in float (no integer
    # kernel). benchmarks/freqseg_int8_profile.py --variants measures all three.
    upsample: str = "bilinear"
    # The encoder MLP's activation: "gelu" (GFNet's) runs in float between Dequantize/QuantizeLinear when quantized;
    # "relu" fuses into the INT8 convolution before it.
    activation: str = "gelu"

    def __post_init__(self) -> None:
        if len(self.dims) != len(self.depths):
            raise ValueError(f"dims {self.dims} and depths {self.depths} must have one entry per stage")
        if len(self.decoder_dims) != len(self.dims):
            raise ValueError(f"decoder_dims {self.decoder_dims} needs one entry per stage ({len(self.dims)})")
        if self.mixer not in ("filter", "attention"):
            raise ValueError(f"mixer must be 'filter' or 'attention', not {self.mixer!r}")
        if self.transform not in ("fft", "matmul"):
            raise ValueError(f"transform must be 'fft' or 'matmul', not {self.transform!r}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, not {self.norm!r}")
        if self.upsample not in UPSAMPLES:
            raise ValueError(f"upsample must be one of {', '.join(UPSAMPLES)}, not {self.upsample!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {self.activation!r}")
        if self.img_size % self.stride:
            raise ValueError(f"img_size {self.img_size} must be divisible by the total stride {self.stride}")

    @property
    def stride(self) -> int:
        """How much the deepest stage is smaller than the input: inputs must be a multiple of it."""
        return self.patch_size << (len(self.dims) - 1)


SIZES = {
    "tiny": dict(dims=(16, 32, 64, 128), depths=(1, 1, 1, 1), decoder_dims=(64, 32, 16, 16), stem_dim=8),
    "small": dict(dims=(32, 64, 128, 256), depths=(1, 1, 2, 1), decoder_dims=(128, 64, 32, 32), stem_dim=16),
    # small's encoder with a decoder a quarter of the FLOPs: most of small's FLOPs are decoder convolutions
    "small-lean": dict(dims=(32, 64, 128, 256), depths=(1, 1, 2, 1), decoder_dims=(64, 32, 16, 16), stem_dim=8),
    # small built for INT8 (GFUNetConfig.norm and activation): static INT8 runs 1.6x (batch 1) and 1.9x (batch 8)
    # faster than fp32 in ONNX Runtime on 2 cores, the default small 1.2x (benchmarks/freqseg_int8_profile.py)
    "small-int8": dict(
        dims=(32, 64, 128, 256),
        depths=(1, 1, 2, 1),
        decoder_dims=(128, 64, 32, 32),
        stem_dim=16,
        norm="batch",
        activation="relu",
    ),
    "base": dict(dims=(48, 96, 192, 384), depths=(2, 2, 4, 2), decoder_dims=(192, 96, 48, 32), stem_dim=24),
}


def config_for(size: str, **overrides: object) -> GFUNetConfig:
    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}; choose one of {', '.join(SIZES)}")
    return GFUNetConfig(**{**SIZES[size], **overrides})  # type: ignore[arg-type]


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a [B, C, H, W] map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def channel_norm(kind: str, dim: int) -> nn.Module:
    """The encoder's norm over channels: LayerNorm, or BatchNorm (an affine map at inference; see GFUNetConfig)."""
    return LayerNorm2d(dim) if kind == "layer" else nn.BatchNorm2d(dim)


class GlobalFilter(nn.Module):
    """rFFT2, times a learned complex weight [C, h, w//2+1], iFFT2 (``norm="ortho"``)."""

    def __init__(self, dim: int, height: int, width: int, transform: str = "fft"):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dim, height, width // 2 + 1, 2) * 0.02)
        self.transform = transform

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2], x.shape[-1]
        weight = resize_weight(self.weight, height, width // 2 + 1)
        return (fft_filter if self.transform == "fft" else matmul_filter)(x, weight)


class SelfAttention(nn.Module):
    """Multi-head self-attention over all positions of the map: the O(N^2) alternative."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        mixed, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        return mixed.transpose(1, 2).reshape(batch, channels, height, width)


class Block(nn.Module):
    """norm -> token mixer -> norm -> MLP, with a residual connection (GFNet's block). With BatchNorm the second norm
    moves behind the MLP's first convolution, where it folds into it."""

    def __init__(self, dim: int, height: int, width: int, config: GFUNetConfig):
        super().__init__()
        self.norm1 = channel_norm(config.norm, dim)
        self.mixer: nn.Module = (
            GlobalFilter(dim, height, width, config.transform)
            if config.mixer == "filter"
            else SelfAttention(dim, config.heads)
        )
        hidden = int(dim * config.mlp_ratio)
        activation = ACTIVATIONS[config.activation]
        self.norm2: nn.Module
        if config.norm == "layer":
            self.norm2 = LayerNorm2d(dim)
            self.mlp = nn.Sequential(nn.Conv2d(dim, hidden, 1), activation(), nn.Conv2d(hidden, dim, 1))
        else:
            self.norm2 = nn.Identity()
            self.mlp = nn.Sequential(
                nn.Conv2d(dim, hidden, 1, bias=False), nn.BatchNorm2d(hidden), activation(), nn.Conv2d(hidden, dim, 1)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.norm2(self.mixer(self.norm1(x))))


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a residual shortcut (1x1 when the width changes)."""

    def __init__(self, in_dim: int, out_dim: int, norm: str = "layer"):
        super().__init__()

        def conv_norm(dim: int) -> nn.Module:  # GroupNorm ("layer"), or BatchNorm, which folds into the conv
            return nn.GroupNorm(min(8, dim), dim) if norm == "layer" else nn.BatchNorm2d(dim)

        self.body = nn.Sequential(
            nn.Conv2d(in_dim, out_dim, 3, padding=1, bias=False),
            conv_norm(out_dim),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_dim, out_dim, 3, padding=1, bias=False),
            conv_norm(out_dim),
        )
        self.shortcut = nn.Identity() if in_dim == out_dim else nn.Conv2d(in_dim, out_dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


class UpBlock(nn.Module):
    """Upsample to the skip's size (twice the input's), concatenate it, and run a residual block."""

    def __init__(self, in_dim: int, skip_dim: int, out_dim: int, norm: str = "layer", upsample: str = "bilinear"):
        super().__init__()
        self.upsample = upsample
        self.up = nn.ConvTranspose2d(in_dim, in_dim, 2, stride=2) if upsample == "transpose" else None
        self.block = ResBlock(in_dim + skip_dim, out_dim, norm)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        if self.up is not None:
            x = self.up(x)  # [B, C, 2h, 2w]: the skip's size, as inputs are multiples of the stride
        else:
            align = False if self.upsample == "bilinear" else None  # nearest takes no align_corners
            x = F.interpolate(x, size=skip.shape[-2:], mode=self.upsample, align_corners=align)
        return self.block(torch.cat([x, skip], dim=1))


class GFUNet(nn.Module):
    def __init__(self, config: GFUNetConfig):
        super().__init__()
        self.config = config
        grid = config.img_size // config.patch_size
        self.stem = ResBlock(config.in_channels, config.stem_dim, config.norm)  # full-resolution skip for sharp edges
        self.patch_embed = nn.Conv2d(config.in_channels, config.dims[0], config.patch_size, config.patch_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, config.dims[0], grid, grid)) if config.position_embedding else None
        if self.pos_embed is not None:
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.embed_norm = channel_norm(config.norm, config.dims[0])  # after patch_embed (and the position embedding)
        self.stages = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        for i, (dim, depth) in enumerate(zip(config.dims, config.depths, strict=True)):
            size = grid // 2**i
            self.stages.append(nn.Sequential(*(Block(dim, size, size, config) for _ in range(depth))))
            if i + 1 < len(config.dims):
                down = nn.Conv2d(dim, config.dims[i + 1], kernel_size=2, stride=2)
                self.downsamples.append(
                    nn.Sequential(LayerNorm2d(dim), down)
                    if config.norm == "layer"
                    else nn.Sequential(down, nn.BatchNorm2d(config.dims[i + 1]))  # norm after the conv: it folds
                )
        # Decoder: from the deepest stage up through every encoder skip, then the stem's.
        skips = [*reversed(config.dims[:-1]), config.stem_dim]
        in_dims = [config.dims[-1], *config.decoder_dims[:-1]]
        self.up_blocks = nn.ModuleList(
            UpBlock(i, s, o, config.norm, config.upsample)
            for i, s, o in zip(in_dims, skips, config.decoder_dims, strict=True)
        )
        self.head = nn.Conv2d(config.decoder_dims[-1], config.num_classes, 1)

    def set_transform(self, transform: str) -> None:
        """ "fft" (training) or "matmul" (ONNX export): same numbers, different operators."""
        if transform not in ("fft", "matmul"):
            raise ValueError(f"transform must be 'fft' or 'matmul', not {transform!r}")
        self.config.transform = transform
        for module in self.modules():
            if isinstance(module, GlobalFilter):
                module.transform = transform

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Features of every stage, finest first."""
        x = self.patch_embed(x)
        if self.pos_embed is not None:
            pos: torch.Tensor = self.pos_embed
            if pos.shape[-2:] != x.shape[-2:]:
                pos = F.interpolate(pos, size=x.shape[-2:], mode="bilinear", align_corners=False)
            x = x + pos
        x = self.embed_norm(x)
        features = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            features.append(x)
            if i < len(self.downsamples):
                x = self.downsamples[i](x)
        return features

    def decode(self, features: list[torch.Tensor], stem: torch.Tensor) -> torch.Tensor:
        x = features[-1]
        skips = [*reversed(features[:-1]), stem]
        for up, skip in zip(self.up_blocks, skips, strict=True):
            x = up(x, skip)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits [B, num_classes, H, W] for images [B, in_channels, H, W]."""
        height, width = x.shape[-2:]
        stride = self.config.stride
        if height % stride or width % stride:
            raise ValueError(f"input {height}x{width} must be a multiple of {stride} in both sides (pad it)")
        return self.head(self.decode(self.encode(x), self.stem(x)))

"""UniversalGFUNet: one GFUNet that segments every organ named by a prompt, trained on partially labelled data.

In the manner of the CLIP-Driven Universal Model (Liu et al., ICCV 2023). Ordinary segmentation treats labels as
orthogonal one-hot codes; here each class is described by the embedding of a text prompt ("a computed tomography
of a liver") from a frozen text encoder, computed once (``freqseg.prompts``), so related organs start from related
codes. Per image and class:

    task     = Linear(text embedding)                        a trainable projection of the frozen embedding
    visual   = Linear(global average pool of the deepest encoder features)
    params   = controller([task, visual])                    weights and biases of a tiny per-class head
    logit    = 1x1 conv 8->8, leaky ReLU, 1x1 conv 8->8, leaky ReLU, 1x1 conv 8->1, on the decoder's 8-channel map

Every class is a binary (sigmoid) output: classes are not mutually exclusive in training, which is what lets a
dataset that labels only some organs say nothing about the others. The head is batched tensor algebra (einsum over
batch and class), not a per-sample loop, so it exports to ONNX with a dynamic batch.

Two one-hot conditionings, for comparison, as the notes describe: ``onehot-branch`` replaces the text embedding
with a learned per-class code (one-hot times a matrix) in the same side branch; ``onehot-channel`` writes the
class's one-hot code into extra image channels and runs the whole network once per class (memory hungry: K passes).

``forward`` returns ``[B, 1 + K, H, W]``: a constant zero logit (the 0.5 threshold) in channel 0 before the K class
logits, so that ``argmax`` gives a label map exactly as a softmax network's logits do, and evaluation, export and
the service need no special case.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from freqseg.models.gfunet import GFUNet, GFUNetConfig

CONDITIONINGS = ("text", "onehot-branch", "onehot-channel")
# The generated head's activations leak: with plain ReLU one large update can leave every hidden unit of a class's
# head negative on every pixel, and then nothing (controller, backbone) gets a gradient again. One seed of three did
# exactly that (all second-layer units dead, the output a constant "no"); a leaky unit cannot die.
LEAK = 0.1


@dataclass
class UniversalConfig:
    backbone: GFUNetConfig = field(default_factory=GFUNetConfig)
    num_classes: int = 12  # foreground classes (prompts); background is what no class claims
    conditioning: str = "text"
    text_width: int = 384  # the prompt embeddings' width (all-MiniLM-L6-v2: 384, CLIP ViT-B/32: 512)
    embed_width: int = 256  # task and visual embeddings
    head_channels: int = 8  # the dynamic head's width, as in the published model

    def __post_init__(self) -> None:
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {', '.join(CONDITIONINGS)}, not {self.conditioning!r}")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, not {self.num_classes}")

    @property
    def head_params(self) -> int:
        """Weights and biases of the three 1x1 convolutions (c->c, c->c, c->1)."""
        c = self.head_channels
        return (c * c + c) * 2 + c + 1


def head_init(channels: int, prior: float = 0.1) -> torch.Tensor:
    """A starting point for every class's generated head: He-initialised 1x1 convolutions (He et al., ICCV 2015)
    and a last bias at the logit of ``prior`` (the rare-foreground prior of Lin et al., "Focal Loss", ICCV 2017).

    The controller adds its per-class output to this. Without it the generated weights start near 0.05, three of
    them multiply, and the head's output hardly depends on the pixels (spatial spread 0.001 at initialisation): the
    backbone gets almost no gradient and the model learns a constant "no"."""
    c = channels
    w1, w2 = torch.randn(c, c) * (2.0 / c) ** 0.5, torch.randn(c, c) * (2.0 / c) ** 0.5
    w3 = torch.randn(1, c) * (1.0 / c) ** 0.5
    b3 = torch.tensor([math.log(prior / (1 - prior))])
    return torch.cat([w1.flatten(), torch.zeros(c), w2.flatten(), torch.zeros(c), w3.flatten(), b3])


def dynamic_head(features: torch.Tensor, params: torch.Tensor, channels: int) -> torch.Tensor:
    """Per-(image, class) 1x1 convolutions c->c->c->1 with leaky ReLU (``LEAK``) between: features [B, c, H, W],
    params [B, K, P] -> logits [B, K, H, W]. Einsums over batch and class, so no loop and a dynamic batch in ONNX."""
    c = channels
    batch, classes = params.shape[:2]
    w1, b1, w2, b2, w3, b3 = torch.split(params, [c * c, c, c * c, c, c, 1], dim=-1)
    w1, w2, w3 = w1.reshape(batch, classes, c, c), w2.reshape(batch, classes, c, c), w3.reshape(batch, classes, 1, c)
    x = F.leaky_relu(torch.einsum("bkoi,bihw->bkohw", w1, features) + b1[..., None, None], LEAK)
    x = F.leaky_relu(torch.einsum("bkoi,bkihw->bkohw", w2, x) + b2[..., None, None], LEAK)
    return (torch.einsum("bkoi,bkihw->bkohw", w3, x) + b3[..., None, None])[:, :, 0]


class UniversalGFUNet(nn.Module):
    def __init__(self, config: UniversalConfig, text_embeddings: torch.Tensor | None = None):
        super().__init__()
        self.config = config
        k = config.num_classes
        backbone = config.backbone
        if config.conditioning == "onehot-channel":
            backbone = GFUNetConfig(**{**backbone.__dict__, "in_channels": backbone.in_channels + k, "num_classes": 1})
        else:
            backbone = GFUNetConfig(**{**backbone.__dict__, "num_classes": config.head_channels})
        self.backbone = GFUNet(backbone)  # in the side-branch modes its 1x1 head makes the 8-channel map
        if config.conditioning == "text":
            embeddings = torch.zeros(k, config.text_width) if text_embeddings is None else text_embeddings.float()
            if tuple(embeddings.shape) != (k, config.text_width):
                raise ValueError(
                    f"text embeddings of shape {tuple(embeddings.shape)}; this model needs ({k}, {config.text_width})"
                )
            self.register_buffer("text_embeddings", embeddings.clone())  # frozen: a buffer, never a parameter
            self.task_proj = nn.Linear(config.text_width, config.embed_width)
        elif config.conditioning == "onehot-branch":
            self.class_codes = nn.Embedding(k, config.embed_width)  # one-hot x matrix
        if config.conditioning != "onehot-channel":
            self.visual_proj = nn.Linear(backbone.dims[-1], config.embed_width)
            last = nn.Linear(config.embed_width, config.head_params)
            with torch.no_grad():
                last.bias.copy_(head_init(config.head_channels))
            self.controller = nn.Sequential(nn.Linear(2 * config.embed_width, config.embed_width), nn.ReLU(), last)

    @property
    def stride(self) -> int:
        return self.backbone.config.stride

    def set_transform(self, transform: str) -> None:
        self.backbone.set_transform(transform)

    def task_embeddings(self) -> torch.Tensor:
        """[K, E]: what the controller learns each class from.

        Prompt embeddings share their template ("a computed tomography of a ..."): MiniLM's twelve BTCV prompts have
        a mean pairwise cosine of 0.54, and a projection of them gives every class nearly the same code. They are
        centred on their mean over the classes and scaled to unit variance first, which keeps what tells the
        classes apart (and every relation between them) and drops what they share."""
        if self.config.conditioning == "text":
            text = self.get_buffer("text_embeddings")
            centred = text - text.mean(dim=0, keepdim=True)
            return self.task_proj(centred / centred.std().clamp(min=1e-6))
        return self.class_codes.weight

    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        """[B, K, H, W] sigmoid logits, one per class (what the partial-label loss reads)."""
        k = self.config.num_classes
        if self.config.conditioning == "onehot-channel":
            batch, _, height, width = x.shape
            codes = torch.eye(k, dtype=x.dtype, device=x.device)[None, :, :, None, None]
            codes = codes.expand(batch, k, k, height, width)
            images = x[:, None].expand(batch, k, x.shape[1], height, width)
            stacked = torch.cat([images, codes], dim=2).reshape(batch * k, -1, height, width)
            return self.backbone(stacked).reshape(batch, k, height, width)
        net = self.backbone
        if x.shape[-2] % self.stride or x.shape[-1] % self.stride:
            raise ValueError(f"input {tuple(x.shape[-2:])} must be a multiple of {self.stride} in both sides (pad it)")
        features = net.encode(x)
        decoded = net.head(net.decode(features, net.stem(x)))  # [B, c, H, W]
        visual = self.visual_proj(features[-1].mean(dim=(2, 3)))  # [B, E]
        task = self.task_embeddings()  # [K, E]
        pairs = torch.cat(
            [task[None].expand(x.shape[0], -1, -1), visual[:, None].expand(-1, task.shape[0], -1)], dim=-1
        )
        return dynamic_head(decoded, self.controller(pairs), self.config.head_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 1 + K, H, W]``: a zero background logit, then the class logits (argmax = label map)."""
        logits = self.class_logits(x)
        return F.pad(logits, (0, 0, 0, 0, 1, 0))

"""A small GPT over column-major tile tokens, conditioned on the prompt by cross-attention (torch; training only).

nanoGPT's shape: token + learned position embeddings, pre-norm blocks, tied input/output embeddings. Each block
adds a cross-attention over a few memory tokens made from the prompt's MiniLM embedding, the way MarioGPT
feeds its frozen BART encoder's output to DistilGPT2. The embeddings of the 128 canonical prompts are nearly
parallel (cosine 0.97-0.99), so each of their 384 dimensions is standardised over the 128 prompts before the
projection: what is left is only what tells prompts apart, at unit scale. ``mario.sampler`` runs the same
forward pass in numpy.

Two inputs make the level's grid explicit (docs/mario.md measures both). Positions are a row embedding plus a
column embedding (``position="factorized"``) rather than one learned vector per token: row ``i`` is then the same
vector in every column from the first step of training. And each position also gets the embedding of the tile
left of the one it predicts (``neighbour``: the token ``HEIGHT - 1`` back, the same row a column earlier; a
column's tiles mostly repeat the column before), which a network otherwise has to find by attention.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mario.tiles import HEIGHT, VOCAB_SIZE


@dataclass(frozen=True)
class GPTConfig:
    context_columns: int = 16
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    n_memory: int = 4  # memory tokens made from the prompt embedding
    prompt_dim: int = 384
    vocab_size: int = VOCAB_SIZE
    dropout: float = 0.3  # 0.1 overfits the 6,466 training windows within minutes (docs/mario.md)
    position: str = "factorized"  # "factorized": row + column embeddings; "absolute": one per token position
    neighbour: bool = True  # add the embedding of the tile left of the next one (same row, a column back)
    prompt_dropout: float = 0.1  # share of training windows shown the mean prompt (classifier-free guidance)

    @property
    def block_size(self) -> int:
        return self.context_columns * HEIGHT

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GPTConfig:
        return cls(**json.loads(text))


class Attention(nn.Module):
    """Multi-head attention; causal over the tiles, or (cross) from the tiles to the prompt's memory."""

    def __init__(self, cfg: GPTConfig, *, cross: bool) -> None:
        super().__init__()
        self.cross = cross
        self.n_head = cfg.n_head
        self.q = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.kv = nn.Linear(cfg.n_embd, 2 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        s = source.shape[1]
        h = self.n_head
        q = self.q(x).view(b, t, h, c // h).transpose(1, 2)
        k, v = self.kv(source).split(c, dim=2)
        k = k.view(b, s, h, c // h).transpose(1, 2)
        v = v.view(b, s, h, c // h).transpose(1, 2)
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=not self.cross, dropout_p=self.dropout if self.training else 0.0
        )
        return F.dropout(self.proj(y.transpose(1, 2).reshape(b, t, c)), self.dropout, self.training)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = Attention(cfg, cross=False)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.xattn = Attention(cfg, cross=True)
        self.ln3 = nn.LayerNorm(cfg.n_embd)
        self.fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd)
        self.out = nn.Linear(4 * cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        h = self.ln1(x)
        x = x + self.attn(h, h)
        x = x + self.xattn(self.ln2(x), memory)
        mlp = self.out(F.gelu(self.fc(self.ln3(x)), approximate="tanh"))
        return x + F.dropout(mlp, self.dropout, self.training)


def left_neighbours(idx: torch.Tensor, missing: int) -> torch.Tensor:
    """For each position t of (B, T) tokens, the token left of the one at t + 1: t + 1 - HEIGHT, or ``missing``."""
    out = torch.full_like(idx, missing)
    out[:, HEIGHT - 1 :] = idx[:, : idx.shape[1] - HEIGHT + 1]
    return out


class MarioGPT(nn.Module):
    prompt_mean: torch.Tensor
    prompt_scale: torch.Tensor

    def __init__(
        self, cfg: GPTConfig, prompt_mean: np.ndarray | None = None, prompt_scale: float | np.ndarray = 1.0
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        if cfg.position == "factorized":
            self.row_embedding = nn.Embedding(HEIGHT, cfg.n_embd)
            self.column_embedding = nn.Embedding(cfg.context_columns, cfg.n_embd)
        else:
            self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        if cfg.neighbour:  # index vocab_size: no column to the left within the window
            self.neighbour_embedding = nn.Embedding(cfg.vocab_size + 1, cfg.n_embd)
        mean = torch.zeros(cfg.prompt_dim) if prompt_mean is None else torch.as_tensor(prompt_mean, dtype=torch.float32)
        self.register_buffer("prompt_mean", mean)
        self.register_buffer("prompt_scale", torch.as_tensor(np.asarray(prompt_scale, dtype=np.float32)))
        self.memory = nn.Linear(cfg.prompt_dim, cfg.n_memory * cfg.n_embd)
        self.ln_memory = nn.LayerNorm(cfg.n_embd)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("out.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, 0.0, 0.02)

    def memory_tokens(self, prompt: torch.Tensor) -> torch.Tensor:
        """Memory (B, n_memory, n_embd) from prompt vectors (B, 384); in training, ``prompt_dropout`` of them are
        replaced by the mean prompt (zero once standardised), so the model learns levels without a prompt too."""
        e = (prompt - self.prompt_mean) / self.prompt_scale
        if self.training and self.cfg.prompt_dropout > 0:
            e = e * (torch.rand(e.shape[0], 1, device=e.device) >= self.cfg.prompt_dropout)
        m = self.memory(e).view(prompt.shape[0], self.cfg.n_memory, self.cfg.n_embd)
        return self.ln_memory(m)

    def forward(self, idx: torch.Tensor, prompt: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, vocab) for tokens (B, T) that start at a column boundary, given prompt vectors (B, 384)."""
        t = idx.shape[1]
        if t > self.cfg.block_size:
            raise ValueError(f"{t} tokens exceed the context of {self.cfg.block_size}; slide the window")
        x = self.wte(idx) + self.positions()[:t]
        if self.cfg.neighbour:
            x = x + self.neighbour_embedding(left_neighbours(idx, self.cfg.vocab_size))
        memory = self.memory_tokens(prompt)
        for block in self.blocks:
            x = block(x, memory)
        return F.linear(self.ln_f(x), self.wte.weight)

    def positions(self) -> torch.Tensor:
        """The position embeddings (block_size, n_embd): learned per position, or row + column."""
        if self.cfg.position == "factorized":
            rows = self.row_embedding.weight.repeat(self.cfg.context_columns, 1)
            return rows + self.column_embedding.weight.repeat_interleave(HEIGHT, dim=0)
        return self.wpe.weight

    def export(self, path: Path, *, dtype: str = "float16") -> Path:
        """Write the weights as a .npz that ``mario.sampler`` reads without torch (positions as one table)."""
        arrays = {k: v.detach().cpu().numpy().astype(dtype) for k, v in self.state_dict().items()}
        arrays["wpe.weight"] = self.positions().detach().cpu().numpy().astype(dtype)
        arrays["prompt_mean"] = self.prompt_mean.cpu().numpy().astype(np.float32)
        arrays["prompt_scale"] = self.prompt_scale.cpu().numpy().astype(np.float32)
        np.savez_compressed(path, config=np.array(self.cfg.to_json()), **arrays)
        return path

"""The GPT's forward pass in numpy, and level generation of any length by sliding the context window.

Serving installs no torch, so the committed checkpoint (``assets/model.npz``, float16) is read here and the
same arithmetic as ``mario.model`` is done with numpy; ``tests/mario/test_sampler.py`` holds the two equal.
Generation keeps a key/value cache per layer so each new tile costs one token's work; when the window is
full it slides by half its width, at a column boundary (the model has learned position ``i`` to be row
``i mod 14``), and the cache is rebuilt from the kept half.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mario.data import ASSETS
from mario.prompts import Prompt, PromptError, embedding, parse
from mario.tiles import HEIGHT, VOCAB_SIZE, Level, decode, encode

Array = npt.NDArray[np.float32]
CHECKPOINT = ASSETS / "model.npz"
MIN_COLUMNS = 8
MAX_COLUMNS = 1000
MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 3.0
DEFAULT_TEMPERATURE = 0.9  # chosen on seed 1 of the evaluation (docs/mario.md): the served levels adhere and play best
MAX_GUIDANCE = 10.0
DEFAULT_GUIDANCE = 1.5  # for checkpoints trained with prompt dropout; chosen on seed 1 of the evaluation, as above
START_COLUMNS = 3  # generation starts on flat ground, as Super Mario Bros levels do
START = ["-" * START_COLUMNS] * (HEIGHT - 2) + ["X" * START_COLUMNS] * 2


class GenerationError(ValueError):
    """A generation request out of range; the message gives the range."""


@dataclass(frozen=True)
class Config:
    context_columns: int
    n_layer: int
    n_head: int
    n_embd: int
    n_memory: int
    prompt_dim: int
    vocab_size: int
    neighbour: bool = False
    prompt_dropout: float = 0.0  # > 0: trained to draw levels without a prompt too, so guidance applies

    @property
    def block_size(self) -> int:
        return self.context_columns * HEIGHT

    def guided(self, guidance: float) -> bool:
        """Whether sampling at this guidance scale mixes in the unprompted logits (only if trained for it)."""
        return guidance != 1.0 and self.prompt_dropout > 0


def _layer_norm(x: Array, w: Array, b: Array) -> Array:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    out: Array = (x - mu) / np.sqrt(var + 1e-5) * w + b
    return out


def _gelu(x: Array) -> Array:
    inner = np.float32(math.sqrt(2.0 / math.pi)) * (x + np.float32(0.044715) * x**3)
    out: Array = (0.5 * x * (1.0 + np.tanh(inner))).astype(np.float32, copy=False)
    return out


def _softmax(x: Array) -> Array:
    e = np.exp(x - x.max(-1, keepdims=True))
    out: Array = (e / e.sum(-1, keepdims=True)).astype(np.float32, copy=False)
    return out


@dataclass
class Cache:
    """Keys and values of the tokens seen so far in the window, per layer: (batch, heads, block_size, head_dim)."""

    keys: list[Array]
    values: list[Array]
    memory: list[tuple[Array, Array]]  # cross-attention keys and values of the prompts, per layer
    tokens: npt.NDArray[np.int64]  # the window's tokens so far (batch, block_size)
    length: int = 0


class NumpyGPT:
    def __init__(self, arrays: dict[str, Array], cfg: Config) -> None:
        self.w = arrays
        self.cfg = cfg
        self.head_dim = cfg.n_embd // cfg.n_head
        self._wt: dict[str, Array] = {}

    @classmethod
    def load(cls, path: Path | None = None) -> NumpyGPT:
        p = path or CHECKPOINT
        if not p.exists():
            raise FileNotFoundError(f"{p} is missing; train with `python -m mario train --export src/mario/assets`")
        with np.load(p) as z:
            d = json.loads(str(z["config"]))
            arrays = {k: z[k].astype(np.float32) for k in z.files if k != "config"}
        cfg = Config(**{k: d[k] for k in Config.__dataclass_fields__ if k in d})
        return cls(arrays, cfg)

    def _linear(self, x: Array, name: str) -> Array:
        # Weights are kept transposed and contiguous, and inputs flattened to 2-D: for one token at a time
        # that is the plain matrix-vector product, several times faster than a batched matmul on a view.
        wt = self._wt.get(name)
        if wt is None:
            wt = self._wt[name] = np.ascontiguousarray(self.w[f"{name}.weight"].T)
        out: Array = (x.reshape(-1, x.shape[-1]) @ wt + self.w[f"{name}.bias"]).reshape(*x.shape[:-1], wt.shape[1])
        return out

    def _ln(self, x: Array, name: str) -> Array:
        return _layer_norm(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    def _heads(self, x: Array) -> Array:
        """(B, T, C) -> (B, heads, T, head_dim)"""
        b, t, _ = x.shape
        return x.reshape(b, t, self.cfg.n_head, self.head_dim).transpose(0, 2, 1, 3)

    def _merge(self, y: Array) -> Array:
        b, _, t, _ = y.shape
        return y.transpose(0, 2, 1, 3).reshape(b, t, self.cfg.n_embd)

    def new_cache(self, prompts: Array) -> Cache:
        """An empty window for prompt vectors (B, 384), or one prompt (384,) for a batch of one."""
        cfg = self.cfg
        e = np.atleast_2d(prompts).astype(np.float32)
        e = (e - self.w["prompt_mean"]) / self.w["prompt_scale"]
        m = self._linear(e, "memory").reshape(len(e), cfg.n_memory, cfg.n_embd)
        m = self._ln(m, "ln_memory")
        memory = []
        for i in range(cfg.n_layer):
            k, v = np.split(self._linear(m, f"blocks.{i}.xattn.kv"), 2, axis=-1)
            memory.append((self._heads(k), self._heads(v)))
        shape = (len(e), cfg.n_head, cfg.block_size, self.head_dim)
        keys = [np.zeros(shape, np.float32) for _ in range(cfg.n_layer)]
        values = [np.zeros(shape, np.float32) for _ in range(cfg.n_layer)]
        return Cache(keys, values, memory, np.zeros((len(e), cfg.block_size), np.int64))

    def run(self, tokens: npt.NDArray[np.int64], cache: Cache) -> Array:
        """Feed tokens (B, T) that follow those in the cache; returns their logits (B, T, vocab)."""
        cfg = self.cfg
        tokens = np.asarray(tokens, dtype=np.int64).reshape(len(cache.keys[0]), -1)
        t0, n = cache.length, tokens.shape[1]
        if t0 + n > cfg.block_size:
            raise GenerationError(f"{t0 + n} tokens exceed the context of {cfg.block_size}; slide the window")
        x = self.w["wte.weight"][tokens] + self.w["wpe.weight"][t0 : t0 + n]
        cache.tokens[:, t0 : t0 + n] = tokens
        if cfg.neighbour:  # the tile left of the next one: HEIGHT - 1 tokens back, or "none" in the first column
            back = np.arange(t0, t0 + n) - (HEIGHT - 1)
            left = np.where(back >= 0, cache.tokens[:, np.maximum(back, 0)], cfg.vocab_size)
            x = x + self.w["neighbour_embedding.weight"][left]
        scale = 1.0 / math.sqrt(self.head_dim)
        causal = np.triu(np.full((n, t0 + n), -np.inf, np.float32), k=t0 + 1)
        for i in range(cfg.n_layer):
            p = f"blocks.{i}"
            h = self._ln(x, f"{p}.ln1")
            q = self._heads(self._linear(h, f"{p}.attn.q"))
            k, v = np.split(self._linear(h, f"{p}.attn.kv"), 2, axis=-1)
            cache.keys[i][:, :, t0 : t0 + n] = self._heads(k)
            cache.values[i][:, :, t0 : t0 + n] = self._heads(v)
            att = q @ cache.keys[i][:, :, : t0 + n].transpose(0, 1, 3, 2) * scale + causal
            y = _softmax(att) @ cache.values[i][:, :, : t0 + n]
            x = x + self._linear(self._merge(y), f"{p}.attn.proj")
            mk, mv = cache.memory[i]
            q = self._heads(self._linear(self._ln(x, f"{p}.ln2"), f"{p}.xattn.q"))
            y = _softmax(q @ mk.transpose(0, 1, 3, 2) * scale) @ mv
            x = x + self._linear(self._merge(y), f"{p}.xattn.proj")
            x = x + self._linear(_gelu(self._linear(self._ln(x, f"{p}.ln3"), f"{p}.fc")), f"{p}.out")
        cache.length = t0 + n
        out: Array = self._ln(x, "ln_f") @ self.w["wte.weight"].T
        return out

    def forward(self, tokens: npt.NDArray[np.int64], prompts: Array) -> Array:
        """Logits (B, T, vocab) for whole windows (B, T) at once: the torch model's ``forward``."""
        tokens = np.atleast_2d(np.asarray(tokens, dtype=np.int64))
        return self.run(tokens, self.new_cache(prompts))


@lru_cache(maxsize=2)
def _model(path: str) -> NumpyGPT:
    return NumpyGPT.load(Path(path))


def default_model() -> NumpyGPT:
    return _model(str(CHECKPOINT))


def check_request(columns: object, temperature: object, seed: object) -> tuple[int, float, int]:
    """Validate what a caller (CLI, HTTP, Python) asks for; errors name the accepted range."""
    if isinstance(columns, bool) or not isinstance(columns, int):
        raise GenerationError(f"length must be a whole number of columns, got {columns!r}")
    if not MIN_COLUMNS <= columns <= MAX_COLUMNS:
        raise GenerationError(f"length {columns} is out of range; give {MIN_COLUMNS} to {MAX_COLUMNS} columns")
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not math.isfinite(temperature):
        raise GenerationError(f"temperature must be a number, got {temperature!r}")
    if not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:
        raise GenerationError(
            f"temperature {temperature} is out of range; give {MIN_TEMPERATURE} to {MAX_TEMPERATURE} "
            f"(default {DEFAULT_TEMPERATURE}; 1.0 samples the model as trained)"
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise GenerationError(f"seed must be a whole number (0 to 2**32 - 1), got {type(seed).__name__} {seed!r}")
    if not 0 <= seed < 2**32:
        raise GenerationError(f"seed {seed} is out of range; give 0 to {2**32 - 1}")
    return columns, float(temperature), seed


def sample_next(logits: Array, temperature: float, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """One tile per row of logits (B, vocab), drawn at the given temperature."""
    z = logits.astype(np.float64) / temperature
    probs = np.exp(z - z.max(-1, keepdims=True))
    cdf = np.cumsum(probs / probs.sum(-1, keepdims=True), axis=-1)
    u = rng.random((len(cdf), 1))
    picks: npt.NDArray[np.int64] = np.minimum((cdf < u).sum(-1), VOCAB_SIZE - 1).astype(np.int64)
    return picks


def generate(
    prompt: Prompt | str,
    columns: int = 64,
    *,
    temperature: float = DEFAULT_TEMPERATURE,
    seed: int = 0,
    model: NumpyGPT | None = None,
) -> Level:
    """A level ``columns`` wide (including the 3 starting columns of flat ground), drawn from the model."""
    q = parse(prompt) if isinstance(prompt, str) else prompt
    return generate_many([q], columns, temperature=temperature, seed=seed, model=model)[0]


def generate_many(
    prompts: list[Prompt],
    columns: int = 64,
    *,
    temperature: float = DEFAULT_TEMPERATURE,
    seed: int = 0,
    model: NumpyGPT | None = None,
    guidance: float = DEFAULT_GUIDANCE,
) -> list[Level]:
    """Several levels at once (one per prompt), batched so evaluation pays numpy's overhead once per tile.

    With ``guidance`` g != 1 and a checkpoint trained with ``prompt_dropout``, each tile is drawn from
    ``u + g (c - u)``, the logits without (u, the mean prompt) and with (c) the prompt: classifier-free guidance
    (Ho & Salimans, 2022), at twice the batch. Other checkpoints ignore it.
    """
    columns, temperature, seed = check_request(columns, temperature, seed)
    if isinstance(guidance, bool) or not isinstance(guidance, int | float) or not 0 <= guidance <= MAX_GUIDANCE:
        raise GenerationError(f"guidance {guidance!r} is out of range; give 0 to {MAX_GUIDANCE} (1: none)")
    for q in prompts:  # a Prompt made directly, not parsed, meets the same rule
        if q.contradiction is not None:
            raise PromptError(q.contradiction)
    m = model or default_model()
    rng = np.random.default_rng(seed)
    vecs = np.stack([embedding(q) for q in prompts])
    guided = m.cfg.guided(guidance)
    if guided:  # the second half of the batch reads the mean prompt: the model's level without a prompt
        vecs = np.concatenate([vecs, np.broadcast_to(m.w["prompt_mean"], vecs.shape)])
    start = encode(START)
    tokens = np.tile(start, (len(prompts), 1))
    target = columns * HEIGHT
    keep = max(1, m.cfg.context_columns // 2) * HEIGHT
    window = 0  # token index where the context window starts, always at a column boundary

    def step(fed: npt.NDArray[np.int64], cache: Cache) -> Array:
        logits = m.run(np.concatenate([fed, fed]) if guided else fed, cache)[:, -1]
        if not guided:
            return logits
        cond, uncond = np.split(logits, 2)
        mixed: Array = uncond + np.float32(guidance) * (cond - uncond)
        return mixed

    cache = m.new_cache(vecs)
    logits = step(tokens, cache)
    while tokens.shape[1] < target:
        nxt = sample_next(logits, temperature, rng)
        tokens = np.concatenate([tokens, nxt[:, None]], axis=1)
        if tokens.shape[1] == target:
            break
        if tokens.shape[1] - window >= m.cfg.block_size:
            window = tokens.shape[1] - keep
            cache = m.new_cache(vecs)
            logits = step(tokens[:, window:], cache)
        else:
            logits = step(nxt[:, None], cache)
    return [decode(row) for row in tokens]


def request_from_strings(columns: str | None, temperature: str | None, seed: str | None) -> tuple[int, float, int]:
    """The same checks for values that arrive as text (query strings, command lines), with the same messages."""

    def whole(text: str | None, default: int, what: str) -> int:
        if text is None or text.strip() == "":
            return default
        try:
            return int(text.strip())
        except ValueError:
            raise GenerationError(f"{what} must be a whole number, got {text!r}") from None

    cols = whole(columns, 64, "length (columns)")
    s = whole(seed, 0, "seed")
    if temperature is None or temperature.strip() == "":
        t = DEFAULT_TEMPERATURE
    else:
        try:
            t = float(temperature)
        except ValueError:
            raise GenerationError(f"temperature must be a number such as 1.0, got {temperature!r}") from None
    return check_request(cols, t, s)

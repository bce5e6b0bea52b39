"""A tiny random checkpoint built with numpy alone, laid out as ``MarioGPT.export`` writes it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mario.sampler import Config, NumpyGPT

CFG = Config(context_columns=4, n_layer=2, n_head=2, n_embd=16, n_memory=2, prompt_dim=384, vocab_size=13)


def arrays(cfg: Config = CFG, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = cfg.n_embd

    def lin(name: str, n_in: int, n_out: int) -> dict[str, np.ndarray]:
        return {f"{name}.weight": rng.normal(0, 0.3, (n_out, n_in)), f"{name}.bias": rng.normal(0, 0.1, n_out)}

    def ln(name: str) -> dict[str, np.ndarray]:
        return {f"{name}.weight": 1 + rng.normal(0, 0.1, c), f"{name}.bias": rng.normal(0, 0.1, c)}

    w: dict[str, np.ndarray] = {
        "wte.weight": rng.normal(0, 0.5, (cfg.vocab_size, c)),
        "wpe.weight": rng.normal(0, 0.5, (cfg.block_size, c)),
        "prompt_mean": rng.normal(0, 0.05, cfg.prompt_dim),
        "prompt_scale": np.array(0.5),
        **lin("memory", cfg.prompt_dim, cfg.n_memory * c),
        **ln("ln_memory"),
        **ln("ln_f"),
    }
    for i in range(cfg.n_layer):
        p = f"blocks.{i}"
        for a in ("attn", "xattn"):
            w |= lin(f"{p}.{a}.q", c, c) | lin(f"{p}.{a}.kv", c, 2 * c) | lin(f"{p}.{a}.proj", c, c)
        w |= ln(f"{p}.ln1") | ln(f"{p}.ln2") | ln(f"{p}.ln3") | lin(f"{p}.fc", c, 4 * c) | lin(f"{p}.out", 4 * c, c)
    return {k: np.asarray(v, dtype=np.float32) for k, v in w.items()}


def write(path: Path, cfg: Config = CFG) -> Path:
    config = {**cfg.__dict__, "dropout": 0.0}
    np.savez(path, config=np.array(json.dumps(config)), **arrays(cfg))
    return path


def model(tmp_path: Path) -> NumpyGPT:
    return NumpyGPT.load(write(tmp_path / "tiny.npz"))

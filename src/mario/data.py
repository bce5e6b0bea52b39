"""Training windows and the prompt attributes measured on them, as MarioGPT labels its data.

Counts become words by quantiles of the training windows: ``no`` when the count is zero, otherwise ``little``,
``some`` or ``many`` by the tertiles of the non-zero counts. Elevation is ``high`` when the highest hard block
('X': ground, stairs) stands above the median of that height. The thresholds are measured once on the training
split and kept beside the checkpoint (``assets/thresholds.json``), so a generated level is judged by the same
yardstick as the data the model saw.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mario.tiles import HEIGHT, Level, check_level, columns, width

COUNT_WORDS = ("no", "little", "some", "many")
ELEVATION_WORDS = ("low", "high")
ATTRIBUTES = ("pipes", "enemies", "blocks", "elevation")
GROUND_ROWS = 2  # the bottom rows: 'X' there is floor, not a block
SPLIT_BLOCK = 100  # columns; every tenth block is validation data
ASSETS = Path(__file__).resolve().parent / "assets"


@dataclass(frozen=True)
class Counts:
    pipes: float
    enemies: float
    blocks: float
    elevation: int  # height (in tiles, from the bottom) of the highest hard block


@dataclass(frozen=True)
class Thresholds:
    """Upper bounds of ``little`` and ``some`` per count, the elevation cut, and the window they were measured on."""

    window: int
    pipes: tuple[float, float]
    enemies: tuple[float, float]
    blocks: tuple[float, float]
    elevation: float

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path | None = None) -> Thresholds:
        path = path or ASSETS / "thresholds.json"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing; run `python -m mario train` (it writes the thresholds)")
        d = json.loads(path.read_text())
        return cls(
            window=int(d["window"]),
            pipes=(float(d["pipes"][0]), float(d["pipes"][1])),
            enemies=(float(d["enemies"][0]), float(d["enemies"][1])),
            blocks=(float(d["blocks"][0]), float(d["blocks"][1])),
            elevation=float(d["elevation"]),
        )


@lru_cache(maxsize=1)
def default_thresholds() -> Thresholds:
    """The committed thresholds (``assets/thresholds.json``), read once; a missing file raises every time."""
    return Thresholds.load()


def count(rows: Sequence[str], window: int | None = None) -> Counts:
    """Raw counts; with ``window`` they are scaled to a window of that many columns so long levels compare."""
    check_level(rows, allow_path=True)
    w = width(rows)
    if w == 0:
        raise ValueError("an empty level has no attributes")
    text = "".join(rows)
    upper = "".join(rows[: HEIGHT - GROUND_ROWS])
    pipes = text.count("<")
    enemies = text.count("E") + text.count("B")
    blocks = text.count("S") + text.count("?") + text.count("Q") + upper.count("X")
    hard = [i for i, r in enumerate(rows) if "X" in r]
    elevation = HEIGHT - min(hard) if hard else 0
    scale = 1.0 if window is None else window / w
    return Counts(pipes * scale, enemies * scale, blocks * scale, elevation)


def _word(value: float, bounds: tuple[float, float]) -> str:
    if value <= 0:
        return "no"
    if value <= bounds[0]:
        return "little"
    if value <= bounds[1]:
        return "some"
    return "many"


def measure(rows: Sequence[str], thresholds: Thresholds) -> dict[str, str]:
    """The prompt words that describe a level, e.g. ``{"pipes": "some", ..., "elevation": "low"}``."""
    c = count(rows, thresholds.window)
    return {
        "pipes": _word(c.pipes, thresholds.pipes),
        "enemies": _word(c.enemies, thresholds.enemies),
        "blocks": _word(c.blocks, thresholds.blocks),
        "elevation": "high" if c.elevation > thresholds.elevation else "low",
    }


def fit_thresholds(windows: Sequence[Level], window: int) -> Thresholds:
    counts = [count(w) for w in windows]

    def tertiles(values: list[float]) -> tuple[float, float]:
        nonzero = np.array([v for v in values if v > 0], dtype=np.float64)
        if nonzero.size == 0:
            return (1.0, 2.0)
        lo, hi = np.quantile(nonzero, [1 / 3, 2 / 3])
        return (float(lo), float(max(hi, lo)))

    return Thresholds(
        window=window,
        pipes=tertiles([c.pipes for c in counts]),
        enemies=tertiles([c.enemies for c in counts]),
        blocks=tertiles([c.blocks for c in counts]),
        elevation=float(np.median([c.elevation for c in counts])),
    )


def split_of_columns(n_columns: int) -> npt.NDArray[np.bool_]:
    """True for validation columns: whole blocks of 100, so no validation window overlaps a training one."""
    val: npt.NDArray[np.bool_] = (np.arange(n_columns) // SPLIT_BLOCK) % 10 == 9
    return val


def window_starts(n_columns: int, window: int, *, validation: bool, stride: int = 1) -> list[int]:
    """Starts of the windows that lie wholly inside one split."""
    val = split_of_columns(n_columns)
    starts = []
    for s in range(0, n_columns - window + 1, stride):
        part = val[s : s + window]
        if part.all() if validation else not part.any():
            starts.append(s)
    return starts


def windows(rows: Sequence[str], window: int, *, validation: bool, stride: int = 1) -> list[Level]:
    return [
        columns(rows, s, s + window) for s in window_starts(width(rows), window, validation=validation, stride=stride)
    ]

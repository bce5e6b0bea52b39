"""The tile alphabet and the column-major tokenisation the GPT reads.

A level is a list of 14 equal-length strings (row 0 at the top). The model reads it column by column, each
column from the bottom row up, so the ground of a column comes before what stands on it and a window that
starts at a column boundary always sees row ``i`` at position ``i mod 14``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

HEIGHT = 14
AIR = "-"
PATH = "x"  # the agent's path overlay: drawn on levels, never a token
# Order fixes the token ids of the committed checkpoint: append, never reorder.
TILES = "-XS?QoE<>[]Bb"
VOCAB_SIZE = len(TILES)
SOLID = frozenset("XS?Q<>[]Bb")
NAMES = {
    "-": "air",
    "X": "ground / hard block",
    "S": "brick",
    "?": "question block",
    "Q": "question block (used)",
    "o": "coin",
    "E": "enemy",
    "<": "pipe top left",
    ">": "pipe top right",
    "[": "pipe body left",
    "]": "pipe body right",
    "B": "cannon top",
    "b": "cannon base",
    "x": "path",
}
_ID = {ch: i for i, ch in enumerate(TILES)}

Level = list[str]
Tokens = npt.NDArray[np.int64]


class LevelError(ValueError):
    """A level that is not 14 equal rows of known tiles."""


def check_level(rows: Sequence[str], *, allow_path: bool = False) -> None:
    if len(rows) != HEIGHT:
        raise LevelError(f"a level has {HEIGHT} rows, this one has {len(rows)}; give one string per row")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise LevelError(f"all rows of a level must be as wide; got widths {sorted(widths)}")
    known = set(TILES) | ({PATH} if allow_path else set())
    unknown = set("".join(rows)) - known
    if unknown:
        raise LevelError(f"unknown tiles {sorted(unknown)}; known tiles are {''.join(sorted(known))!r}")


def strip_path(rows: Iterable[str]) -> Level:
    """The data set's rows carry an 'x' path overlay drawn by another agent; the model is trained without it."""
    return [r.replace(PATH, AIR) for r in rows]


def encode(rows: Sequence[str]) -> Tokens:
    """Rows -> token ids, column by column, bottom row first."""
    check_level(rows)
    grid = np.array([[_ID[ch] for ch in r] for r in rows], dtype=np.int64)  # (14, W)
    return np.ascontiguousarray(grid[::-1].T).reshape(-1)


def decode(tokens: Sequence[int] | Tokens) -> Level:
    """Token ids -> rows; a trailing partial column is padded with air so a level in progress can be drawn."""
    ids = np.asarray(tokens, dtype=np.int64).reshape(-1)
    if ids.size and (ids.min() < 0 or ids.max() >= VOCAB_SIZE):
        raise LevelError(f"token ids must lie in [0, {VOCAB_SIZE}); got {int(ids.min())}..{int(ids.max())}")
    pad = (-ids.size) % HEIGHT
    ids = np.concatenate([ids, np.zeros(pad, dtype=np.int64)])
    grid = ids.reshape(-1, HEIGHT).T[::-1]  # (14, W), row 0 at the top
    alphabet = np.array(list(TILES))
    return ["".join(alphabet[row]) for row in grid]


def width(rows: Sequence[str]) -> int:
    return len(rows[0]) if rows else 0


def columns(rows: Sequence[str], start: int, stop: int) -> Level:
    return [r[start:stop] for r in rows]


def to_text(rows: Sequence[str]) -> str:
    return "\n".join(rows) + "\n"


def from_text(text: str, *, allow_path: bool = True) -> Level:
    rows = [r for r in text.splitlines() if r.strip()]
    check_level(rows, allow_path=allow_path)
    return rows

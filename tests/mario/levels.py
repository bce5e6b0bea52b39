"""Hand-made levels for the tests: 14 rows each, row 0 at the top."""

from __future__ import annotations

SKY = "-" * 20


def flat(width: int = 20) -> list[str]:
    return ["-" * width] * 12 + ["X" * width] * 2


def with_gap(gap: int, width: int = 30) -> list[str]:
    """Flat ground with a pit ``gap`` columns wide in the middle."""
    left = (width - gap) // 2
    ground = "X" * left + "-" * gap + "X" * (width - left - gap)
    return ["-" * width] * 12 + [ground] * 2


def with_wall(height: int, width: int = 20) -> list[str]:
    """Flat ground with a wall of hard blocks ``height`` tiles tall at column 10."""
    rows = flat(width)
    for r in range(12 - height, 12):
        rows[r] = rows[r][:10] + "X" + rows[r][11:]
    return rows


PIPES = [
    "--------------------",
    "--------------------",
    "--------------------",
    "--------------------",
    "--------------------",
    "--------------------",
    "--------------------",
    "--------------------",
    "------SS?S----------",
    "--------------------",
    "--<>-------E----<>--",
    "--[]-------B----[]--",
    "XXXXXXXXXXXbXXXXXXXX",
    "XXXXXXXXXXXXXXXXXXXX",
]

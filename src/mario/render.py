"""Draw a level as a PNG with the tile images mario-gpt ships (fetched by ``python -m mario prepare``).

When the tiles have not been fetched the level is still drawn, in flat colours, so that nothing that shows a
level depends on the download; the page says which it used.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from PIL import Image

from mario.prepare import tiles_dir
from mario.tiles import HEIGHT, check_level, width

TILE = 16
TILE_FILES = {
    "-": "smb-background.png",
    "X": "smb-unpassable.png",
    "S": "smb-breakable.png",
    "?": "smb-question.png",
    "Q": "smb-question.png",
    "o": "smb-coin.png",
    "E": "smb-enemy.png",
    "<": "smb-tube-top-left.png",
    ">": "smb-tube-top-right.png",
    "[": "smb-tube-lower-left.png",
    "]": "smb-tube-lower-right.png",
    "B": "cannon_top.png",
    "b": "cannon_bottom.png",
    "x": "smb-path.png",
}
COLOURS = {
    "-": (107, 140, 255),
    "X": (153, 78, 12),
    "S": (200, 76, 12),
    "?": (252, 188, 60),
    "Q": (252, 188, 60),
    "o": (252, 216, 0),
    "E": (180, 40, 40),
    "<": (0, 168, 0),
    ">": (0, 168, 0),
    "[": (0, 128, 0),
    "]": (0, 128, 0),
    "B": (40, 40, 40),
    "b": (80, 80, 80),
    "x": (255, 255, 255),
}


@lru_cache(maxsize=4)
def _tileset(directory: str) -> dict[str, Image.Image] | None:
    folder = Path(directory)
    if not all((folder / name).exists() for name in TILE_FILES.values()):
        return None
    sky = Image.open(folder / TILE_FILES["-"]).convert("RGBA").resize((TILE, TILE))
    out: dict[str, Image.Image] = {}
    for ch, name in TILE_FILES.items():
        tile = Image.open(folder / name).convert("RGBA").resize((TILE, TILE))
        out[ch] = Image.alpha_composite(sky, tile).convert("RGB")  # sprites with transparency sit on the sky
    return out


def has_tiles(directory: Path | None = None) -> bool:
    return _tileset(str(directory or tiles_dir())) is not None


def render(rows: Sequence[str], directory: Path | None = None) -> Image.Image:
    check_level(rows, allow_path=True)
    tiles = _tileset(str(directory or tiles_dir()))
    image = Image.new("RGB", (width(rows) * TILE, HEIGHT * TILE))
    for r, line in enumerate(rows):
        for c, ch in enumerate(line):
            if tiles is not None:
                image.paste(tiles[ch], (c * TILE, r * TILE))
            else:
                image.paste(COLOURS[ch], (c * TILE, r * TILE, (c + 1) * TILE, (r + 1) * TILE))
    return image


def png_bytes(rows: Sequence[str], directory: Path | None = None) -> bytes:
    buf = io.BytesIO()
    render(rows, directory).save(buf, format="PNG", optimize=True)
    return buf.getvalue()

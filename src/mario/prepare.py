"""Fetch the levels and tile images that the ``mario-gpt`` package (MIT) carries, without importing it.

Importing ``mario_gpt`` pulls transformers; the levels are one string literal in ``mario_gpt/level.py``, so the
file is parsed (``ast``) instead. Nothing fetched is committed: it lands in ``.cache/mario`` (or ``$MARIO_CACHE``).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

PACKAGE = "mario-gpt==0.1.3"
LEVEL_FILE = "mario_gpt/level.py"
TILES_PREFIX = "mario_gpt/data/tiles/"
LEVEL_NAME = "FULL_LEVEL_STR_WITH_PATHS"
REPO_ROOT = Path(__file__).resolve().parents[2]
ATTRIBUTION = (
    "Levels and tile images from the mario-gpt package 0.1.3 (MIT licence, Shyam Sudhakaran et al.);\n"
    "the levels are Super Mario Bros. and The Lost Levels from the Video Game Level Corpus (VGLC).\n"
)


def cache_dir() -> Path:
    return Path(os.environ.get("MARIO_CACHE", REPO_ROOT / ".cache" / "mario"))


def level_path(cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / "levels.txt"


def tiles_dir(cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / "tiles"


class DataMissing(FileNotFoundError):
    """The fetched data is not there yet."""


def _archive_members(archive: Path) -> dict[str, bytes]:
    """Read level.py and the tile PNGs from a wheel or an sdist, whatever pip gave."""
    wanted: dict[str, bytes] = {}
    if archive.suffix == ".whl" or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                inner = name
                if inner == LEVEL_FILE or (inner.startswith(TILES_PREFIX) and inner.endswith(".png")):
                    wanted[inner] = zf.read(name)
    else:
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                inner = member.name.split("/", 1)[-1]  # drop the sdist's top folder
                if inner == LEVEL_FILE or (inner.startswith(TILES_PREFIX) and inner.endswith(".png")):
                    f = tf.extractfile(member)
                    if f is not None:
                        wanted[inner] = f.read()
    if LEVEL_FILE not in wanted:
        raise DataMissing(f"{archive.name} has no {LEVEL_FILE}; delete it and run `python -m mario prepare` again")
    return wanted


def level_rows_from_source(source: str) -> list[str]:
    """The 14 rows of the level literal, read from the module's text without running it."""
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == LEVEL_NAME for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return [r for r in node.value.value.split("\n") if r]
    raise DataMissing(f"{LEVEL_FILE} defines no string {LEVEL_NAME}; is this mario-gpt 0.1.3?")


def prepare(cache: Path | None = None, *, quiet: bool = False) -> Path:
    """Download the package with pip (registries are the only reachable hosts) and unpack what we use."""
    cache = cache or cache_dir()
    if level_path(cache).exists() and any(tiles_dir(cache).glob("*.png")):
        if not quiet:
            print(f"already prepared: {cache}")
        return cache
    downloads = cache / "download"
    downloads.mkdir(parents=True, exist_ok=True)
    archives = sorted(downloads.glob("mario_gpt-0.1.3*"))
    if not archives:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", PACKAGE, "-d", str(downloads)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise DataMissing(
                f"`{' '.join(cmd)}` failed ({done.stderr.strip()[-400:]}); check that PyPI is reachable and retry"
            )
        archives = sorted(downloads.glob("mario_gpt-0.1.3*"))
    members = _archive_members(archives[0])
    rows = level_rows_from_source(members.pop(LEVEL_FILE).decode("utf-8"))
    level_path(cache).write_text("\n".join(rows) + "\n")
    tiles = tiles_dir(cache)
    tiles.mkdir(parents=True, exist_ok=True)
    for name, data in members.items():
        (tiles / Path(name).name).write_bytes(data)
    (cache / "ATTRIBUTION.txt").write_text(ATTRIBUTION)
    if not quiet:
        print(f"levels: {level_path(cache)} ({len(rows)} rows x {len(rows[0])} columns)")
        print(f"tiles:  {tiles} ({len(members)} images)")
    return cache


def load_full_level(cache: Path | None = None) -> list[str]:
    """The whole stitched level, with the data set's 'x' path overlay still in."""
    path = level_path(cache)
    if not path.exists():
        raise DataMissing(f"{path} does not exist; run `python -m mario prepare` first (downloads 1 MB from PyPI)")
    return path.read_text().split()

"""Why the model trailed the copy-the-previous-column baseline: four designs, trained for the same minutes each.

Each design trains from scratch with ``python -m mario train`` for ``--minutes`` (2 threads, batch 16), one after
another, then its exported model is scored with ``mario.evaluate.tile_accuracy``: next-tile accuracy on non-air
validation targets after each window's first column, beside the baseline that repeats the tile a column back on
the same targets, and the accuracy on the tiles where that baseline is wrong.

    .venv/bin/python benchmarks/mario_designs.py [--minutes 5] [--out runs/mario-designs]

Needs the ml extra and ``python -m mario prepare``. About 4 x (minutes + 1) minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from common import header

DESIGNS: dict[str, list[str]] = {
    "absolute positions, 32 columns (the design until #18)": [
        "--position", "absolute", "--context-columns", "32", "--no-neighbour",
    ],
    "row + column positions, 32 columns": ["--position", "factorized", "--context-columns", "32", "--no-neighbour"],
    "row + column positions, 16 columns": ["--position", "factorized", "--context-columns", "16", "--no-neighbour"],
    "row + column positions, 16 columns, left neighbour (the default)": [
        "--position", "factorized", "--context-columns", "16", "--neighbour",
    ],
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=Path("runs/mario-designs"))
    args = parser.parse_args()

    from mario.evaluate import load_run, tile_accuracy
    from mario.prepare import load_full_level
    from mario.tiles import strip_path

    rows = strip_path(load_full_level())
    print(header(["torch", "numpy"]))
    print(f"each design trained {args.minutes:g} minutes from scratch (2 threads, batch 16, seed 0)\n")
    print("| design | steps | non-air accuracy | copy baseline (same targets) | difference | on changed tiles |")
    print("|---|---:|---:|---:|---:|---:|")
    for index, (name, options) in enumerate(DESIGNS.items()):
        out = args.out / f"design-{index}"
        command = [sys.executable, "-m", "mario", "train", "--out", str(out), "--minutes", str(args.minutes)]
        subprocess.run([*command, *options], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        model, thresholds = load_run(out)
        figures = tile_accuracy(model, rows, thresholds)
        steps = (out / "log.jsonl").read_text().splitlines()[-1].split('"step": ')[1].split(",")[0]
        accuracy, baseline = figures["nonair_accuracy"], figures["copy_previous_column_baseline"]
        print(
            f"| {name} | {steps} | {accuracy:.3f} | {baseline:.3f} | {100 * (accuracy - baseline):+.1f} points "
            f"| {figures['on_changed_tiles']:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

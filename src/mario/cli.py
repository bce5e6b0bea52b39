"""``python -m mario``: prepare, embed-prompts, train, generate, evaluate, serve.

Bad input (an empty or unparseable prompt, a length, temperature or seed out of range) exits with status 2
and one line on stderr that says what was wrong and what is accepted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def _prepare(args: argparse.Namespace) -> int:
    from mario.prepare import prepare

    prepare()
    return 0


def _embed(args: argparse.Namespace) -> int:
    from mario.prompts import embed_all

    print(f"wrote {embed_all()}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from mario.model import GPTConfig
    from mario.train import TrainConfig, train

    cfg = GPTConfig(
        context_columns=args.context_columns,
        n_layer=args.layers,
        n_embd=args.width,
        position=args.position,
        neighbour=args.neighbour,
        dropout=args.dropout,
        prompt_dropout=args.prompt_dropout,
    )
    tc = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        max_minutes=args.minutes,
        lr=args.lr,
        weight_decay=args.weight_decay,
        seed=args.seed,
        threads=args.threads,
        device=args.device,
    )
    train(Path(args.out), cfg, tc, resume=args.resume, export=Path(args.export) if args.export else None)
    return 0


def _generate(args: argparse.Namespace) -> int:
    from mario.levelinfo import generate_level
    from mario.prompts import PromptError, parse
    from mario.render import has_tiles, render
    from mario.sampler import GenerationError, request_from_strings
    from mario.tiles import to_text

    try:
        prompt = parse(args.prompt)
        columns, temperature, seed = request_from_strings(args.columns, args.temperature, args.seed)
    except (PromptError, GenerationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = generate_level(prompt, columns, temperature=temperature, seed=seed, candidates=args.candidates)
    rows = report.rows
    stem = Path(args.out)
    stem.parent.mkdir(parents=True, exist_ok=True)
    txt, png = stem.with_suffix(".txt"), stem.with_suffix(".png")
    txt.write_text(to_text(report.marked if args.path else rows))
    render(report.marked if args.path else rows).save(png)
    print(f"prompt:   {prompt.text}")
    print(f"measured: {', '.join(f'{v} {k}' for k, v in report.measured.items())}")
    print(f"playable: {'yes' if report.playable else f'no (the agent reaches column {report.furthest})'}")
    print(
        f"wrote {txt} and {png}" + ("" if has_tiles() else " (flat colours: run `python -m mario prepare` for tiles)")
    )
    if args.show:
        print(to_text(report.marked), end="")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from mario.evaluate import evaluate

    figures = evaluate(
        levels_per_prompt=args.levels_per_prompt,
        columns=args.columns,
        seed=args.seed,
        temperature=args.temperature,
        candidates=args.candidates,
        guidance=args.guidance,
        checkpoint=Path(args.checkpoint) if args.checkpoint else None,
    )
    text = json.dumps(figures, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    print(text)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from mario.web import engine

    print(f"mario on http://{args.host}:{args.port}/mario")
    engine().run(host=args.host, port=args.port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mario", description="Prompt-conditioned Mario level generation.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "prepare", help="fetch the levels and tile images of mario-gpt 0.1.3 into .cache/mario"
    ).set_defaults(func=_prepare)
    sub.add_parser(
        "embed-prompts", help="remake assets/prompt_embeddings.npz with MiniLM (needs the ml extra)"
    ).set_defaults(func=_embed)

    p = sub.add_parser("train", help="train the GPT on CPU (needs the ml extra and `python -m mario prepare`)")
    p.add_argument("--out", default="runs/mario")
    p.add_argument("--steps", type=int, default=100_000, help="at most; --minutes usually ends the run first")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--minutes", type=float, default=30.0, help="stop after this much wall time")
    p.add_argument("--context-columns", type=int, default=16)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--position", choices=("factorized", "absolute"), default="factorized")
    p.add_argument(
        "--neighbour",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="feed the tile left of the next one as an input (default: on)",
    )
    p.add_argument("--dropout", type=float, default=0.3, help="dropout in attention and MLP (default 0.3)")
    p.add_argument(
        "--prompt-dropout", type=float, default=0.1,
        help="share of windows trained with the mean prompt, for classifier-free guidance (default 0.1; 0: off)",
    )  # fmt: skip
    p.add_argument("--weight-decay", type=float, default=0.1, help="AdamW weight decay on matrices (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and the batches")
    p.add_argument("--threads", type=int, default=2, help="torch threads on CPU")
    p.add_argument("--device", default="cpu", help="torch device: cpu, or cuda for a GPU run")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--export", default=None, help="copy model.npz and thresholds.json here (src/mario/assets)")
    p.set_defaults(func=_train)

    p = sub.add_parser("generate", help="write a level for a prompt as text and PNG")
    p.add_argument("prompt", help="e.g. 'many pipes, no enemies, some blocks, low elevation'")
    p.add_argument("--columns", default=None, help="level length in columns (8-1000, default 64)")
    p.add_argument("--temperature", default=None, help="sampling temperature (0.05-3, default 0.9)")
    p.add_argument("--seed", default=None, help="random seed, a whole number (default 0)")
    p.add_argument("--out", default="mario-level", help="path stem: writes STEM.txt and STEM.png")
    p.add_argument("--path", action="store_true", help="draw the agent's path ('x') in the outputs")
    p.add_argument("--show", action="store_true", help="print the level (with its path) to stdout")
    p.add_argument(
        "--candidates", type=int, default=4, choices=range(1, 17), metavar="1-16",
        help="levels drawn; the first playable one measuring as asked is kept (default 4; 1: the model alone)",
    )  # fmt: skip
    p.set_defaults(func=_generate)

    p = sub.add_parser("evaluate", help="prompt adherence, playability, novelty and tile accuracy")
    p.add_argument("--levels-per-prompt", type=int, default=1)
    p.add_argument("--columns", type=int, default=48)
    p.add_argument("--temperature", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--candidates", type=int, default=4, help="levels drawn per prompt for the served figures")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale (default: the served)")
    p.add_argument("--checkpoint", default=None, help="a training run's --out directory (default: the committed model)")
    p.add_argument("--out", default="runs/mario/eval.json")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("serve", help="serve the page on gee (GET /mario)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

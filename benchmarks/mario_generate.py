"""What a served level costs: one 64-column level drawn alone, with and without the classifier-free guidance that
doubles the batch, and the four guided candidates the page draws in one batch.

The committed checkpoint, numpy only (as served), one prompt, interleaved rounds, medians; the ratio is the figure
to carry to another machine.

    .venv/bin/python benchmarks/mario_generate.py [--rounds 5] [--columns 64]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from mario.levelinfo import CANDIDATES, generate_level
from mario.prompts import parse
from mario.sampler import DEFAULT_GUIDANCE, default_model

from common import header, interleaved


def timer(candidates: int, columns: int, guidance: float = DEFAULT_GUIDANCE) -> Callable[[], float]:
    prompt = parse("some pipes, some enemies")
    model = default_model()

    def run() -> float:
        start = time.perf_counter()
        generate_level(prompt, columns, seed=1, candidates=candidates, model=model, guidance=guidance)
        return time.perf_counter() - start

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--columns", type=int, default=64)
    args = parser.parse_args()
    runs = {"1, unguided": timer(1, args.columns, guidance=1.0)}
    runs |= {str(n): timer(n, args.columns) for n in (1, CANDIDATES)}
    times = {n: statistics.median(v) for n, v in interleaved(runs, args.rounds).items()}
    print(header(["numpy"]))
    print(f"\n{args.columns} columns, the agent and the attributes included; medians of {args.rounds} rounds\n")
    print(f"guidance {DEFAULT_GUIDANCE} where not said (checkpoints trained without prompt dropout ignore it)\n")
    print("| candidates | seconds | vs one |")
    print("|---:|---:|---:|")
    for n, seconds in times.items():
        print(f"| {n} | {seconds:.2f} | {seconds / times['1']:.2f} |")


if __name__ == "__main__":
    main()

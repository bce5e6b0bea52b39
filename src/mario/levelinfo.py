"""What the CLI and the page report about a generated level (its attributes, playability and path), and the
choice among candidates that they serve.

``generate_level`` draws ``candidates`` levels for the prompt in one batch and serves the first that the agent
can play and that measures as asked, else the best of them (playable first, then the most attributes as asked):
a check the model alone does not make, for the price of a batch (four levels drawn together cost a few times one,
not four: docs/mario.md). docs/mario.md gives the figures with one candidate (the model as trained) and with four.
"""

from __future__ import annotations

from dataclasses import dataclass

from mario import agent, data
from mario.prompts import Prompt
from mario.sampler import DEFAULT_GUIDANCE, DEFAULT_TEMPERATURE, NumpyGPT, generate_many
from mario.tiles import Level

CANDIDATES = 4


@dataclass(frozen=True)
class Report:
    prompt: Prompt
    rows: Level  # without the path
    marked: Level  # with the agent's path drawn as 'x'
    playable: bool
    furthest: int
    measured: dict[str, str]

    @property
    def matches(self) -> dict[str, bool]:
        want = self.prompt.as_dict()
        return {k: self.measured[k] == want[k] for k in data.ATTRIBUTES}

    def as_json(self) -> dict[str, object]:
        return {
            "prompt": self.prompt.text,
            "columns": len(self.rows[0]),
            "level": self.rows,
            "path": self.marked,
            "playable": self.playable,
            "furthest_column": self.furthest,
            "measured": self.measured,
            "matches": self.matches,
        }


def describe(prompt: Prompt, rows: Level, thresholds: data.Thresholds | None = None) -> Report:
    result = agent.find_path(rows)
    measured = data.measure(rows, thresholds or data.default_thresholds())
    return Report(prompt, rows, agent.mark_path(rows, result.path), result.playable, result.furthest, measured)


def best(reports: list[Report]) -> Report:
    """The first playable report whose every attribute is as asked, else the first of the best by (playable, number
    of attributes as asked)."""
    return max(reports, key=lambda r: (r.playable, sum(r.matches.values())))


def generate_level(
    prompt: Prompt,
    columns: int = 64,
    *,
    temperature: float = DEFAULT_TEMPERATURE,
    seed: int = 0,
    candidates: int = CANDIDATES,
    model: NumpyGPT | None = None,
    guidance: float = DEFAULT_GUIDANCE,
) -> Report:
    """The level served for ``prompt``: the ``best`` of ``candidates`` drawn in one batch (``seed`` fixes all)."""
    levels = generate_many(
        [prompt] * candidates, columns, temperature=temperature, seed=seed, model=model, guidance=guidance
    )
    thresholds = data.default_thresholds()
    return best([describe(prompt, rows, thresholds) for rows in levels])

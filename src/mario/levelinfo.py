"""What the CLI and the page report about a generated level: its attributes, playability and path."""

from __future__ import annotations

from dataclasses import dataclass

from mario import agent, data
from mario.prompts import Prompt
from mario.tiles import Level


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
    measured = data.measure(rows, thresholds or data.Thresholds.load())
    return Report(prompt, rows, agent.mark_path(rows, result.path), result.playable, result.furthest, measured)

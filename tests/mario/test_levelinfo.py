"""The level served among candidates: playable first, then the most attributes as asked, then the first drawn."""

from mario import data
from mario.levelinfo import best, describe
from mario.prompts import parse

from tests.mario.levels import flat, with_gap

THRESHOLDS = data.Thresholds(window=16, pipes=(1, 2), enemies=(1, 3), blocks=(12, 25), elevation=6)


def test_a_playable_level_beats_one_that_matches_more_but_cannot_be_played() -> None:
    prompt = parse("no pipes, no enemies, no blocks, low elevation")  # what a flat level measures as
    unplayable = describe(prompt, with_gap(12, width=30), THRESHOLDS)
    playable = describe(prompt, with_gap(3, width=30), THRESHOLDS)
    assert not unplayable.playable and playable.playable
    assert best([unplayable, playable]) is playable


def test_among_playable_levels_the_one_matching_the_prompt_wins_and_ties_go_to_the_first() -> None:
    prompt = parse("no pipes, some enemies, no blocks, low elevation")
    plain = describe(prompt, flat(30), THRESHOLDS)  # no enemies: 3 of 4 attributes as asked
    rows = flat(30)
    rows[11] = "-" * 10 + "E-E" + "-" * 17  # two enemies in 30 columns: "some" at this window
    enemies = describe(prompt, rows, THRESHOLDS)
    assert sum(plain.matches.values()) == 3 and all(enemies.matches.values())
    assert best([plain, enemies]) is enemies
    again = describe(prompt, flat(30), THRESHOLDS)
    assert best([plain, again]) is plain

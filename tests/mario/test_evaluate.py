import pytest

from mario import data, prompts
from mario.evaluate import adherence, tile_accuracy, wilson

from tests.mario import tiny
from tests.mario.levels import PIPES, flat

T = data.Thresholds(window=20, pipes=(1, 2), enemies=(1, 3), blocks=(4, 8), elevation=6)


def bricks_every_other_column(width: int) -> list[str]:
    """Flat ground, and a brick in row 11 on every even column: the copy baseline misses exactly those bricks."""
    rows = flat(width)
    rows[11] = "".join("S" if c % 2 == 0 else "-" for c in range(width))
    return rows


def test_tile_accuracy_scores_the_copy_baseline_on_the_targets_it_can_copy(tmp_path) -> None:
    # The tiny model's window is 4 columns: its targets are columns 1-3 and the bottom tile of column 4 of each
    # window; windows start on multiples of 4, so each holds 7 ground tiles (copied right) and one brick (wrong).
    rows = bricks_every_other_column(2000)  # columns 900-999 and 1900-1999 are the two validation blocks
    figures = tile_accuracy(tiny.model(tmp_path), rows, T, resamples=200)
    assert figures["validation_blocks"] == 2 and figures["windows"] == 2 * 24
    assert figures["nonair_targets"] == 8 * figures["windows"]
    assert figures["copy_previous_column_baseline"] == 0.875
    w = figures["windows"]  # right answers = those on the 7w repeated tiles + those on the w changed ones
    assert figures["nonair_accuracy"] * 8 * w == pytest.approx(
        figures["on_repeated_tiles"] * 7 * w + figures["on_changed_tiles"] * w, abs=0.01 * w
    )
    low, high = figures["difference_ci95"]
    assert low <= figures["nonair_accuracy"] - 0.875 <= high


def test_wilson_interval_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81 of 263 -> 0.2553 .. 0.3662
    assert wilson(81, 263) == [0.255, 0.366]
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0


def test_adherence_counts_matches_and_the_chance_of_the_same_words() -> None:
    asked = [prompts.parse("some pipes, some enemies, little blocks"), prompts.parse("no pipes, no enemies")]
    levels = [PIPES, flat()]  # measure as some / some / little / low and no / no / no / low
    figures = adherence(asked, levels, T)
    assert figures["pipes"] == {"match": 1.0, "ci95": wilson(2, 2), "chance": 0.5}
    # 'no blocks' was not asked: only 'little' can match
    assert figures["blocks"] == {"match": 0.5, "ci95": wilson(1, 2), "chance": 0.25}
    assert figures["elevation"] == {"match": 1.0, "ci95": wilson(2, 2), "chance": 1.0}
    assert figures["all_four"] == 0.5

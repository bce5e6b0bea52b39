import pytest

from mario import data

from tests.mario.levels import PIPES, flat, with_wall

T = data.Thresholds(window=20, pipes=(1, 2), enemies=(1, 3), blocks=(4, 8), elevation=6)


def test_counts_on_a_hand_made_level() -> None:
    c = data.count(PIPES)
    assert (c.pipes, c.enemies, c.blocks, c.elevation) == (2, 2, 4, 2)


def test_counts_scale_to_the_window() -> None:
    double = [r + r for r in PIPES]
    assert data.count(double, window=20).pipes == 2


def test_words_follow_the_thresholds() -> None:
    assert data.measure(PIPES, T) == {"pipes": "some", "enemies": "some", "blocks": "little", "elevation": "low"}
    assert data.measure(flat(), T) == {"pipes": "no", "enemies": "no", "blocks": "no", "elevation": "low"}
    wall = data.measure(with_wall(8), T)
    assert wall["elevation"] == "high" and wall["blocks"] == "some"


def test_many() -> None:
    crowded = list(PIPES)
    crowded[10] = "E" * 20
    assert data.measure(crowded, T)["enemies"] == "many"


def test_thresholds_are_tertiles_of_nonzero_counts(tmp_path) -> None:
    windows = [flat(), PIPES, with_wall(3), with_wall(9)]
    t = data.fit_thresholds(windows, 20)
    assert t.window == 20 and t.pipes == (2.0, 2.0)
    t.save(tmp_path / "t.json")
    assert data.Thresholds.load(tmp_path / "t.json") == t


def test_split_keeps_validation_windows_apart() -> None:
    train = data.window_starts(1000, 32, validation=False)
    val = data.window_starts(1000, 32, validation=True)
    assert val == list(range(900, 969))
    assert all(s + 32 <= 900 for s in train)


def test_empty_level_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        data.count([""] * 14)


@pytest.mark.parametrize("thresholds", [T, data.default_thresholds()], ids=["made-up", "committed"])
def test_a_high_elevation_always_measures_as_blocks(thresholds: data.Thresholds) -> None:
    """The rule behind ``Prompt.contradiction``: raised ground counts as blocks, so 'no blocks, high' never holds."""
    assert thresholds.elevation >= data.GROUND_ROWS
    high = [data.measure(with_wall(h), thresholds) for h in range(0, 12)]
    high = [words for words in high if words["elevation"] == "high"]
    assert high and all(words["blocks"] != "no" for words in high)

import numpy as np
import pytest

from mario import tiles

from tests.mario.levels import PIPES, flat


def test_round_trip_hand_made_level() -> None:
    assert tiles.decode(tiles.encode(PIPES)) == PIPES


def test_tokens_run_column_by_column_from_the_bottom() -> None:
    ids = tiles.encode(PIPES)
    assert len(ids) == 14 * 20
    first_column = "".join(row[0] for row in PIPES)[::-1]
    assert "".join(tiles.TILES[i] for i in ids[:14]) == first_column
    pipe_column = [tiles.TILES[i] for i in ids[2 * 14 : 3 * 14]]
    assert pipe_column[:4] == ["X", "X", "[", "<"]


def test_round_trip_random_tokens() -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, tiles.VOCAB_SIZE, 14 * 9)
    assert np.array_equal(tiles.encode(tiles.decode(ids)), ids)


def test_partial_column_is_padded_with_air() -> None:
    rows = tiles.decode(tiles.encode(flat(2))[:16])
    assert [r[1] for r in rows][-2:] == ["X", "X"] and all(r[1] == "-" for r in rows[:-2])


def test_path_overlay_is_stripped_and_not_a_token() -> None:
    level = flat(3)
    level[11] = "x-x"
    with pytest.raises(tiles.LevelError, match="unknown tiles"):
        tiles.encode(level)
    assert tiles.encode(tiles.strip_path(level)).tolist() == tiles.encode(flat(3)).tolist()


@pytest.mark.parametrize(
    "rows, message",
    [(["---"] * 13, "14 rows"), (["---"] * 13 + ["--"], "as wide"), (["-Z-"] * 14, "unknown tiles")],
)
def test_bad_levels_say_what_is_wrong(rows: list[str], message: str) -> None:
    with pytest.raises(tiles.LevelError, match=message):
        tiles.encode(rows)


def test_text_round_trip() -> None:
    assert tiles.from_text(tiles.to_text(PIPES)) == PIPES

import pytest

from mario import agent

from tests.mario.levels import PIPES, flat, with_gap, with_wall


def test_flat_level_is_playable_and_the_path_is_marked() -> None:
    result = agent.find_path(flat())
    assert result.playable and result.furthest == 19
    marked = agent.mark_path(flat(), result.path)
    assert marked[11] == "x" * 20


def test_pipes_and_enemies_can_be_jumped() -> None:
    assert agent.is_playable(PIPES)


@pytest.mark.parametrize("gap", [1, 4, 7])
def test_gaps_within_reach(gap: int) -> None:
    assert agent.is_playable(with_gap(gap))


def test_a_gap_too_wide_is_unplayable() -> None:
    result = agent.find_path(with_gap(9))
    assert not result.playable and result.furthest < 20


def test_walls_up_to_jump_height() -> None:
    assert agent.is_playable(with_wall(agent.JUMP_HEIGHT))
    assert not agent.is_playable(with_wall(agent.JUMP_HEIGHT + 1))


def test_stairs_make_a_high_wall_climbable() -> None:
    rows = with_wall(7)
    for r, c in [(11, 7), (10, 8), (11, 8), (9, 9), (10, 9), (11, 9)]:
        rows[r] = rows[r][:c] + "X" + rows[r][c + 1 :]
    assert agent.is_playable(rows)


def test_a_ceiling_blocks_the_jump() -> None:
    rows = with_wall(3)
    rows[8] = "X" * 20  # a ceiling on the wall: no room to get over it
    assert not agent.is_playable(rows)


def test_no_floor_to_start_on() -> None:
    result = agent.find_path(["-" * 10] * 14)
    assert not result.playable and result.path == []


def test_marking_leaves_tiles_other_than_air() -> None:
    marked = agent.mark_path(PIPES, agent.find_path(PIPES).path)
    assert [r.replace("x", "-") for r in marked] == PIPES

"""Is a level playable? A breadth-first search over Mario's positions with his jump reach.

The physics is the tile-level abstraction level generators use, not the game's: Mario is one tile tall; standing
on a solid tile he walks one column or starts a jump; a jump rises up to ``JUMP_HEIGHT`` tiles, each step up
drifting at most one column; then he falls, one row per step, drifting at most one column. On flat ground that
clears a gap of up to ``2 * JUMP_HEIGHT - 1`` columns. Enemies and coins are passable (Mario can stomp or jump
them); falling out of the bottom row is death. The level is playable when some reachable position lies in the
last column. The search is exhaustive, so "unplayable" means no path exists under this physics.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from mario.tiles import AIR, HEIGHT, PATH, SOLID, Level, check_level, width

JUMP_HEIGHT = 4

State = tuple[int, int, int]  # column, row, jump steps left (0: walking or falling)


@dataclass(frozen=True)
class Result:
    playable: bool
    path: list[tuple[int, int]]  # (column, row) cells Mario passes through, start to end (or to the furthest reach)
    furthest: int  # the furthest column reached


def _solid(rows: Sequence[str], col: int, row: int) -> bool:
    if row >= HEIGHT:
        return False  # below the level: a pit, not a floor
    if row < 0 or col < 0 or col >= len(rows[0]):
        return True  # the level's sides and ceiling are walls
    return rows[row][col] in SOLID


def _start(rows: Sequence[str]) -> State | None:
    """The lowest free tile standing on something in the first columns: where the game drops Mario."""
    for col in range(min(3, width(rows))):
        for row in range(HEIGHT - 2, -1, -1):
            if not _solid(rows, col, row) and _solid(rows, col, row + 1):
                return (col, row, 0)
    return None


def _moves(rows: Sequence[str], state: State) -> list[State]:
    col, row, jump = state
    out: list[State] = []
    grounded = _solid(rows, col, row + 1)
    if jump > 0:  # rising: up (drifting one column, going round no corner) or let go and fall
        if not _solid(rows, col, row - 1):
            for dc in (0, 1, -1):
                if not _solid(rows, col + dc, row - 1):
                    out.append((col + dc, row - 1, jump - 1))
        out.append((col, row, 0))
    elif grounded:
        for dc in (1, -1):
            if not _solid(rows, col + dc, row):
                out.append((col + dc, row, 0))
        if not _solid(rows, col, row - 1):
            out.append((col, row, JUMP_HEIGHT))
    elif row + 1 < HEIGHT:  # falling; from the bottom row there is nowhere to fall but out
        for dc in (0, 1, -1):
            target_free = not _solid(rows, col + dc, row + 1)
            corner_free = not _solid(rows, col + dc, row) or not _solid(rows, col, row + 1)
            if target_free and corner_free:
                out.append((col + dc, row + 1, 0))
    return [s for s in out if s != state]


def find_path(rows: Sequence[str]) -> Result:
    """Search from the start to any tile of the last column; the shortest path in moves when there is one."""
    check_level(rows, allow_path=True)
    clean = [r.replace(PATH, AIR) for r in rows]
    start = _start(clean)
    if start is None:
        return Result(False, [], -1)
    last = width(clean) - 1
    parent: dict[State, State | None] = {start: None}
    queue = deque([start])
    best = start
    goal: State | None = None
    while queue:
        state = queue.popleft()
        if state[0] > best[0]:
            best = state
        if state[0] == last:
            goal = state
            break
        for nxt in _moves(clean, state):
            if nxt not in parent:
                parent[nxt] = state
                queue.append(nxt)
    end = goal or best
    cells: list[tuple[int, int]] = []
    node: State | None = end
    while node is not None:
        cell = (node[0], node[1])
        if not cells or cells[-1] != cell:
            cells.append(cell)
        node = parent[node]
    cells.reverse()
    return Result(goal is not None, cells, best[0])


def is_playable(rows: Sequence[str]) -> bool:
    return find_path(rows).playable


def mark_path(rows: Sequence[str], path: Sequence[tuple[int, int]]) -> Level:
    """Draw the path as 'x' over air tiles (enemies and coins on the way stay visible)."""
    grid = [list(r) for r in rows]
    for col, row in path:
        if grid[row][col] == AIR:
            grid[row][col] = PATH
    return ["".join(r) for r in grid]

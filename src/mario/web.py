"""The page on ``gee``: a prompt in, a rendered level out. Imports no torch (numpy and pillow only).

``register(group)`` mounts the routes on any engine or group (the service mounts it beside its own pages);
``engine()`` is a standalone application for ``python -m mario serve``. The templates are the package's own,
rendered with a ``gee`` ``Templates`` of their own, so mounting does not disturb the host's templates.

Routes (under the prefix, ``/mario`` by default): ``GET /`` the form and, with ``?prompt=``, the level inline;
``GET /level.png`` and ``GET /level.json`` the same level as an image or as data. Bad input answers 400 with
what was wrong: on the page in the form, on the other two as ``{"error": ...}``.

A level costs from a few tenths of a second (40 columns) to tens of seconds (1,000), mostly Python holding the
GIL. Were the handlers plain, gee would run them in the thread pool it shares with every plain handler of the
host, ``/healthz`` included, and a burst of levels would starve them all (41 levels of 40 columns made a node's
``/healthz`` take 33 s). So the handlers are ``async`` and hand the work (generation, the agent, the PNG, the page)
to a ``LevelPool`` of mario's own: a few workers and a short queue, and beyond that an immediate 503 with
``Retry-After``, so a burst costs mario's capacity and nobody else's.
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import gee
from gee.templates import Templates
from mario.levelinfo import Report, generate_level
from mario.prompts import Prompt, PromptError, parse
from mario.render import has_tiles, png_bytes
from mario.sampler import DEFAULT_TEMPERATURE, GenerationError, request_from_strings
from mario.tiles import to_text

TEMPLATES = Templates(str(Path(__file__).resolve().parent / "templates"))
STATIC = Path(__file__).resolve().parent / "static"
EXAMPLE = "many pipes, some enemies, little blocks, low elevation"
# Generation is mostly Python holding the GIL, so more threads add no throughput, only latency for the event
# loop; two keep one long level from holding up every short one, and eight waiting are a few seconds' work.
WORKERS = 2
QUEUE = 8

T = TypeVar("T")


class ModelMissing(RuntimeError):
    pass


class GeneratorBusy(RuntimeError):
    """Every worker of the pool is generating and its queue is full: come back after ``retry_after`` seconds."""

    def __init__(self, retry_after: int, workers: int, queue: int) -> None:
        super().__init__(
            f"the level generator is busy ({workers} levels being made and {queue} waiting, the most it takes); "
            f"retry after {retry_after} s"
        )
        self.retry_after = retry_after


class LevelPool:
    """At most ``workers`` jobs run in mario's own threads and ``queue`` wait; beyond that, ``GeneratorBusy``.

    Refusing at once, rather than queueing without bound, keeps a burst from growing into minutes of waiting
    requests that their clients have long given up on."""

    def __init__(self, workers: int = WORKERS, queue: int = QUEUE) -> None:
        if workers < 1 or queue < 0:
            raise ValueError(f"mario needs workers >= 1 and queue >= 0, not workers={workers} and queue={queue}")
        self.workers = workers
        self.queue = queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mario-level")
        self._admitted = 0  # running + waiting; only the event loop touches it
        # A 64-column level (the form's default) on one core, until measured jobs replace it.
        self._mean_seconds = 0.5

    def retry_after(self) -> int:
        """Seconds until the jobs admitted now, and one more, have probably run: jobs x mean duration / workers."""
        return max(1, math.ceil((self._admitted + 1) * self._mean_seconds / self.workers))

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread, or ``GeneratorBusy`` at once when the pool is full."""
        if self._admitted >= self.workers + self.queue:
            raise GeneratorBusy(self.retry_after(), self.workers, self.queue)
        self._admitted += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._timed, fn, args)
        finally:
            self._admitted -= 1

    def _timed(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            # Written by worker threads, read by the loop: a stale estimate is harmless.
            self._mean_seconds = 0.8 * self._mean_seconds + 0.2 * (time.perf_counter() - start)


@dataclass(frozen=True)
class Ask:
    """What the query asks for, checked on the event loop (microseconds), so bad input never takes a pool slot."""

    prompt: Prompt
    columns: int
    temperature: float
    seed: int
    path: bool


def _ask(c: gee.Context) -> Ask:
    prompt = parse(c.query("prompt") or "")
    columns, temperature, seed = request_from_strings(c.query("columns"), c.query("temperature"), c.query("seed"))
    return Ask(prompt, columns, temperature, seed, bool(c.query("path")))


def _report(ask: Ask) -> Report:
    try:
        return generate_level(ask.prompt, ask.columns, temperature=ask.temperature, seed=ask.seed)
    except FileNotFoundError as exc:
        raise ModelMissing(str(exc)) from exc


def _level_png(ask: Ask) -> tuple[Report, bytes]:
    report = _report(ask)
    return report, png_bytes(report.marked if ask.path else report.rows)


def _level_page(ask: Ask, values: dict[str, Any]) -> bytes:
    """The page with the level inline; the PNG and a page holding it cost milliseconds, so they run here too."""
    report = _report(ask)
    shown = report.marked if ask.path else report.rows
    image = base64.b64encode(png_bytes(shown)).decode("ascii")
    play = {  # what play.js needs: the level, the agent's path as [column, row] cells, the picture without it
        "rows": list(report.rows),
        "path": [[col, row] for row, line in enumerate(report.marked) for col, tile in enumerate(line) if tile == "x"],
        "image": "data:image/png;base64," + base64.b64encode(png_bytes(report.rows)).decode("ascii"),
    }
    values = {**values, "report": report, "image": image, "text": to_text(shown), "play": play}
    return TEMPLATES.render("mario.html", values).encode()


_REFUSED = (PromptError, GenerationError, ModelMissing, GeneratorBusy)


def _refusal(c: gee.Context, exc: Exception) -> int:
    """The status for a refused request (400 bad input, 503 no model or busy); a busy one gets ``Retry-After``."""
    if isinstance(exc, GeneratorBusy):
        c.header("retry-after", str(exc.retry_after))
        return 503
    return 503 if isinstance(exc, ModelMissing) else 400


def _error(exc: Exception) -> dict[str, object]:
    if isinstance(exc, GeneratorBusy):
        return {"error": str(exc), "retry_after": exc.retry_after}
    return {"error": str(exc)}


def _query(c: gee.Context) -> str:
    keys = ("prompt", "columns", "temperature", "seed", "path")
    return urlencode({k: c.query(k) for k in keys if c.query(k) is not None})


def register(
    group: gee.RouterGroup, prefix: str = "/mario", *, workers: int = WORKERS, queue: int = QUEUE
) -> gee.RouterGroup:
    """Mount the page on ``group`` (an ``Engine`` is a group) under ``prefix``; returns the new group.

    At most ``workers`` levels are made at once and ``queue`` more wait; further requests answer 503 with
    ``Retry-After``. Each call has its own pool, so two mounts do not share (or exhaust) each other's."""
    pool = LevelPool(workers, queue)
    g = group.group(prefix)
    base = g.prefix.rstrip("/") or "/"

    async def page(c: gee.Context) -> None:
        values: dict[str, Any] = {
            "base": base if base != "/" else "",
            "prompt_text": c.query("prompt") or "",
            "columns": c.query("columns") or "64",
            "temperature": c.query("temperature") or str(DEFAULT_TEMPERATURE),
            "seed": c.query("seed") or "0",
            "show_path": bool(c.query("path")),
            "report": None,
            "error": None,
            "tiles": has_tiles(),
            "query": _query(c),
        }
        code, body = 200, None
        if c.query("prompt") is None:
            values["prompt_text"] = EXAMPLE
        else:
            try:
                body = await pool.run(_level_page, _ask(c), values)
            except _REFUSED as exc:
                code, values["error"] = _refusal(c, exc), str(exc)
        if body is None:  # the form alone, or with the error: microseconds, so on the loop
            body = TEMPLATES.render("mario.html", values).encode()
        c.data(code, "text/html; charset=utf-8", body)

    async def level_png(c: gee.Context) -> None:
        try:
            report, png = await pool.run(_level_png, _ask(c))
        except _REFUSED as exc:
            c.json(_refusal(c, exc), _error(exc))
            return
        c.header("x-mario-prompt", report.prompt.text)
        c.header("x-mario-playable", "yes" if report.playable else "no")
        c.data(200, "image/png", png)

    async def level_json(c: gee.Context) -> None:
        try:
            report = await pool.run(_report, _ask(c))
        except _REFUSED as exc:
            c.json(_refusal(c, exc), _error(exc))
            return
        c.json(200, report.as_json())

    g.get("", page)  # /mario
    g.get("/", page)  # /mario/
    g.get("/level.png", level_png)
    g.get("/level.json", level_json)
    g.static_file("/play.js", str(STATIC / "play.js"))
    return g


def engine() -> gee.Engine:
    """A standalone application: the page at /mario, and / pointing to it."""
    r = gee.default()
    r.get("/", lambda c: c.redirect(302, "/mario/"))
    register(r)
    return r

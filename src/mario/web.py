"""The page on ``gee``: a prompt in, a rendered level out. Imports no torch (numpy and pillow only).

``register(group)`` mounts the routes on any engine or group (the service mounts it beside its own pages);
``engine()`` is a standalone application for ``python -m mario serve``. The templates are the package's own,
rendered with a ``gee`` ``Templates`` of their own, so mounting does not disturb the host's templates.

Routes (under the prefix, ``/mario`` by default): ``GET /`` the form and, with ``?prompt=``, the level inline;
``GET /level.png`` and ``GET /level.json`` the same level as an image or as data. Bad input answers 400 with
what was wrong: on the page in the form, on the other two as ``{"error": ...}``.
"""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import urlencode

import gee
from gee.templates import Templates
from mario.levelinfo import Report, describe
from mario.prompts import PromptError, parse
from mario.render import has_tiles, png_bytes
from mario.sampler import DEFAULT_TEMPERATURE, GenerationError, generate, request_from_strings
from mario.tiles import to_text

TEMPLATES = Templates(str(Path(__file__).resolve().parent / "templates"))
EXAMPLE = "many pipes, some enemies, little blocks, low elevation"


class ModelMissing(RuntimeError):
    pass


def _level(c: gee.Context) -> Report:
    prompt = parse(c.query("prompt") or "")
    columns, temperature, seed = request_from_strings(c.query("columns"), c.query("temperature"), c.query("seed"))
    try:
        rows = generate(prompt, columns, temperature=temperature, seed=seed)
    except FileNotFoundError as exc:
        raise ModelMissing(str(exc)) from exc
    return describe(prompt, rows)


def _query(c: gee.Context) -> str:
    keys = ("prompt", "columns", "temperature", "seed", "path")
    return urlencode({k: c.query(k) for k in keys if c.query(k) is not None})


def register(group: gee.RouterGroup, prefix: str = "/mario") -> gee.RouterGroup:
    """Mount the page on ``group`` (an ``Engine`` is a group) under ``prefix``; returns the new group."""
    g = group.group(prefix)
    base = g.prefix.rstrip("/") or "/"

    def page(c: gee.Context) -> None:
        values = {
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
        code = 200
        if c.query("prompt") is not None:
            try:
                report = _level(c)
                shown = report.marked if values["show_path"] else report.rows
                values["report"] = report
                values["image"] = base64.b64encode(png_bytes(shown)).decode("ascii")
                values["text"] = to_text(shown)
            except (PromptError, GenerationError) as exc:
                code, values["error"] = 400, str(exc)
            except ModelMissing as exc:
                code, values["error"] = 503, str(exc)
        else:
            values["prompt_text"] = EXAMPLE
        c.data(code, "text/html; charset=utf-8", TEMPLATES.render("mario.html", values).encode())

    def report_or_error(c: gee.Context) -> Report | None:
        """The level the query asks for, or None with a JSON error answered (400 bad input, 503 no model)."""
        try:
            return _level(c)
        except (PromptError, GenerationError) as exc:
            c.json(400, {"error": str(exc)})
        except ModelMissing as exc:
            c.json(503, {"error": str(exc)})
        return None

    def level_png(c: gee.Context) -> None:
        report = report_or_error(c)
        if report is not None:
            c.header("x-mario-prompt", report.prompt.text)
            c.header("x-mario-playable", "yes" if report.playable else "no")
            c.data(200, "image/png", png_bytes(report.marked if c.query("path") else report.rows))

    def level_json(c: gee.Context) -> None:
        report = report_or_error(c)
        if report is not None:
            c.json(200, report.as_json())

    # Plain handlers: gee runs them in a worker thread, so a generation does not stall the event loop.
    g.get("", page)  # /mario
    g.get("/", page)  # /mario/
    g.get("/level.png", level_png)
    g.get("/level.json", level_json)
    return g


def engine() -> gee.Engine:
    """A standalone application: the page at /mario, and / pointing to it."""
    r = gee.default()
    r.get("/", lambda c: c.redirect(302, "/mario/"))
    register(r)
    return r

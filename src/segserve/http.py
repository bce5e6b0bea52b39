"""The HTTP API and the web page, on gee.

Routes: ``POST /v1/segment``, ``POST /v1/spectra``, ``GET /v1/models``,
``GET /v1/samples``, ``GET /healthz``, ``GET /metrics`` and ``GET /`` (the page). The
cache's peer protocol is not here: peers talk on a listener of their own
(``segserve.node``). Every answer carries hardening headers, only requests whose
``Host`` names this node are answered, and with an API token everything but
``/healthz``, ``/metrics`` and ``/static`` needs it. Every error is JSON
``{"error": {"code", "message", ...}}`` with a status that says whose fault it is.
The cached path of the segment route is the host check, the hardening headers, a
hash, a memo lookup and a write.
"""

from __future__ import annotations

import base64
import logging
import pathlib
import time
from typing import Any

import numpy as np

import gee
from medimage import pack_series
from segserve.errors import ServiceError, bad_input
from segserve.pool import Overloaded
from segserve.service import Service
from segserve.spectra import spectra_png

log = logging.getLogger("segserve.http")
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HERE = pathlib.Path(__file__).resolve().parent
SAMPLES = HERE / "assets" / "samples"

# One colour per class index (background transparent); the page and the legend use the same list.
PALETTE = [
    "#00000000", "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4",
    "#46f0f0", "#f032e6", "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324",
    "#fffac8", "#800000", "#aaffc3", "#808000", "#ffd8b1", "#000075", "#808080",
]  # fmt: skip


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)] if index else PALETTE[0]


def error_body(error: ServiceError) -> dict[str, Any]:
    return {"error": error.as_dict()}


def _answer_error(c: gee.Context, error: ServiceError) -> None:
    if isinstance(error, Overloaded):
        c.header("retry-after", str(error.retry_after))
    c.json(error.status, error_body(error))


async def read_input(c: gee.Context) -> tuple[bytes, dict[str, str]]:
    """The input's bytes and any form fields: the raw body, a multipart upload's one file, or its several files (the
    slices of a DICOM series) packed as one zip, which the image contract reads as a series."""
    try:
        if c.content_type == "multipart/form-data":
            form = await c.form()
            fields = {name: value for name, value in form.items_list() if isinstance(value, str)}
            uploads = [value for _, value in form.items_list() if isinstance(value, gee.UploadFile)]
            if not uploads:
                raise bad_input("the multipart upload has no file part; send the image as a file field named 'file'")
            if len(uploads) == 1:
                return await uploads[0].read(), fields
            return pack_series([(u.filename or "file", await u.read()) for u in uploads]), fields
        return await c.body(), {}
    except gee.HTTPError as error:
        code = "body_too_large" if error.status == 413 else "bad_request"
        raise ServiceError(error.status, code, f"{error.message}; send a smaller file") from error


def samples() -> list[dict[str, str]]:
    """The bundled sample slices (PNG files in assets/samples), with the attribution file's text."""
    if not SAMPLES.is_dir():
        return []
    return [{"name": p.stem, "url": f"/samples/{p.name}"} for p in sorted(SAMPLES.glob("*.png"))]


def attribution() -> str:
    path = SAMPLES / "ATTRIBUTION"
    if not path.is_file():
        path = SAMPLES / "ATTRIBUTION.md"
    return path.read_text() if path.is_file() else ""


def build_engine(
    service: Service,
    *,
    max_body_bytes: int = 64 << 20,
    links: list[dict[str, str]] | None = None,
    api_token: str | None = None,
    allowed_hosts: list[str] | None = None,
) -> gee.Engine:
    """The node's public gee Engine: the API and the page. ``links`` (title, path) are the applications mounted
    beside it, for the page's header; the list may grow after this call, and routes added later (mounted
    applications) sit behind ``api_token`` too.

    Args:
        api_token: when given, required (bearer or Basic password) on everything but health, metrics and static.
        allowed_hosts: the ``Host`` names answered (``gee.allowed_hosts``); default loopback names only.
    """
    links = links if links is not None else []
    engine = gee.Engine(redirect_trailing_slash=False, max_body_bytes=max_body_bytes)
    engine.use(gee.allowed_hosts(allowed_hosts or gee.LOOPBACK_HOSTS), gee.secure_headers())
    counters = service.counters

    # Cheap answers are async so they never queue behind work in gee's thread pool.
    @engine.get("/healthz")
    async def healthz(c: gee.Context) -> None:
        c.json(200, service.health())

    @engine.get("/metrics")
    async def metrics(c: gee.Context) -> None:
        c.data(200, METRICS_TYPE, service.metrics().encode())

    engine.static("/static", str(HERE / "static"))
    if api_token is not None:
        engine.use(gee.token_auth(api_token, realm="segserve"))

    @engine.post("/v1/segment")
    async def segment(c: gee.Context) -> None:
        start = time.perf_counter()
        status = 200
        try:
            data, fields = await read_input(c)
            options = service.options(
                format=c.query("format") or fields.get("format"),
                accept=c.headers.get("accept"),
                classes=c.query("classes") or fields.get("classes"),
                spacing=c.query("spacing") or fields.get("spacing"),
            )
            answer = await service.segment(data, options)
            c.header("x-cache", "hit" if answer.cached else "miss")
            c.data(200, answer.content_type, answer.body)
        except ServiceError as error:
            status = error.status
            _answer_error(c, error)
        except gee.ClientDisconnected:
            status = 499
            raise
        except Exception as exc:
            status = 500
            log.exception("segment failed")
            c.json(500, {"error": {"code": "internal", "message": f"{type(exc).__name__}; see the server log"}})
        finally:
            counters.observe("http", status, time.perf_counter() - start)

    @engine.post("/v1/spectra")
    async def spectra(c: gee.Context) -> None:
        """Log-magnitude and phase spectra of the input's (middle) slice, as PNG data URLs for the page."""
        try:
            data, _ = await read_input(c)
            _, model_input = await service.pool.run(service.prepare, data, None)
            plane = np.ascontiguousarray(model_input.planes[len(model_input.planes) // 2])
            magnitude, phase = await service.pool.run(spectra_png, plane)
        except ServiceError as error:
            _answer_error(c, error)
            return
        c.json(
            200,
            {
                "magnitude": "data:image/png;base64," + base64.b64encode(magnitude).decode(),
                "phase": "data:image/png;base64," + base64.b64encode(phase).decode(),
            },
        )

    @engine.get("/v1/models")
    async def models(c: gee.Context) -> None:
        c.json(200, service.describe())

    @engine.get("/v1/samples")
    async def sample_list(c: gee.Context) -> None:
        c.json(200, {"samples": samples(), "attribution": attribution()})

    engine.load_templates(str(HERE / "templates"))
    legend = [{"index": i, "name": n, "colour": colour(i)} for i, n in enumerate(service.classes) if i]

    @engine.get("/")
    async def page(c: gee.Context) -> None:
        c.html(
            200,
            "index.html",
            legend=legend,
            samples=samples(),
            attribution=attribution(),
            model=service.model.info.sha256[:12],
            architecture=service.model.info.architecture,
            links=links,
        )

    if SAMPLES.is_dir():
        engine.static("/samples", str(SAMPLES))
    engine.on_shutdown(service.cache.close)
    return engine

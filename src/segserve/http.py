"""The HTTP API and the web page, on gee.

Routes: ``POST /v1/segment``, the jobs (``POST /v1/jobs``, ``GET``/``DELETE
/v1/jobs/{id}``, its ``events``, ``result``, ``image`` and ``labels`` planes),
``POST /v1/spectra``, ``GET /v1/models``, ``GET /v1/samples``, ``GET /healthz``,
``GET /metrics`` and ``GET /`` (the page). Each route reads the request, calls one
``Service`` method and writes its answer. The cache's peer protocol is not here: peers talk on a listener of their own
(``segserve.node``). Every answer carries hardening headers, only requests whose
``Host`` names this node are answered, and with an API token everything but
``/healthz``, ``/metrics`` and ``/static`` needs it. Every error is JSON
``{"error": {"code", "message", ...}}`` with a status that says whose fault it is.
The cached path of the segment route is the host check, the hardening headers, a
hash, a memo lookup and a write.
"""

from __future__ import annotations

import logging
import pathlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import gee
from medimage import WINDOWS
from segserve.errors import ServiceError, bad_input, clip
from segserve.service import Answer, Options, Service

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
    if "retry_after" in error.detail:
        c.header("retry-after", str(error.detail["retry_after"]))
    c.json(error.status, error_body(error))


def _answer(c: gee.Context, answer: Answer) -> None:
    if answer.job is not None:
        c.header("location", answer.job["urls"]["self"])
        c.json(202, answer.job)
        return
    c.header("x-cache", "hit" if answer.cached else "miss")
    if answer.format == "dicom-seg":
        c.header("content-disposition", 'attachment; filename="segmentation.dcm"')
    elif answer.format == "nifti":
        c.header("content-disposition", 'attachment; filename="labels.nii.gz"')
    c.data(200, answer.content_type, answer.body)


def prefers_job(c: gee.Context) -> bool:
    """RFC 7240's ``Prefer: respond-async``."""
    return any(p.split("=")[0].strip().lower() == "respond-async" for p in c.headers.get("prefer", "").split(","))


async def read_input(c: gee.Context, service: Service) -> tuple[bytes, dict[str, str]]:
    """The input's bytes and any form fields: the raw body, a multipart upload's one file, or its several files (the
    slices of a DICOM series) packed as one zip, which the image contract reads as a series. The count of files is
    bounded by gee's multipart parser (``max_files``) and the bytes by ``max_body_bytes``."""
    try:
        if c.content_type == "multipart/form-data":
            form = await c.form()
            fields = {name: value for name, value in form.items_list() if isinstance(value, str)}
            uploads = [value for _, value in form.items_list() if isinstance(value, gee.UploadFile)]
            if not uploads:
                raise bad_input("the multipart upload has no file part; send the image as a file field named 'file'")
            if len(uploads) == 1:
                return await uploads[0].read(), fields
            return service.series([(u.filename or "file", await u.read()) for u in uploads]), fields
        return await c.body(), {}
    except gee.HTTPError as error:
        code = "body_too_large" if error.status == 413 else "bad_request"
        advice = (
            "zip the series (DICOM compresses 2-3x) or send a .nii.gz, or raise the node's --max-body-bytes"
            if error.status == 413
            else "send the request again, whole"
        )
        raise ServiceError(error.status, code, f"{error.message}; {advice}") from error


def samples() -> list[dict[str, str]]:
    """The bundled samples (PNG slices and NIfTI volumes in assets/samples)."""
    if not SAMPLES.is_dir():
        return []
    found = []
    for path in sorted(SAMPLES.iterdir()):
        kind = "png" if path.suffix == ".png" else "nifti" if path.name.endswith((".nii", ".nii.gz")) else None
        if kind:
            found.append({"name": path.name.split(".")[0], "url": f"/samples/{path.name}", "kind": kind})
    return found


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
    engine = gee.Engine(redirect_trailing_slash=False, max_body_bytes=max_body_bytes, handle_method_not_allowed=True)

    # Every error is JSON, routes that do not exist included.
    @engine.no_route
    async def not_found(c: gee.Context) -> None:
        message = f"no route {c.method} {clip(c.path)}; the API's routes are GET /v1/models, POST /v1/segment, /v1/jobs"
        c.json(404, {"error": {"code": "not_found", "message": message}})

    @engine.no_method
    async def not_allowed(c: gee.Context) -> None:
        message = f"{c.method} is not allowed on {clip(c.path)}; the Allow header lists what is"
        c.json(405, {"error": {"code": "method_not_allowed", "message": message}})

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

    def api(route: Callable[[gee.Context], Awaitable[None]]) -> Callable[[gee.Context], Awaitable[None]]:
        """A route whose errors answer as JSON with their status; every request is counted."""

        async def guarded(c: gee.Context) -> None:
            start = time.perf_counter()
            status = 200
            try:
                await route(c)
                status = c.response_status
            except ServiceError as error:
                status = error.status
                _answer_error(c, error)
            except gee.ClientDisconnected:
                status = 499
                raise
            except Exception as exc:
                status = 500
                log.exception("%s %s failed", c.method, c.path)
                c.json(500, {"error": {"code": "internal", "message": f"{type(exc).__name__}; see the server log"}})
            finally:
                counters.observe("http", status, time.perf_counter() - start)

        return guarded

    def options(c: gee.Context, fields: dict[str, str] | None = None) -> Options:
        fields = fields or {}
        return service.options(
            format=c.query("format") or fields.get("format"),
            accept=c.headers.get("accept"),
            classes=c.query("classes") or fields.get("classes"),
            spacing=c.query("spacing") or fields.get("spacing"),
            model=c.query("model") or fields.get("model"),
        )

    @engine.post("/v1/segment")
    @api
    async def segment(c: gee.Context) -> None:
        data, fields = await read_input(c, service)
        _answer(c, await service.segment(data, options(c, fields), prefer_job=prefers_job(c)))

    @engine.post("/v1/jobs")
    @api
    async def submit(c: gee.Context) -> None:
        data, fields = await read_input(c, service)
        job = await service.submit(data, options(c, fields))
        c.header("location", job["urls"]["self"])
        c.json(202, job)

    @engine.get("/v1/jobs/:id")
    @api
    async def job(c: gee.Context) -> None:
        c.json(200, await service.job(c.param("id")))

    @engine.delete("/v1/jobs/:id")
    @api
    async def cancel(c: gee.Context) -> None:
        c.json(200, service.cancel(c.param("id")))

    @engine.get("/v1/jobs/:id/events")
    @api
    async def events(c: gee.Context) -> None:
        """Server-sent events: ``status`` with the job's state at each change, until it ends."""
        states = service.follow(c.param("id"))
        first = await anext(states)  # an unknown job answers 404 before the stream starts

        async def stream() -> AsyncIterator[gee.SSEvent]:
            yield gee.SSEvent(first, event="status", retry=1000)
            async for state in states:
                yield gee.SSEvent(state or {}, event="status" if state else "heartbeat")

        await c.sse(stream())

    @engine.get("/v1/jobs/:id/result")
    @api
    async def result(c: gee.Context) -> None:
        _answer(c, await service.result(c.param("id"), options(c)))

    @engine.get("/v1/jobs/:id/image/:plane/:index")
    @api
    async def image(c: gee.Context) -> None:
        png = await service.image(
            c.param("id"), c.param("plane"), c.param("index"), c.query("window"), c.query("level"), c.query("width")
        )
        c.header("cache-control", "private, max-age=3600")
        c.data(200, "image/png", png)

    @engine.get("/v1/jobs/:id/labels/:plane/:index")
    @api
    async def labels(c: gee.Context) -> None:
        png = await service.labels(c.param("id"), c.param("plane"), c.param("index"))
        c.header("cache-control", "private, max-age=3600")
        c.data(200, "image/png", png)

    @engine.post("/v1/spectra")
    @api
    async def spectra(c: gee.Context) -> None:
        """Log-magnitude and phase spectra of the input's (middle) slice, as PNG data URLs for the page."""
        data, _ = await read_input(c, service)
        c.json(200, await service.spectra(data))

    @engine.get("/v1/models")
    async def models(c: gee.Context) -> None:
        c.json(200, service.describe())

    @engine.get("/v1/samples")
    async def sample_list(c: gee.Context) -> None:
        c.json(200, {"samples": samples(), "attribution": attribution()})

    engine.load_templates(str(HERE / "templates"))
    legend = [{"index": i, "name": n, "colour": colour(i)} for i, n in enumerate(service.classes()) if i]
    default = service.default_model()

    @engine.get("/")
    async def page(c: gee.Context) -> None:
        c.html(
            200,
            "index.html",
            legend=legend,
            samples=samples(),
            attribution=attribution(),
            model=default["sha256"][:12],
            model_name=default["name"],
            precision=default["precision"],
            architecture=default["architecture"],
            links=links,
            windows=[{"name": name, "level": lw[0], "width": lw[1]} for name, lw in WINDOWS.items()],
        )

    if SAMPLES.is_dir():
        engine.static("/samples", str(SAMPLES))
    engine.on_shutdown(service.close)
    return engine

"""The service: one method per use case, called by the HTTP and TCP transports alike.

``segment``: hash the input (SHA-256); answer from this node's memo of encoded answers
if it has one; otherwise publish the input to the cluster (``cache.Cache``) and ask the
results group for the label map, whose owner runs the model at most once for all
concurrent askers in the cluster; then apply the format and class subset, and remember
the encoded answer. A large input (or one whose client prefers it) becomes a job.

``submit`` / ``job`` / ``follow`` / ``cancel`` / ``result``: a volume as a job
(``jobs``): it runs on this node in runs of slices with its progress, then its label
map is published to the cluster. ``image`` / ``labels``: its planes as pictures for the
viewer (``medimage.Volume``), kept in a byte-bounded cache of their own.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import logging
import math
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from geecache import LRUCache
from medimage import (
    PLANES,
    WINDOWS,
    Image,
    ImageError,
    ModelInput,
    Volume,
    encode_png,
    level_width,
    pack_series,
    sniff,
)
from segserve.cache import Cache
from segserve.errors import ServiceError, bad_input, clip, image_error
from segserve.inference import Inference
from segserve.jobs import TERMINAL, Job, Jobs, Run, key_of
from segserve.keys import ResultKey
from segserve.models import Models
from segserve.results import OUTPUT_FORMATS, LabelMap, encode, pick_classes, pick_format
from segserve.spectra import spectra_png

log = logging.getLogger("segserve.service")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Options:
    """What a request asks for. Only ``spacing`` changes the inference; the rest shape the answer."""

    inference: Inference
    format: str = "json"
    keep: tuple[int, ...] | None = None
    spacing: tuple[float, float] | None = None

    def keep_for(self, inference: Inference) -> list[int] | None:
        """The class subset as ``inference``'s indices (the same names; a model without one of them answers 400)."""
        if self.keep is None:
            return None
        if inference is self.inference:
            return list(self.keep)
        return pick_classes([self.inference.classes[i] for i in self.keep], inference.classes)


@dataclass
class Answer:
    """An encoded answer, or (``job`` set) a job the input became: HTTP answers 202 with it."""

    body: bytes
    content_type: str
    format: str
    cached: bool
    job: dict[str, Any] | None = None


@dataclass
class Counters:
    requests: dict[tuple[str, int], int] = field(default_factory=dict)  # (transport, status) -> count
    memo_hits: int = 0
    latency_buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0
    latency_count: int = 0

    def observe(self, transport: str, status: int, seconds: float) -> None:
        key = (transport, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                self.latency_buckets[i] += 1
                break
        else:
            self.latency_buckets[-1] += 1
        self.latency_sum += seconds
        self.latency_count += 1


def parse_spacing(value: Any) -> tuple[float, float] | None:
    """``"0.8,0.8"``, ``"0.8x0.8"``, ``0.8`` or ``[0.8, 0.8]`` (mm along x, then y) to a pair."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, str):
            parts = [float(p) for p in value.replace("x", ",").split(",") if p.strip()]
        elif isinstance(value, int | float):
            parts = [float(value)]
        else:
            parts = [float(p) for p in value]
    except (TypeError, ValueError) as exc:
        raise bad_input(f"spacing {value!r} is not one or two numbers in mm, such as 0.8 or 0.8,0.8") from exc
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or not all(math.isfinite(p) and 0.01 <= p <= 100 for p in parts):
        raise bad_input(f"spacing {value!r} must be one or two numbers between 0.01 and 100 (mm per pixel)")
    return parts[0], parts[1]


MAX_WINDOW_HU = 1e5
"""Window levels and half-widths beyond this are no CT window (HU run from -1024 to about 30,000 for metal)."""


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


class Service:
    """The use cases of one node: its inference, the cluster cache, the jobs it runs, and the counters.

    Args:
        models: the models this node serves (``Models``; each an ``Inference`` behind the node's one pool).
        cache: the cluster's results, built with ``models.load`` as its loader.
        memo_bytes: encoded answers kept by this node (a hit costs a hash and a lookup).
        view_bytes: volumes kept for the viewer (image and labels on RAS+, float32 + uint8 per voxel).
        job_bytes: inputs larger than this answer ``segment`` with a job (202) instead of waiting.
        jobs: the bounds on this node's jobs (``jobs.Jobs``).
    """

    def __init__(
        self,
        models: Models,
        cache: Cache,
        *,
        memo_bytes: int = 64 << 20,
        view_bytes: int = 1 << 30,
        job_bytes: int = 8 << 20,
        jobs: Jobs | None = None,
    ) -> None:
        self.models = models
        self.pool = models.default.pool
        self.limits = models.default.limits
        self.cache = cache
        self.memo: LRUCache[bytes] = LRUCache(max_bytes=memo_bytes)
        self.volumes: LRUCache[Volume] = LRUCache(max_bytes=view_bytes)
        self.job_bytes = job_bytes
        self.jobs = jobs if jobs is not None else Jobs()  # an empty Jobs is falsy (it has a length)
        self.counters = Counters()

    # ------------------------------------------------------------- options

    def options(
        self,
        format: str | None = None,
        accept: str | None = None,
        classes: str | list[str] | None = None,
        spacing: Any = None,
        model: str | None = None,
    ) -> Options:
        inference = self.models.get(model)
        keep = pick_classes(classes, inference.classes)
        return Options(
            inference=inference,
            format=pick_format(format, accept),
            keep=tuple(keep) if keep is not None else None,
            spacing=parse_spacing(spacing),
        )

    def classes(self, model: str | None = None) -> list[str]:
        """The class names of a model (the default when None), index 0 the background."""
        return list(self.models.get(model).classes)

    def default_model(self) -> dict[str, str]:
        """The default model's name, hash, architecture, precision and execution provider, for the page."""
        model = self.models.default.model
        return {
            "name": self.models.names[0],
            "sha256": model.info.sha256,
            "architecture": model.info.architecture,
            "precision": model.precision,
            "provider": model.provider,
        }

    def series(self, files: list[tuple[str, bytes]]) -> bytes:
        """Several uploaded files (a DICOM series) as one input: counted against the limits, then packed into one
        zip in name order (``medimage.pack_series``), so the same files are always the same input."""
        try:
            self.limits.check_files(len(files))
            return pack_series(files)
        except ImageError as exc:
            raise image_error(exc) from exc

    @staticmethod
    def key(data: bytes, options: Options) -> ResultKey:
        return ResultKey(options.inference.model_key, options.spacing, hashlib.sha256(data).hexdigest())

    # ------------------------------------------------------------- segment: one round trip

    async def segment(self, data: bytes, options: Options, *, prefer_job: bool = False) -> Answer:
        """The answer for one input, from the memo, the cluster cache, or a model run; a job (``Answer.job``) for
        an input over ``job_bytes`` or when the client prefers one (HTTP ``Prefer: respond-async``)."""
        key = self.key(data, options)
        memo_key, remembered = self._remembered(key, options)
        if remembered is not None:
            return remembered
        try:
            sniff(data)  # refuse what is not an image before it reaches the cluster
        except ImageError as exc:
            raise image_error(exc) from exc
        if prefer_job or len(data) > self.job_bytes:
            job = await self.submit(data, options)
            return Answer(b"", "application/json", "job", False, job=job)
        blob = await self.cache.result(key, data)
        keep = options.keep_for(options.inference)
        body, content_type = encode(LabelMap.from_bytes(blob), options.format, keep, data)
        self.memo.add(memo_key, body)
        return Answer(body, content_type, options.format, False)

    def _remembered(self, key: ResultKey, options: Options) -> tuple[str, Answer | None]:
        """The memo's key for this answer, and the answer if the memo holds it."""
        memo_key = f"{key}/{options.format}/{','.join(map(str, options.keep or ()))}"
        body = self.memo.get(memo_key)
        if body is None:
            return memo_key, None
        self.counters.memo_hits += 1
        return memo_key, Answer(body, OUTPUT_FORMATS[options.format], options.format, True)

    # ------------------------------------------------------------- jobs: volumes with progress

    async def submit(self, data: bytes, options: Options) -> dict[str, Any]:
        """A new job for ``data``: on the run already computing (or done) for the same input and options, or on a
        new run; its description.

        The input is read and checked first (in the pool, within the limits), so that every bad input is answered
        4xx here rather than by a job that fails later, and the job's planes can be viewed at once; the model runs
        in the run. A node already running ``max_running`` volumes refuses before reading anything."""
        try:
            sniff(data)
        except ImageError as exc:
            raise image_error(exc) from exc
        key = self.key(data, options)
        if self.jobs.run_of(key) is None:
            self.jobs.check_capacity()
            start = time.perf_counter()
            image, model_input, volume = await self.pool.run(self._read, options.inference, data, options.spacing)
            read_ms = (time.perf_counter() - start) * 1000
            job, new = self.jobs.admit(key)
            if new:
                run = job.run
                run.timings["read_ms"] = read_ms
                self.volumes.add(str(key), volume)
                self._describe_input(run, image, model_input, volume)
                run.task = asyncio.ensure_future(self._run(run, data, image, model_input, volume))
        else:
            job, _ = self.jobs.admit(key)
        return job.describe()

    @staticmethod
    def _describe_input(run: Run, image: Image, model_input: ModelInput, volume: Volume) -> None:
        outputs = ["json", "nifti"] + (["png"] if image.shape[2] == 1 else [])
        if image.detail.get("references"):  # a DICOM input whose UIDs a SEG can reference
            outputs.append("dicom-seg")
        run.update(
            total=len(model_input.planes),
            input={
                "format": image.format,
                "intensity": image.intensity,
                "shape": list(image.shape),
                "outputs": outputs,
            },
            views={name: plane.as_dict() for name, plane in volume.planes.items()},
        )

    @staticmethod
    def _read(
        inference: Inference, data: bytes, spacing: tuple[float, float] | None
    ) -> tuple[Image, ModelInput, Volume]:
        image, model_input = inference.prepare(data, spacing)
        try:
            return image, model_input, Volume(image)
        except ImageError as exc:
            raise image_error(exc) from exc

    async def _run(self, run: Run, data: bytes, image: Image, model_input: ModelInput, volume: Volume) -> None:
        """A run's life after reading: publish the input, run the model with progress, publish the result."""
        key = run.key
        try:
            run.update(status="running")
            await self.cache.publish_input(key.digest, data)
            blob = self.cache.held(key)
            if blob is None:
                inference = self.models.by_key(key)
                label_map = await inference.run_volume(image, model_input, lambda n: run.update(done=n), run.timings)
                start = time.perf_counter()
                blob = label_map.to_bytes()
                await self.cache.publish(key, blob)
                run.timings["publish_ms"] = (time.perf_counter() - start) * 1000
            volume.with_labels(LabelMap.from_bytes(blob).voxels())
            run.update(status="done", done=run.total)
        except asyncio.CancelledError:
            self.volumes.remove(str(key))
            run.update(status="cancelled")
        except ServiceError as error:
            self.volumes.remove(str(key))
            run.update(status="failed", error={"status": error.status, **error.as_dict()})
        except Exception as exc:  # a defect: the run says so, the node goes on
            log.exception("job %s failed", str(key)[:28])
            self.volumes.remove(str(key))
            run.update(status="failed", error={"status": 500, "code": "internal", "message": type(exc).__name__})

    async def _found(self, job_id: str) -> Job:
        """This node's job, or one done on another node, made local here (``_restore``); 404 otherwise."""
        job = self.jobs.get(job_id)
        if job is not None:
            return job
        key = key_of(job_id)
        blob = await self.cache.lookup(key) if self.models.serves(key) else None
        restored = await self._restore(key, blob) if blob is not None else None
        if restored is not None:
            job, new = self.jobs.admit(key, adopt=job_id)
            if new:
                self._describe_input(job.run, *restored)
                job.run.update(status="done", done=job.run.total)
            return job
        if blob is not None:
            return Job(job_id, Run(key, status="done"))  # the input is gone: the result can be answered, not viewed
        raise ServiceError(
            404, "unknown_job", f"no job {job_id[:28]}... here or in the cluster; it may have expired: submit again"
        )

    async def _restore(self, key: ResultKey, blob: bytes | None = None) -> tuple[Image, ModelInput, Volume] | None:
        """A done run's volume with its labels, from the cluster's result (``blob`` when already fetched) and input
        (read again in the pool, within the limits), kept for viewing; None when either is gone."""
        if not self.models.serves(key):
            return None
        blob = blob or await self.cache.lookup(key)
        data = await self.cache.input(key.digest) if blob is not None else None
        if blob is None or data is None:
            return None
        image, model_input, volume = await self.pool.run(self._read, self.models.by_key(key), data, key.spacing)
        volume.with_labels(LabelMap.from_bytes(blob).voxels())
        self.volumes.add(str(key), volume)
        return image, model_input, volume

    async def job(self, job_id: str) -> dict[str, Any]:
        """A job's state, on any node of the cluster once it is done (see ``_found``)."""
        return (await self._found(job_id)).describe()

    async def follow(self, job_id: str) -> AsyncIterator[dict[str, Any] | None]:
        """The job's state now and after each change until it ends (None: nothing changed for a while)."""
        job = await self._found(job_id)
        async for state in job.changes():
            yield state

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a job: its run stops (within one run of slices) and its volume is dropped when no other job wants
        it. A job already finished answers 409: there is nothing left to stop, and its result stays."""
        job = self.jobs.get(job_id)
        if job is None:
            key_of(job_id)  # a malformed id says so
            raise ServiceError(404, "unknown_job", f"no job {job_id[:28]}... on this node; it may have expired")
        if job.status in TERMINAL:
            raise ServiceError(409, "job_finished", f"job {job_id[:28]}... is already {job.status}: nothing to cancel")
        if self.jobs.cancel(job):
            self.volumes.remove(str(job.key))
        return job.describe()

    async def result(self, job_id: str, options: Options) -> Answer:
        """A job's label map in ``options.format``: 409 until done, 410 once cancelled, the run's error if failed."""
        job = await self._found(job_id)
        key = job.key
        if job.status != "done":
            if job.status == "cancelled":
                raise ServiceError(410, "job_cancelled", f"job {job_id[:28]}... was cancelled; submit the input again")
            error = job.run.error
            if job.status == "failed" and error is not None:
                raise ServiceError(error["status"], error["code"], error["message"])
            raise ServiceError(
                409,
                "not_ready",
                f"job {job_id[:28]}... is {job.status} ({job.run.done}/{job.run.total}); wait for done",
            )
        memo_key, remembered = self._remembered(key, options)
        if remembered is not None:
            return remembered
        blob = self.cache.held(key) or await self.cache.lookup(key)
        if blob is None:
            raise ServiceError(410, "result_gone", "the job's result is no longer held; submit the input again")
        source = await self.cache.input(key.digest) if options.format == "dicom-seg" else None
        label_map = LabelMap.from_bytes(blob)
        keep = options.keep_for(self.models.by_key(key))
        encoded, content_type = await asyncio.to_thread(encode, label_map, options.format, keep, source)
        self.memo.add(memo_key, encoded)
        return Answer(encoded, content_type, options.format, False)

    # ------------------------------------------------------------- the viewer's planes

    async def _volume(self, job_id: str, labels: bool) -> Volume:
        job = await self._found(job_id)
        volume = self.volumes.get(str(job.key))
        if volume is None and job.status == "done":  # evicted since: read again from the cluster
            restored = await self._restore(job.key)
            volume = restored[2] if restored else None
        if volume is None or job.status == "cancelled":
            raise ServiceError(
                410, "image_gone", "this node no longer holds the job's image for viewing; submit the input again"
            )
        if labels and volume.labels is None:
            raise ServiceError(409, "not_ready", f"job {job_id[:28]}... is {job.status}; its labels come when done")
        return volume

    @staticmethod
    def _index(volume: Volume, plane: str, index: str) -> int:
        if plane not in volume.planes:
            raise ServiceError(404, "unknown_plane", f"plane {plane[:20]!r} is not one of {', '.join(PLANES)}")
        count = volume.planes[plane].count
        if not index.isdigit() or not 0 <= int(index) < count:
            raise ServiceError(404, "unknown_slice", f"{plane} slice {index[:20]!r} is outside 0..{count - 1}")
        return int(index)

    async def image(
        self, job_id: str, plane: str, index: str, window: str | None = None, level: Any = None, width: Any = None
    ) -> bytes:
        """A plane of the job's image as an 8-bit grey PNG, windowed by a preset (``medimage.WINDOWS``; default the
        first) or at ``level``/``width`` HU, which override it; pictures come as they are."""
        if window and window not in WINDOWS:
            raise bad_input(f"window {clip(repr(window))} is not one of {', '.join(WINDOWS)}", valid=list(WINDOWS))
        volume = await self._volume(job_id, labels=False)
        at = self._index(volume, plane, index)
        preset_level, preset_width = WINDOWS[window or next(iter(WINDOWS))]
        try:
            level_hu = float(preset_level if level in (None, "") else level)
            width_hu = float(preset_width if width in (None, "") else width)
            if abs(level_hu) > MAX_WINDOW_HU or width_hu > 2 * MAX_WINDOW_HU:
                raise ValueError(f"level and width must lie within +-{MAX_WINDOW_HU:g} HU")
            bounds = level_width(level_hu, width_hu)
        except ValueError as exc:
            raise bad_input(f"window level {clip(str(level))} / width {clip(str(width))}: {exc}") from exc
        return await asyncio.to_thread(lambda: encode_png(volume.picture(plane, at, bounds)))

    async def labels(self, job_id: str, plane: str, index: str) -> bytes:
        """A plane of the job's label map as an 8-bit PNG of class indices, aligned with ``image``'s plane."""
        volume = await self._volume(job_id, labels=True)
        at = self._index(volume, plane, index)
        return await asyncio.to_thread(lambda: encode_png(volume.label_picture(plane, at)))

    async def spectra(self, data: bytes) -> dict[str, str]:
        """Log-magnitude and phase spectra of the input's middle plane on the model's grid, as PNG data URLs."""
        _, model_input = await self.pool.run(self.models.default.prepare, data, None)
        plane = model_input.planes[len(model_input.planes) // 2]
        magnitude, phase = await self.pool.run(spectra_png, plane)
        url = "data:image/png;base64,"
        return {
            "magnitude": url + base64.b64encode(magnitude).decode(),
            "phase": url + base64.b64encode(phase).decode(),
        }

    # ------------------------------------------------------------- descriptions

    def describe(self) -> dict[str, Any]:
        return {
            "models": [
                {
                    **model,
                    "outputs": list(OUTPUT_FORMATS),
                    "windows": {name: {"level": lw[0], "width": lw[1]} for name, lw in WINDOWS.items()},
                    "pool": {"workers": self.pool.workers, "queue": self.pool.queue},
                    "jobs": {"running": self.jobs.running, "max_running": self.jobs.max_running},
                    "limits": {
                        "max_pixels_per_slice": self.limits.max_pixels,
                        "max_voxels": self.limits.max_voxels,
                        "max_files": self.limits.max_files,
                        "max_slices": self.limits.max_slices,
                        "max_grid_pixels": self.limits.max_grid_pixels,
                        "max_run_pixels": self.limits.max_run_pixels,
                        "job_bytes": self.job_bytes,
                    },
                }
                for model in self.models.describe()
            ]
        }

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "model": self.models.default.model.info.sha256,
            "models": self.models.names,
            "provider": self.models.default.model.provider,
            "pool": {"running": self.pool.running, "waiting": self.pool.waiting, "workers": self.pool.workers},
            "jobs": self.jobs.running,
            "peers": self.cache.peers(),
        }

    def metrics(self) -> str:
        """Prometheus text, written by prometheus_client: this service's counters, then the cache groups'."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ServiceCollector(self))
        registry.register(self.cache.collector)
        return generate_latest(registry).decode()

    async def close(self) -> None:
        self.jobs.cancel_all()
        await self.cache.close()


class ServiceCollector(Collector):
    """A service's counters, gauges and latency histogram as Prometheus metric families, read at each scrape."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        service, c = self.service, self.service.counters
        inferences = [inference for _, inference in service.models]
        for name, help, value in [
            (
                "inferences",
                "Label maps computed by this node's models (misses they owned, and jobs).",
                sum(i.computed for i in inferences),
            ),
            ("model_runs", "Model runs (batches), all models.", sum(i.model.runs for i in inferences)),
            ("model_slices", "Slices through the models.", sum(i.model.slices for i in inferences)),
            ("model_seconds", "Seconds in the models.", sum(i.model.run_seconds for i in inferences)),
            ("memo_hits", "Answers from this node's memo of encoded answers.", c.memo_hits),
            ("pool_rejected", "Requests the inference pool refused (full).", service.pool.rejected),
            ("pool_completed", "Jobs the inference pool finished.", service.pool.completed),
        ]:
            yield CounterMetricFamily(f"segserve_{name}", help, value=value)
        info = GaugeMetricFamily(
            "segserve_model_info", "The models served (1 each).", labels=["name", "sha256", "precision", "default"]
        )
        for name, inference in service.models:
            model = inference.model
            default = str(inference is service.models.default).lower()
            info.add_metric([name, model.info.sha256, model.precision, default], 1)
        yield info
        yield GaugeMetricFamily("segserve_pool_running", "Jobs running in the pool.", value=service.pool.running)
        yield GaugeMetricFamily("segserve_pool_waiting", "Jobs waiting for the pool.", value=service.pool.waiting)
        requests = CounterMetricFamily(
            "segserve_requests", "Requests by transport and status.", labels=["transport", "status"]
        )
        for (transport, status), count in sorted(c.requests.items()):
            requests.add_metric([transport, str(status)], count)
        yield requests
        cumulative = list(itertools.accumulate(c.latency_buckets))
        bounds = [f"{bound:g}" for bound in LATENCY_BUCKETS] + ["+Inf"]
        yield HistogramMetricFamily(
            "segserve_request_seconds",
            "Request latency.",
            buckets=list(zip(bounds, cumulative, strict=True)),
            sum_value=c.latency_sum,
        )

"""The service core shared by HTTP and TCP: options, the inference pipeline, caching and counters.

A request's path: hash the input (SHA-256); answer from this node's memo of encoded
answers if it has one; otherwise publish the input to the cluster (``cache.Cache``)
and ask the results group for the label map, whose owner runs the model at most
once for all concurrent askers in the cluster; then apply the format and class
subset, and remember the encoded answer.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from geecache import LRUCache
from medimage import Image, ImageError, Limits, ModelInput, labels_to_input, postprocess, read_bytes, sniff, to_model
from segserve.cache import Cache
from segserve.errors import ServiceError, bad_input, image_error
from segserve.model import Model
from segserve.pool import F32, U8, InferencePool, MicroBatcher
from segserve.results import OUTPUT_FORMATS, LabelMap, encode, pick_classes, pick_format

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Options:
    """What a request asks for. Only ``spacing`` changes the inference; the rest shape the answer."""

    format: str = "json"
    keep: tuple[int, ...] | None = None
    spacing: tuple[float, float] | None = None

    def inference_key(self) -> str:
        return "sp=file" if self.spacing is None else f"sp={self.spacing[0]:g}x{self.spacing[1]:g}"


@dataclass
class Answer:
    body: bytes
    content_type: str
    format: str
    cached: bool


@dataclass
class Counters:
    requests: dict[tuple[str, int], int] = field(default_factory=dict)  # (transport, status) -> count
    inferences: int = 0  # label maps computed by this node (one per input, however many slices)
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


class Service:
    """The model, the bounded pool, the cluster cache and the counters of one node."""

    def __init__(
        self,
        model: Model,
        pool: InferencePool,
        cache: Cache,
        *,
        limits: Limits | None = None,
        batch_size: int = 8,
        batch_window: float = 0.0,
        memo_bytes: int = 64 << 20,
    ) -> None:
        self.model = model
        self.pool = pool
        self.cache = cache
        self.limits = limits or Limits()
        self.batch_size = max(1, batch_size)
        self.batcher = MicroBatcher(pool, self.predict_slices, batch_window, batch_size) if batch_window > 0 else None
        self.memo: LRUCache[bytes] = LRUCache(max_bytes=memo_bytes)
        self.counters = Counters()
        self.classes = list(model.info.classes)
        cache.attach(self._load_result)

    # ------------------------------------------------------------- options

    def options(
        self,
        format: str | None = None,
        accept: str | None = None,
        classes: str | list[str] | None = None,
        spacing: Any = None,
    ) -> Options:
        keep = pick_classes(classes, self.classes)
        return Options(
            format=pick_format(format, accept),
            keep=tuple(keep) if keep is not None else None,
            spacing=parse_spacing(spacing),
        )

    # ------------------------------------------------------------- segment

    async def segment(self, data: bytes, options: Options) -> Answer:
        """The answer for one input, from the memo, the cluster cache, or a model run."""
        digest = hashlib.sha256(data).hexdigest()
        result_key = f"{self.model.info.sha256[:16]}/{options.inference_key()}/{digest}"
        keep = list(options.keep) if options.keep is not None else None
        memo_key = f"{result_key}/{options.format}/{','.join(map(str, keep or []))}"
        content_type = OUTPUT_FORMATS[options.format]
        body = self.memo.get(memo_key)
        if body is not None:
            self.counters.memo_hits += 1
            return Answer(body, content_type, options.format, True)
        try:
            sniff(data)  # refuse what is not an image before it reaches the cluster
        except ImageError as exc:
            raise image_error(exc) from exc
        blob = await self.cache.result(result_key, digest, data)
        label_map = LabelMap.from_bytes(blob)
        body, content_type = encode(label_map, options.format, keep)
        self.memo.add(memo_key, body)
        return Answer(body, content_type, options.format, False)

    async def _load_result(self, key: str, data: bytes) -> bytes:
        """The results group's getter body (on the key's owner): decode, run the model, serialize."""
        model_part, inference, _ = key.split("/", 2)
        if model_part != self.model.info.sha256[:16]:
            raise ServiceError(409, "model_mismatch", f"this node serves model {self.model.info.sha256[:16]}")
        spacing = None if inference == "sp=file" else parse_spacing(inference[3:])
        if self.batcher is None:
            label_map = await self.pool.run(self.pipeline, data, spacing)
        else:
            label_map = await self._batched(data, spacing)
        self.counters.inferences += 1
        return label_map.to_bytes()

    async def _batched(self, data: bytes, spacing: tuple[float, float] | None) -> LabelMap:
        assert self.batcher is not None
        image, model_input = await self.pool.run(self.prepare, data, spacing)
        if model_input.planes.shape[0] != 1:
            labels = await self.pool.run(self.predict_slices, model_input.planes)
        else:
            labels = (await self.batcher.submit(model_input.planes[0]))[None]
        return self.finish(image, model_input, labels)

    # ------------------------------------------------------------- pipeline (worker threads)

    def prepare(self, data: bytes, spacing: tuple[float, float] | None) -> tuple[Image, ModelInput]:
        """Read the input and bring it onto the model's grid (``medimage``'s contract, as training does)."""
        try:
            image = read_bytes(data, self.limits)
            if spacing is not None:
                image = image.with_spacing(spacing)
            return image, to_model(image, self.model.info, self.limits)
        except ImageError as exc:
            raise image_error(exc) from exc

    def predict_slices(self, planes: F32) -> U8:
        """Labels for planes [Z, X, Y], in runs of at most ``batch_size`` planes and the limits' pixels per run, so
        one request's memory in the model stays bounded whatever the plane size."""
        step = self.limits.planes_per_run((planes.shape[1], planes.shape[2]), self.batch_size)
        parts = [self.model.predict(planes[i : i + step]) for i in range(0, len(planes), step)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def finish(self, image: Image, model_input: ModelInput, labels: U8) -> LabelMap:
        """The model file's post-processing, then labels back on the input's own grid, in the axis order its format
        answers in."""
        labels = postprocess(labels, self.model.info.postprocess)
        voxels = labels_to_input(labels, model_input)  # [i, j, k], the input's own axes
        si, sj, sk = image.spacing
        affine: list[list[float]] | None = None
        if image.format == "nifti":
            layout = "xy" if image.detail.get("ndim") == 2 else "xyz"
            out = voxels[:, :, 0] if layout == "xy" else voxels
            spacing = [si, sj] if layout == "xy" else [si, sj, sk]
            affine = image.affine.tolist()
        else:  # pictures and DICOM answer as they are displayed: [rows, cols] or [slices, rows, cols]
            layout = "yx"
            out = voxels.transpose(2, 1, 0)
            spacing = [sj, si] if out.shape[0] == 1 else [sk, sj, si]
            out = out[0] if out.shape[0] == 1 else out
            if image.format == "dicom":
                affine = image.affine.tolist()
        return LabelMap(
            labels=np.ascontiguousarray(out),
            layout=layout,
            spacing=spacing if image.spacing_source != "unknown" else None,
            spacing_source=image.spacing_source,
            affine=affine,
            kind=image.format,
            model=self.model.info.sha256,
            classes=self.classes,
        )

    def pipeline(self, data: bytes, spacing: tuple[float, float] | None) -> LabelMap:
        """The whole uncached path in one worker job: read, onto the model grid, predict, back."""
        start = time.perf_counter()
        image, model_input = self.prepare(data, spacing)
        label_map = self.finish(image, model_input, self.predict_slices(model_input.planes))
        label_map.model_ms = (time.perf_counter() - start) * 1000
        return label_map

    # ------------------------------------------------------------- descriptions

    def describe(self) -> dict[str, Any]:
        return {
            "models": [
                {
                    **self.model.describe(),
                    "outputs": list(OUTPUT_FORMATS),
                    "pool": {"workers": self.pool.workers, "queue": self.pool.queue},
                    "limits": {
                        "max_pixels_per_slice": self.limits.max_pixels,
                        "max_voxels": self.limits.max_voxels,
                        "max_files": self.limits.max_files,
                        "max_slices": self.limits.max_slices,
                        "max_grid_pixels": self.limits.max_grid_pixels,
                        "max_run_pixels": self.limits.max_run_pixels,
                    },
                }
            ]
        }

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "model": self.model.info.sha256,
            "provider": self.model.provider,
            "pool": {"running": self.pool.running, "waiting": self.pool.waiting, "workers": self.pool.workers},
            "peers": self.cache.peers(),
        }

    def metrics(self) -> str:
        """Prometheus text, written by prometheus_client: this service's counters, then the cache groups'."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ServiceCollector(self))
        registry.register(self.cache.collector)
        return generate_latest(registry).decode()


class ServiceCollector(Collector):
    """A service's counters, gauges and latency histogram as Prometheus metric families, read at each scrape."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        service, c = self.service, self.service.counters
        for name, help, value in [
            ("inferences", "Label maps computed by this node's model (cache misses it owned).", c.inferences),
            ("model_runs", "Model runs (batches).", service.model.runs),
            ("model_slices", "Slices through the model.", service.model.slices),
            ("model_seconds", "Seconds in the model.", service.model.run_seconds),
            ("memo_hits", "Answers from this node's memo of encoded answers.", c.memo_hits),
            ("pool_rejected", "Requests the inference pool refused (full).", service.pool.rejected),
            ("pool_completed", "Jobs the inference pool finished.", service.pool.completed),
        ]:
            yield CounterMetricFamily(f"segserve_{name}", help, value=value)
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

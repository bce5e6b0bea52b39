"""The inference pipeline: input bytes to a label map on the input's own grid, with its statistics.

Read (``medimage``'s contract, as training reads), onto the model's grid, the model in runs that fit the limits,
the model file's post-processing, back onto the input's grid, then per-class statistics against the input's own
values. ``load`` is the results group's getter body (``cache.Cache`` is built with it); ``run_volume`` is the same
pipeline as separate pool jobs per run of slices, so a job can report progress and be cancelled between runs while
single slices keep being served in between.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from medimage import (
    Image,
    ImageError,
    Limits,
    ModelInput,
    in_slabs,
    labels_to_input,
    postprocess,
    read_bytes,
    to_model,
)
from segserve.errors import ServiceError, image_error
from segserve.keys import ResultKey
from segserve.model import Model
from segserve.pool import F32, U8, InferencePool, MicroBatcher
from segserve.results import ClassStatistics, LabelMap


class Inference:
    """One node's model behind its bounded pool.

    Args:
        limits: what one input may cost (``medimage.Limits``).
        batch_size: slices per model run for volumes (also bounded by ``limits.max_run_pixels``).
        batch_window: seconds to gather concurrent single slices into one run (0: off).
    """

    def __init__(
        self, model: Model, pool: InferencePool, limits: Limits, *, batch_size: int = 8, batch_window: float = 0.0
    ) -> None:
        self.model = model
        self.pool = pool
        self.limits = limits
        self.batch_size = max(1, batch_size)
        self.batcher = MicroBatcher(pool, self.predict_slices, batch_window, batch_size) if batch_window > 0 else None
        self.classes = list(model.info.classes)
        self.computed = 0  # label maps computed by this node

    @property
    def model_key(self) -> str:
        return self.model.info.sha256[:16]

    async def load(self, key: ResultKey, data: bytes) -> bytes:
        """The results group's getter body (on the key's owner): decode, run the model, serialize."""
        if key.model != self.model_key:
            raise ServiceError(409, "model_mismatch", f"this node serves model {self.model_key}, not {key.model}")
        if self.batcher is None:
            label_map = await self.pool.run(self.pipeline, data, key.spacing)
        else:
            image, model_input = await self.pool.run(self.prepare, data, key.spacing)
            if model_input.planes.shape[0] != 1:
                labels = await self.pool.run(self.predict_slices, model_input.planes)
            else:
                labels = (await self.batcher.submit(model_input.planes[0]))[None]
            label_map = await self.pool.run(self.finish, image, model_input, labels)
        self.computed += 1
        return label_map.to_bytes()

    async def run_volume(
        self, image: Image, model_input: ModelInput, progress: Callable[[int], None], timings: dict[str, float]
    ) -> LabelMap:
        """The model on ``model_input``'s planes, one pool job per run of slices, calling ``progress(done)`` after
        each; a cancelled caller stops at the next run. The pool's queue bound is not applied (the caller bounds
        how many volumes run), so a volume waits for a worker instead of failing half-way. ``timings`` gets the
        milliseconds of ``model`` (the runs, waits for a worker included) and ``finish``."""
        planes = model_input.planes
        step = self.limits.planes_per_run((planes.shape[1], planes.shape[2]), self.batch_size)
        parts = []
        start_time = time.perf_counter()
        for start in range(0, len(planes), step):
            parts.append(await self.pool.run(self.model.predict, planes[start : start + step], wait=True))
            progress(min(len(planes), start + step))
            await asyncio.sleep(0)  # a point where a cancellation lands
        labels = parts[0] if len(parts) == 1 else np.concatenate(parts)
        finish_time = time.perf_counter()
        label_map = await self.pool.run(self.finish, image, model_input, labels, wait=True)
        timings["model_ms"] = (finish_time - start_time) * 1000
        timings["finish_ms"] = (time.perf_counter() - finish_time) * 1000
        self.computed += 1
        return label_map

    # ------------------------------------------------------------- the steps (worker threads)

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
        answers in, with each class's statistics."""
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
        known = image.spacing_source != "unknown"
        return LabelMap(
            labels=np.ascontiguousarray(out),
            layout=layout,
            spacing=spacing if known else None,
            spacing_source=image.spacing_source,
            affine=affine,
            kind=image.format,
            model=self.model.info.sha256,
            classes=self.classes,
            statistics=statistics(voxels, image, len(self.classes), known),
        )

    def pipeline(self, data: bytes, spacing: tuple[float, float] | None) -> LabelMap:
        """The whole uncached path in one worker job: read, onto the model grid, predict, back."""
        start = time.perf_counter()
        image, model_input = self.prepare(data, spacing)
        label_map = self.finish(image, model_input, self.predict_slices(model_input.planes))
        label_map.model_ms = (time.perf_counter() - start) * 1000
        return label_map


def statistics(voxels: U8, image: Image, classes: int, spacing_known: bool) -> list[ClassStatistics]:
    """Per class: voxels, volume in mL (when the spacing is known) and the mean and standard deviation of the
    input's values inside it (Hounsfield units for CT; None for pictures, whose grey levels are no measurement,
    and for the background), as TotalSegmentator's ``--statistics`` reports them.

    Args:
        voxels: uint8 ``[i, j, k]`` labels on ``image``'s grid.

    Cost: a ``bincount`` over the volume, then sums over the labelled voxels only (a few per cent of a CT), in
    slabs of planes on every usable core (``medimage.in_slabs``), each read in the image's own memory order.
    """
    f_order = image.array.flags.f_contiguous and not image.array.flags.c_contiguous
    order: Literal["C", "F"] = "F" if f_order else "C"
    measured = image.intensity != "grey"

    def slab(start: int, stop: int) -> tuple[npt.NDArray[Any], ...]:
        flat = voxels[:, :, start:stop].ravel(order=order)
        counts = np.bincount(flat, minlength=classes)[:classes].astype(np.float64)
        if not measured:
            return (counts,)
        inside = np.flatnonzero(flat)
        values = image.array[:, :, start:stop].ravel(order=order)[inside].astype(np.float64)
        sums = np.bincount(flat[inside], weights=values, minlength=classes)[:classes]
        squares = np.bincount(flat[inside], weights=values * values, minlength=classes)[:classes]
        return counts, sums, squares

    totals = [np.sum(parts, axis=0) for parts in zip(*in_slabs(voxels.shape[2], slab), strict=True)]
    voxel_ml = float(np.prod(image.spacing)) / 1000.0 if spacing_known else None
    out = []
    for c in range(classes):
        n = int(totals[0][c])
        mean = sd = None
        if measured and n and c:
            mean = float(totals[1][c] / n)
            sd = float(np.sqrt(max(0.0, totals[2][c] / n - mean * mean)))
        out.append(ClassStatistics(voxels=n, volume_ml=None if voxel_ml is None else n * voxel_ml, mean=mean, sd=sd))
    return out

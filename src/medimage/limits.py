"""Bounds on the work one image may cause, checked before the memory is taken.

Every allocation that depends on an input is bounded by a figure computed from what the input declares (a NIfTI
header's dimensions and data type, a DICOM's Rows, Columns and Number of Frames, a codestream's own frame header, a
PNG's IHDR) and checked here first; only then is anything inflated or decoded. The model-grid limits bound what a
model run costs, which depends on the grid after resampling, not on the upload's size.
"""

from __future__ import annotations

from dataclasses import dataclass

from medimage.errors import ImageTooLarge

MIN_GRID = 16
MAX_SHRINK = 16
"""A plane that resampling shrinks this many times, to under ``MIN_GRID`` pixels a side, had a wrong voxel size."""


@dataclass(frozen=True)
class Limits:
    """Per-image bounds. The defaults fit a node with a few GB of memory.

    Attributes:
        max_pixels: pixels of one decoded input plane (a PNG, a DICOM frame, a NIfTI slice).
        max_voxels: voxels of one decoded input (all planes); float32 copies cost 4 bytes each.
        max_files: files in one DICOM series (an upload or a zip).
        max_slices: planes the model runs on, after reorientation to axial.
        max_grid_pixels: pixels of one plane on the model's grid, after resampling to the model's spacing.
        max_run_pixels: pixels of one model run (planes x grid pixels); runs are split to fit, so one
            request's peak memory is about this figure times the model's bytes per pixel (about 0.8 kB for the
            bundled model in ONNX Runtime, ``benchmarks/segserve_ort_memory.py``: 0.8 GB at the default).
    """

    max_pixels: int = 4096 * 4096
    max_voxels: int = 512 * 512 * 600
    max_files: int = 2048
    max_slices: int = 2048
    max_grid_pixels: int = 1024 * 1024
    max_run_pixels: int = 4 * 512 * 512

    def check_plane(self, what: str, columns: int, rows: int) -> None:
        """A decoded plane of ``columns`` x ``rows`` pixels; raises UnreadableImage-like 413 over the limit."""
        if columns * rows > self.max_pixels:
            raise ImageTooLarge(
                f"the {what} is {columns}x{rows} = {columns * rows} pixels per plane, over the limit of "
                f"{self.max_pixels}; downsample it (a CT slice is typically 512x512)"
            )

    def check_voxels(self, what: str, shape: tuple[int, ...]) -> None:
        voxels = 1
        for n in shape:
            voxels *= n
        if voxels > self.max_voxels:
            raise ImageTooLarge(
                f"the {what} holds {'x'.join(map(str, shape))} = {voxels} voxels, over the limit of "
                f"{self.max_voxels}; send fewer slices or a downsampled volume"
            )

    def check_files(self, count: int) -> None:
        if count > self.max_files:
            raise ImageTooLarge(f"the series has {count} files, over the limit of {self.max_files}; send one series")

    def check_grid(
        self, grid: tuple[int, int], slices: int, spacing: tuple[float, float], plane: tuple[int, int] | None = None
    ) -> None:
        """The model's planes: ``grid`` = (X, Y) pixels each, ``slices`` of them, from input planes of ``plane``
        pixels at ``spacing`` mm. A plane that resampling shrinks ``MAX_SHRINK`` times or more to under
        ``MIN_GRID`` pixels a side is refused too (422: a wrong, tiny voxel size leaves nothing to segment)."""
        if plane is not None and min(grid) < MIN_GRID and min(grid) * MAX_SHRINK <= min(plane):
            from medimage.errors import UnusableImage

            raise UnusableImage(
                f"at the model's spacing one plane becomes {grid[0]}x{grid[1]} pixels (input spacing "
                f"{spacing[0]:g} x {spacing[1]:g} mm): too small to segment; check the spacing (a CT slice is "
                "typically 0.5-1 mm per pixel), or pass spacing= with the right one"
            )
        if grid[0] * grid[1] > self.max_grid_pixels:
            raise ImageTooLarge(
                f"at the model's spacing one plane becomes {grid[0]}x{grid[1]} pixels (input spacing "
                f"{spacing[0]:g} x {spacing[1]:g} mm), over the limit of {self.max_grid_pixels}; check the "
                "spacing (a CT slice is typically 0.5-1 mm per pixel and 512 pixels wide)"
            )
        if slices > self.max_slices:
            raise ImageTooLarge(
                f"the model would run on {slices} axial planes, over the limit of {self.max_slices}; send fewer slices"
            )

    def planes_per_run(self, grid: tuple[int, int], wanted: int) -> int:
        """How many planes of ``grid`` one model run may take: at most ``wanted``, within ``max_run_pixels``."""
        return max(1, min(wanted, self.max_run_pixels // max(1, grid[0] * grid[1])))

"""Sample slices for the service's page and tests: what a user can try without data of their own.

PNGs are windowed 8-bit pictures at the model's spacing, in radiological display orientation, so the service reads
them exactly as it reads an uploaded picture; a few slices of the test scan also ship as a NIfTI volume (Hounsfield
units, original spacing, the affine that keeps them in place). The attribution travels with them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from freqseg.data import DATASET_LIMITS, Preprocessing, load_dataset, load_pair
from freqseg.prepare import slab
from medimage import canonical, encode_png, labels_to_model, to_model, write_nifti

ATTRIBUTION = """# Sample CT slices: attribution

Source: TotalSegmentator's example CT scans, `tests/reference_files/` in the `totalsegmentator==2.18.0` source
distribution on PyPI (Apache-2.0, https://github.com/wasserth/TotalSegmentator). Made with `python -m freqseg
samples` from the test split of `python -m freqseg prepare`: scan B (`example_ct_dicom`, portal-venous contrast),
held out from training.

{files}

The PNGs are windowed to [{low:g}, {high:g}] HU, resampled to {sx:g} x {sy:g} mm pixels and shown in radiological
orientation (anterior at the top, the patient's right on the left); the NIfTI holds {slices} of the scan's slices in
HU, at their original spacing and position.
"""


def write_samples(
    dataset: str | Path, out: str | Path, count: int = 3, prep: Preprocessing | None = None, slices: int = 3
) -> list[Path]:
    """The ``count`` test slices with the most labelled organs as PNG, and ``slices`` slices around the best one as
    NIfTI."""
    prep = prep or Preprocessing()
    spec = load_dataset(dataset)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    candidates = []
    for number, case in enumerate(spec.cases["test"]):
        image, label = load_pair(case, len(spec.classes))
        assert label is not None
        model_input = to_model(image, prep.spec, DATASET_LIMITS)
        labels = labels_to_model(label, model_input)
        for z, plane in enumerate(model_input.planes):
            organs = len(np.unique(labels[z])) - 1
            candidates.append((organs, number, z, plane))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    picked: list[tuple[int, int, int, np.ndarray]] = []
    for candidate in candidates:  # the most organs first, slices at least 4 apart
        if len(picked) < count and all(candidate[1] != p[1] or abs(candidate[2] - p[2]) >= 4 for p in picked):
            picked.append(candidate)
    written = []
    for _, number, z, plane in picked:
        picture = np.ascontiguousarray(plane.T[::-1, ::-1])  # RAS [x, y] -> display [rows, cols]
        path = out / f"ct_{spec.cases['test'][number].image.name.split('.')[0]}_z{z}.png"
        path.write_bytes(encode_png((picture * 255).round().astype(np.uint8), compress_level=9))
        written.append(path)
    _, number, z, _ = candidates[0]
    volume = canonical(load_pair(spec.cases["test"][number], len(spec.classes))[0])
    start = min(max(z - slices // 2, 0), max(volume.shape[2] - slices, 0))
    part = slab(volume, np.zeros(volume.shape, np.uint8), start, start + slices)[0]
    path = out / f"ct_{spec.cases['test'][number].image.name.split('.')[0]}_{slices}slices.nii.gz"
    path.write_bytes(write_nifti(np.rint(part.array).astype(np.int16), part.affine))
    written.append(path)
    files = "\n".join(f"- `{p.name}`" for p in written)
    text = ATTRIBUTION.format(
        files=files, low=prep.window[0], high=prep.window[1], sx=prep.spacing[0], sy=prep.spacing[1], slices=slices
    )
    (out / "ATTRIBUTION.md").write_text(text)
    return written

"""Sample slices for the service's page and tests: what a user can try without data of their own.

PNGs are windowed 8-bit pictures at the model's spacing, in radiological display orientation, so the service reads
them exactly as it reads an uploaded picture; one test case also ships as its original NIfTI volume (Hounsfield
units, original spacing and affine). The attribution travels with them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from freqseg.data import DATASET_LIMITS, Preprocessing, load_dataset, load_pair
from medimage import encode_png, labels_to_model, to_model

ATTRIBUTION = """# Sample CT slices: attribution

Source: TotalSegmentator's example CT, `tests/reference_files/example_ct.nii.gz` in the `totalsegmentator==2.18.0`
source distribution on PyPI (Apache-2.0, https://github.com/wasserth/TotalSegmentator). Made with
`python -m freqseg samples` from the test split of `python -m freqseg prepare` (slices no model saw in training).

{files}

The PNGs are windowed to [{low:g}, {high:g}] HU, resampled to {sx:g} x {sy:g} mm pixels and shown in radiological
orientation (anterior at the top, the patient's right on the left); the NIfTI is the original volume in HU.
"""


def write_samples(
    dataset: str | Path, out: str | Path, count: int = 3, prep: Preprocessing | None = None
) -> list[Path]:
    """The ``count`` test slices with the most labelled organs as PNG, plus the first test case as NIfTI."""
    prep = prep or Preprocessing()
    spec = load_dataset(dataset)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    candidates = []
    for case in spec.cases["test"]:
        image, label = load_pair(case, len(spec.classes))
        assert label is not None
        model_input = to_model(image, prep.spec, DATASET_LIMITS)
        labels = labels_to_model(label, model_input)
        for z, plane in enumerate(model_input.planes):
            organs = len(np.unique(labels[z])) - 1
            candidates.append((organs, case.image.name, z, plane))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    written = []
    for _, name, z, plane in candidates[:count]:
        picture = np.ascontiguousarray(plane.T[::-1, ::-1])  # RAS [x, y] -> display [rows, cols]
        path = out / f"ct_{name.split('.')[0]}_z{z}.png"
        path.write_bytes(encode_png((picture * 255).round().astype(np.uint8), compress_level=9))
        written.append(path)
    volume = spec.cases["test"][0].image
    shutil.copyfile(volume, out / f"ct_{volume.name}")
    written.append(out / f"ct_{volume.name}")
    files = "\n".join(f"- `{p.name}`" for p in written)
    text = ATTRIBUTION.format(
        files=files, low=prep.window[0], high=prep.window[1], sx=prep.spacing[0], sy=prep.spacing[1]
    )
    (out / "ATTRIBUTION.md").write_text(text)
    return written

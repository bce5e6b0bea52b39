"""Partially labelled datasets made from a fully labelled one, for the universal model's experiment.

Real multi-dataset training mixes collections that each label a few organs (one labels the liver, another the
kidneys, ...). ``split_partial`` makes that situation from the prepared CT: the training cases are dealt out to
several datasets, each keeping the labels of its own organ subset and drawing every other organ as background, with
``labelled_classes`` in its ``dataset.json`` saying which classes its label maps can be trusted for.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from freqseg.data import DATASET_LIMITS, load_dataset
from freqseg.errors import DataError
from medimage import read_path, write_nifti

# Three "collections" of the BTCV organs: solid organs, kidneys and adrenals, vessels and pancreas.
DEFAULT_GROUPS = {
    "organs": ["spleen", "liver", "stomach", "gallbladder"],
    "kidneys": ["kidney_right", "kidney_left", "adrenal_gland_right", "adrenal_gland_left"],
    "vessels": ["aorta", "inferior_vena_cava", "portal_vein_and_splenic_vein", "pancreas"],
}


def split_partial(
    source: str | Path, out: str | Path, groups: dict[str, list[str]] | None = None, cases_from: str = "training"
) -> dict[str, Path]:
    """Write one Decathlon-layout dataset per group under ``out``; returns group name -> folder.

    The source's ``cases_from`` cases are dealt round-robin, so no slice is in two datasets. A group with a single
    entry gets every case (the add-a-class fine-tuning set).
    """
    groups = groups or DEFAULT_GROUPS
    spec = load_dataset(source)
    for name, classes in groups.items():
        unknown = [c for c in classes if c not in spec.classes[1:]]
        if unknown:
            raise DataError(f"group {name!r} names unknown class(es) {unknown}; valid: {', '.join(spec.classes[1:])}")
        if not classes:
            raise DataError(f"group {name!r} labels no class")
    cases = spec.cases[cases_from]
    if len(cases) < len(groups):
        raise DataError(f"{len(cases)} {cases_from} cases cannot be dealt to {len(groups)} datasets")
    written = {}
    for number, (name, classes) in enumerate(groups.items()):
        root = Path(out) / name
        mine = cases if len(groups) == 1 else cases[number :: len(groups)]
        keep = np.array([0, *(spec.classes.index(c) for c in classes)])
        entries = []
        for case in mine:
            assert case.label is not None
            image, label = read_path(case.image, DATASET_LIMITS), read_path(case.label, DATASET_LIMITS)
            partial = np.where(np.isin(label.array, keep), label.array, 0).astype(np.uint8)
            (root / "imagesTr").mkdir(parents=True, exist_ok=True)
            (root / "labelsTr").mkdir(parents=True, exist_ok=True)
            (root / "imagesTr" / case.image.name).write_bytes(write_nifti(image.array.astype(np.int16), image.affine))
            (root / "labelsTr" / case.image.name).write_bytes(write_nifti(partial, label.affine))
            entries.append({"image": f"./imagesTr/{case.image.name}", "label": f"./labelsTr/{case.image.name}"})
        meta = {
            "name": f"{spec.name}-{name}",
            "description": f"{name}: {', '.join(classes)} labelled; every other organ drawn as background",
            "labels": {str(i): c for i, c in enumerate(spec.classes)},
            "labelled_classes": classes,
            "training": entries,
        }
        (root / "dataset.json").write_text(json.dumps(meta, indent=2))
        written[name] = root
    return written

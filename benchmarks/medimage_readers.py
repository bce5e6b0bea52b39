"""DICOM series readers on the held-out scan B: medimage (pydicom + pylibjpeg) beside SimpleITK (ITK/GDCM).

Scan B is TotalSegmentator's DICOM example (20 axial slices, 512x512, JPEG 2000 lossless, 0.98 mm, 2 mm apart) with
its label map as a NIfTI whose axes differ from the DICOM pixel order. For each reader: the time to read the series
(median of interleaved rounds) and the mean HU inside the liver, spleen and aorta labels, the label map paired with
the pixels through the two affines by the reader's own geometry. A reader that gets geometry or rescale wrong shows
it here (contrast-enhanced liver is about 90 HU); the same figures from both say both read the files right.

    python benchmarks/medimage_readers.py [--rounds 5] [--cache .cache/freqseg]
"""

from __future__ import annotations

import argparse
import statistics
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from freqseg.prepare import ARCHIVE, fetch
from medimage import read_path

from common import header, interleaved

MEMBERS = "totalsegmentator-2.18.0/tests/reference_files/"
ORGANS = {"liver": 5, "spleen": 1, "aorta": 52}  # TotalSegmentator's class indexes
LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def unpack(cache: Path) -> tuple[Path, Path]:
    fetch(cache)
    series, label = cache / "example_ct_dicom", cache / "example_seg_dicom.nii.gz"
    if not series.is_dir() or not label.is_file():
        with tarfile.open(cache / ARCHIVE) as tar:
            for member in tar.getmembers():
                name = member.name[len(MEMBERS) :]
                wanted = name.startswith("example_ct_dicom/") or name == "example_seg_dicom.nii.gz"
                if member.isfile() and member.name.startswith(MEMBERS) and wanted:
                    target = cache / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = tar.extractfile(member)
                    assert source is not None
                    target.write_bytes(source.read())
    return series, label


def read_medimage(series: Path) -> tuple[np.ndarray, np.ndarray]:
    """HU [i, j, k] and voxel -> RAS affine."""
    image = read_path(series)
    return image.array, image.affine


def read_simpleitk(series: Path) -> tuple[np.ndarray, np.ndarray]:
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(series)))
    image = reader.Execute()
    array = sitk.GetArrayFromImage(image).transpose(2, 1, 0).astype(np.float32)  # [z, y, x] -> [i, j, k]
    affine = np.eye(4)
    affine[:3, :3] = np.array(image.GetDirection()).reshape(3, 3) @ np.diag(image.GetSpacing())
    affine[:3, 3] = image.GetOrigin()
    return array, LPS @ affine  # ITK's physical space is LPS


def organ_hu(array: np.ndarray, affine: np.ndarray, label: Path) -> dict[str, float]:
    """Mean HU of each organ: every label voxel mapped through both affines onto the image's voxel grid."""
    import nibabel as nib

    reference = nib.load(str(label))
    labels = np.asarray(reference.dataobj)
    to_image = np.linalg.inv(affine) @ reference.affine
    out = {}
    for name, index in ORGANS.items():
        voxels = np.argwhere(labels == index)
        ijk = np.rint(np.c_[voxels, np.ones(len(voxels))] @ to_image.T)[:, :3].astype(int)
        inside = np.all((ijk >= 0) & (ijk < array.shape), axis=1)
        out[name] = float(array[tuple(ijk[inside].T)].mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path(".cache/freqseg"))
    args = parser.parse_args()
    series, label = unpack(args.cache)
    readers: dict[str, Callable[[Path], tuple[np.ndarray, np.ndarray]]] = {
        "medimage (pydicom + pylibjpeg)": read_medimage
    }
    try:
        import SimpleITK  # noqa: F401

        readers["SimpleITK (ITK + GDCM)"] = read_simpleitk
    except ImportError:
        print("SimpleITK is not installed (pip install simpleitk): its row is left out")

    def timed(reader: Callable[[Path], object]) -> Callable[[], float]:
        def run() -> float:
            start = time.perf_counter()
            reader(series)
            return time.perf_counter() - start

        return run

    times = interleaved({name: timed(reader) for name, reader in readers.items()}, args.rounds)
    print(header(["pydicom", "pylibjpeg-openjpeg", "simpleitk", "nibabel"]))
    print()
    print("| reader | read s (median) | shape [i, j, k] | spacing mm | liver HU | spleen HU | aorta HU |")
    print("|---|---|---|---|---|---|---|")
    for name, reader in readers.items():
        array, affine = reader(series)
        hu = organ_hu(array, affine, label)
        spacing = ", ".join(f"{v:.3f}" for v in np.linalg.norm(affine[:3, :3], axis=0))
        print(
            f"| {name} | {statistics.median(times[name]):.2f} | {'x'.join(map(str, array.shape))} | {spacing} | "
            + " | ".join(f"{hu[o]:.1f}" for o in ORGANS)
            + " |"
        )


if __name__ == "__main__":
    main()

"""Training's side and serving's side read a scan the same way: ``freqseg predict`` with a checkpoint and the
service with that checkpoint's export give the same label map, pixel for pixel, for every kind of input.

The only pixels allowed to differ are those where the network's two highest logits are closer than the export's
own parity bound (ONNX Runtime and PyTorch round differently there); they are counted, and must be few.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch

from freqseg.checkpoint import build_model, load_checkpoint, model_spec
from freqseg.cli import main as freqseg_main
from freqseg.config import TrainConfig
from freqseg.export import export_onnx
from medimage import labels_to_input, pad_to_stride, read_bytes, read_path, to_model

from tests.imagefiles import dicom_series, enhanced_ct_bytes, nifti_bytes, png_bytes
from tests.segserve.conftest import Node

CLASSES = ["background", "spleen", "liver", "aorta"]


def scan(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """A phantom in HU [x, y, z]: soft tissue with a bright disc and a dark one, and noise, so labels vary."""
    rng = np.random.default_rng(seed)
    x, y = np.mgrid[: shape[0], : shape[1]]
    volume = rng.normal(40, 60, shape)
    volume[(x - shape[0] * 0.3) ** 2 + (y - shape[1] * 0.6) ** 2 < (shape[0] * 0.15) ** 2] += 200
    volume[(x - shape[0] * 0.7) ** 2 + (y - shape[1] * 0.3) ** 2 < (shape[0] * 0.2) ** 2] -= 150
    return volume.astype(np.int16)


def zipped(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files:
            archive.writestr(name, data)
    return buffer.getvalue()


def inputs() -> dict[str, bytes]:
    volume = scan((96, 80, 3), 0)
    lps = np.array([[-0.8, 0, 0, 95 * 0.8], [0, -0.8, 0, 79 * 0.8], [0, 0, 2.5, 0], [0, 0, 0, 1]])
    series = scan((64, 72, 4), 1)  # [columns, rows, slices]
    return {
        "nifti-ras": nifti_bytes(volume, np.diag([0.8, 0.8, 2.5, 1.0]), gz=True),  # sub-millimetre: resampled
        "nifti-lps": nifti_bytes(np.ascontiguousarray(volume[::-1, ::-1]), lps),
        "dicom-series": zipped(dicom_series(series.transpose(2, 1, 0).astype(float), spacing=(0.7, 0.7))),
        "enhanced-ct": enhanced_ct_bytes((scan((48, 40, 2), 2) + 1024).transpose(2, 1, 0).astype(np.uint16)),
        "png": png_bytes(np.clip(scan((70, 90, 1), 3)[:, :, 0].T / 4 + 60, 0, 255).astype(np.uint8)),
        "png-16bit": png_bytes(np.clip(scan((70, 90, 1), 4)[:, :, 0].T * 64 + 15000, 0, 65535).astype(np.uint16)),
    }


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    config = TrainConfig.from_dict({"size": "tiny", "dataset": "unused", "spacing": [1.5, 1.5]})
    path = tmp_path_factory.mktemp("parity") / "best.pt"
    model = build_model(config, CLASSES)
    torch.save({"model": model.state_dict(), "config": config.to_dict(), "classes": CLASSES}, path)
    return path


@pytest.fixture(scope="module")
def exported(checkpoint: Path) -> dict[str, object]:
    return export_onnx(checkpoint, checkpoint.with_suffix(".onnx"), parity_shapes=[(1, 64, 64), (2, 48, 80)])


@pytest.fixture(scope="module")
def service(exported: dict[str, object]) -> Iterator[Node]:
    node = Node(str(exported["out"])).start()
    try:
        yield node
    finally:
        node.stop()


def ambiguous_pixels(checkpoint: Path, data: bytes, bound: float) -> np.ndarray:
    """Input-grid mask of the pixels whose two highest PyTorch logits are within ``bound`` of each other."""
    model, config, classes = load_checkpoint(checkpoint, torch.device("cpu"))
    spec = model_spec(model, config, classes)
    model_input = to_model(read_bytes(data), spec)
    x, y = model_input.grid
    with torch.no_grad():
        logits = model(torch.from_numpy(pad_to_stride(model_input.planes, spec.stride)[:, None]))[:, :, :x, :y]
    top2 = torch.topk(logits, 2, dim=1).values
    close = ((top2[:, 0] - top2[:, 1]) < bound).numpy().astype(np.uint8)
    return labels_to_input(close, model_input).astype(bool)


@pytest.mark.parametrize("case", list(inputs()))
def test_freqseg_predict_and_the_service_give_the_same_labels(
    case: str, checkpoint: Path, exported: dict[str, object], service: Node, tmp_path: Path
) -> None:
    data = inputs()[case]
    picture = case.startswith("png")
    suffix = ".png" if picture else {"dicom-series": ".zip", "enhanced-ct": ".dcm"}.get(case, ".nii.gz")
    source = tmp_path / f"input{suffix}"
    source.write_bytes(data)
    out = tmp_path / ("labels.png" if picture else "labels.nii.gz")
    assert freqseg_main(["predict", str(checkpoint), str(source), "--out", str(out)]) == 0
    answer = httpx.post(f"{service.url}/v1/segment", content=data, params={"format": "png" if picture else "nifti"})
    assert answer.status_code == 200, answer.text
    if picture:
        from PIL import Image

        mine = np.asarray(Image.open(out))
        served = np.asarray(Image.open(io.BytesIO(answer.content)))
    else:
        mine = read_path(out).array
        served = read_bytes(answer.content).array
        assert np.allclose(read_path(out).affine, read_bytes(answer.content).affine, atol=1e-4)
    assert mine.shape == served.shape and len(np.unique(mine)) >= 2  # a map with structure, not one class
    differ = mine != served
    allowed = ambiguous_pixels(checkpoint, data, 2 * float(exported["max_abs_diff"]) + 1e-6)
    allowed = allowed[:, :, 0].T if picture else allowed
    assert not (differ & ~allowed).any(), f"{int((differ & ~allowed).sum())} pixels differ beyond the parity bound"
    assert differ.sum() <= max(2, 0.001 * differ.size)

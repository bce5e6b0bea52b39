import json

import nibabel as nib
import numpy as np
import pytest

from freqseg.data import Preprocessing, SliceDataset, load_dataset
from freqseg.errors import DataError
from medimage import Image


def volume(array: np.ndarray, spacing: float = 3.0) -> Image:
    affine = np.diag([spacing, spacing, spacing, 1.0])
    return Image(array.astype(np.float32), affine, "nifti", None, "raw", "nifti")


def tiny_dataset(root, shapes=((32, 32, 4), (32, 32, 4)), classes=("background", "liver", "spleen")):
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    training = []
    for i, (image_shape, label_shape) in enumerate([shapes]):
        image = np.random.default_rng(i).normal(0, 100, image_shape).astype(np.float32)
        label = np.zeros(label_shape, np.uint8)
        label[8:16, 8:16] = 1
        label[20:24, 20:28] = 2
        nib.save(nib.Nifti1Image(image, np.diag([3, 3, 3, 1])), str(root / "imagesTr" / f"c{i}.nii.gz"))
        nib.save(nib.Nifti1Image(label, np.diag([3, 3, 3, 1])), str(root / "labelsTr" / f"c{i}.nii.gz"))
        training.append({"image": f"./imagesTr/c{i}.nii.gz", "label": f"./labelsTr/c{i}.nii.gz"})
    meta = {"labels": {str(i): c for i, c in enumerate(classes)}, "training": training}
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


def test_slices_are_windowed_resampled_and_padded(tmp_path):
    spec = load_dataset(tiny_dataset(tmp_path))
    assert spec.classes == ["background", "liver", "spleen"]
    dataset = SliceDataset(spec.cases["training"], 3, Preprocessing(spacing=(2.0, 2.0), multiple=16))
    image, label = dataset[0]
    assert len(dataset) == 4
    assert image.shape == (1, 48, 48) and label.shape == (48, 48)  # 32 px of 3 mm -> 48 of 2 mm, already /16
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert set(label.unique().tolist()) == {0, 1, 2}


def test_nnunet_style_labels_and_class_lookup(tmp_path):
    root = tiny_dataset(tmp_path)
    meta = json.loads((root / "dataset.json").read_text())
    meta["labels"] = {"background": 0, "liver": 1, "spleen": 2}
    (root / "dataset.json").write_text(json.dumps(meta))
    spec = load_dataset(root)
    assert spec.class_index("spleen") == 2
    with pytest.raises(DataError, match=r"unknown class 'kidney'.*background, liver, spleen"):
        spec.class_index("kidney")


def test_image_and_label_of_different_shapes(tmp_path):
    spec = load_dataset(tiny_dataset(tmp_path, shapes=((32, 32, 4), (32, 30, 4))))
    with pytest.raises(DataError, match="must lie on its image's voxel grid"):
        SliceDataset(spec.cases["training"], 3, Preprocessing())


def test_empty_folder_missing_json_and_missing_files(tmp_path):
    with pytest.raises(DataError, match="empty"):
        load_dataset(tmp_path)
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(DataError, match=r"no dataset\.json"):
        load_dataset(tmp_path)
    (tmp_path / "dataset.json").write_text(json.dumps({"labels": {"0": "bg"}, "training": [{"image": "./a.nii"}]}))
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(tmp_path)
    (tmp_path / "dataset.json").write_text(json.dumps({"labels": {"0": "bg", "2": "x"}, "training": []}))
    with pytest.raises(DataError, match="without gaps"):
        load_dataset(tmp_path)


def test_a_label_map_stored_with_other_axes_pairs_through_the_affines(tmp_path):
    """A label file flipped and stored LPS beside a RAS image is the same grid: it must land on the same voxels."""
    root = tiny_dataset(tmp_path)
    label_path = root / "labelsTr" / "c0.nii.gz"
    label = nib.load(str(label_path))
    flipped = np.asarray(label.dataobj)[::-1, ::-1].copy()
    lps = label.affine @ np.array([[-1, 0, 0, 31], [0, -1, 0, 31], [0, 0, 1, 0], [0, 0, 0, 1]])
    reference = SliceDataset(load_dataset(root).cases["training"], 3, Preprocessing(spacing=(3.0, 3.0)))
    nib.save(nib.Nifti1Image(flipped, lps), str(label_path))
    paired = SliceDataset(load_dataset(root).cases["training"], 3, Preprocessing(spacing=(3.0, 3.0)))
    assert all(np.array_equal(a, b) for a, b in zip(reference.labels, paired.labels, strict=True))
    moved = label.affine.copy()
    moved[0, 3] += 30  # the same shape, shifted by 10 voxels: another grid
    nib.save(nib.Nifti1Image(np.asarray(label.dataobj), moved), str(label_path))
    with pytest.raises(DataError, match="voxel grid"):
        SliceDataset(load_dataset(root).cases["training"], 3, Preprocessing(spacing=(3.0, 3.0)))


def test_labelled_classes_of_a_partial_dataset(tmp_path):
    root = tiny_dataset(tmp_path)
    meta = json.loads((root / "dataset.json").read_text())
    meta["labelled_classes"] = ["spleen"]
    (root / "dataset.json").write_text(json.dumps(meta))
    spec = load_dataset(root)
    assert spec.labelled == ["spleen"] and spec.labelled_mask == [False, True]
    dataset = SliceDataset(spec.cases["training"], 3, Preprocessing(spacing=(3.0, 3.0)), labelled=spec.labelled_mask)
    _, _, labelled = dataset[0]
    assert labelled.tolist() == [False, True]
    for value, message in [(["kidney"], r"unknown class\(es\) \['kidney'\]; valid: liver, spleen"),
                           ([], "no labelled class"), ("spleen", "list of class names")]:  # fmt: skip
        meta["labelled_classes"] = value
        (root / "dataset.json").write_text(json.dumps(meta))
        with pytest.raises(DataError, match=message):
            load_dataset(root)


def test_contrast_enhancement_moves_each_organ_within_its_range():
    import torch

    from freqseg.data import ENHANCEMENT_HU, RandContrastEnhanced

    classes = ["background", "liver", "aorta", "gallbladder"]
    enhance = RandContrastEnhanced(classes, window=(-175.0, 250.0), prob=1.0)
    enhance.set_random_state(0)
    label = torch.tensor([[[0, 1, 2, 3]]])
    image = torch.full((1, 1, 4), 0.3)
    shifts = torch.stack([enhance({"image": image, "label": label})["image"][0, 0] - 0.3 for _ in range(200)])
    hu = shifts * 425.0
    assert torch.all(hu[:, 0].abs() < 1e-4) and torch.all(hu[:, 3].abs() < 1e-4)  # background, gallbladder stay
    for column, name in ((1, "liver"), (2, "aorta")):
        low, high = ENHANCEMENT_HU[name]
        values = hu[:, column]
        assert values.min() >= low - 1e-3 and values.max() <= min(high, 0.7 * 425) + 1e-3  # clipped at the window
        assert values.max() > 0.5 * min(high, 0.7 * 425)  # the range is used, not a constant
    bright = enhance({"image": torch.full((1, 1, 4), 0.99), "label": label})["image"]
    assert bright.max() <= 1.0  # the window clips


def test_epoch_sampler_shares_crops_between_datasets_by_weight(tmp_path):
    import torch
    from torch.utils.data import ConcatDataset

    from freqseg.config import TrainConfig
    from freqseg.train import Distributed, epoch_sampler

    big, small = tiny_dataset(tmp_path / "big", shapes=((32, 32, 12), (32, 32, 12))), tiny_dataset(tmp_path / "small")
    prep = Preprocessing(spacing=(3.0, 3.0))
    parts = [SliceDataset(load_dataset(root).cases["training"], 3, prep) for root in (big, small)]
    config = TrainConfig(dataset_weights=(1.0, 1.0), datasets=(str(big), str(small)), epoch_crops=4000)
    sampler = epoch_sampler(
        config, ConcatDataset(parts), Distributed(torch.device("cpu")), torch.Generator().manual_seed(0)
    )
    drawn = torch.tensor(list(sampler))
    assert len(drawn) == 4000
    from_small = (drawn >= len(parts[0])).float().mean().item()
    assert 0.45 < from_small < 0.55  # 4 slices weigh as much as 12
    default = epoch_sampler(
        TrainConfig(), ConcatDataset(parts), Distributed(torch.device("cpu")), torch.Generator().manual_seed(0)
    )
    assert sorted(default) == list(range(16))  # every slice once (repeats live in the dataset), shuffled

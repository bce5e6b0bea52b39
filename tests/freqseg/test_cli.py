"""The CLI end to end on a tiny dataset made here: train, resume, evaluate, and its errors."""

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from freqseg.cli import main
from freqseg.prepare import CLASSES, SCANS, btcv_labels, build, slab

from tests.freqseg.test_data import volume


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    rng = np.random.default_rng(0)
    shape = (32, 32, 36)
    image = rng.normal(-50, 30, shape).astype(np.float32)
    segmentation = np.zeros(shape, np.float32)
    segmentation[6:18, 6:18, 2:34] = 5  # a bright "liver"
    image[6:18, 6:18, 2:34] += 150
    segmentation[22:28, 20:28, 2:34] = 1  # a "spleen"
    image[22:28, 20:28, 2:34] += 80
    scan = (volume(image, spacing=1.0), btcv_labels(segmentation, SCANS["A"].codes))
    build(scan, slab(*scan, 28, 36), root, block=4)  # the last slices again, as the test split
    return root


def write_config(tmp_path, dataset, **fields):
    values = {"dataset": str(dataset), "out": str(tmp_path / "run"), "size": "tiny", "epochs": 2,
              "batch_size": 4, "spacing": [3.0, 3.0], "augment": False, "crop": 0, **fields}  # fmt: skip
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values))
    return path


def test_train_resume_and_evaluate(tmp_path, dataset, capsys):
    config = write_config(tmp_path, dataset)
    assert main(["train", "--config", str(config), "--no-progress"]) == 0
    run = tmp_path / "run"
    assert {"best.pt", "last.pt", "metrics.csv", "curves.png", "summary.json", "config.json"} <= {
        p.name for p in run.iterdir()
    }
    assert len((run / "metrics.csv").read_text().splitlines()) == 3
    assert main(["train", "--config", str(config), "--epochs", "3", "--resume", "--no-progress"]) == 0
    assert len((run / "metrics.csv").read_text().splitlines()) == 4  # one more epoch, not three
    assert main(["evaluate", str(run / "best.pt"), "--out", str(tmp_path / "eval")]) == 0
    result = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert result["split"] == "test" and result["slices"] > 0
    assert "| **mean** |" in (tmp_path / "eval" / "results.md").read_text()
    assert (tmp_path / "eval" / "overlay_0.png").exists()

    capsys.readouterr()
    image = sorted((dataset / "imagesTs").iterdir())[0]
    assert main(["predict", str(run / "best.pt"), str(image), "--out", str(tmp_path / "mask.nii.gz")]) == 0
    answer = json.loads(capsys.readouterr().out)
    source, mask = nib.load(image), nib.load(tmp_path / "mask.nii.gz")
    assert mask.shape == source.shape and np.allclose(mask.affine, source.affine)
    assert answer["shape"] == list(source.shape)
    assert set(np.unique(np.asarray(mask.dataobj))) <= set(range(13))

    Image.fromarray(np.full((40, 24), 128, np.uint8)).save(tmp_path / "slice.png")
    assert main(["predict", str(run / "best.pt"), str(tmp_path / "slice.png"), "--out", str(tmp_path / "m.png")]) == 0
    with Image.open(tmp_path / "m.png") as label:
        assert label.size == (24, 40) and label.mode == "L"  # the input's own grid
    assert main(["predict", str(run / "best.pt"), str(image), "--out", str(tmp_path / "mask.jpg")]) == 2
    assert "write the label map as .nii.gz" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"modle": "gfunet"}, "unknown field(s) modle"), ({"model": "resnet"}, "use one of gfunet, attention, unet")],
)
def test_config_errors_before_training(tmp_path, dataset, capsys, fields, message):
    config = write_config(tmp_path, dataset, **fields)
    assert main(["train", "--config", str(config)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_empty_dataset_folder_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    config = write_config(tmp_path, tmp_path / "empty")
    assert main(["train", "--config", str(config)]) == 2
    assert "empty" in capsys.readouterr().err


def test_missing_checkpoint(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope.pt")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err


def test_universal_model_on_partial_datasets_end_to_end(tmp_path, dataset, capsys):
    groups = ["--group", "solid=liver,spleen", "--group", "other=kidney_left"]
    assert main(["partial", "--dataset", str(dataset), "--out", str(tmp_path / "partial"), *groups]) == 0
    solid = json.loads((tmp_path / "partial" / "solid" / "dataset.json").read_text())
    assert solid["labelled_classes"] == ["liver", "spleen"]
    partial = [str(tmp_path / "partial" / g) for g in ("solid", "other")]
    config = write_config(tmp_path, dataset, model="universal", datasets=partial)
    assert main(["train", "--config", str(config), "--no-progress"]) == 0
    run = tmp_path / "run"
    assert main(["evaluate", str(run / "last.pt"), "--out", str(tmp_path / "eval")]) == 0
    capsys.readouterr()
    assert main(["export", str(run / "last.pt"), "--out", str(tmp_path / "u.onnx")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["max_abs_diff"] <= 1e-4 * max(1.0, report["max_abs_logit"])
    assert report["architecture"] == "universal (tiny)"
    assert len(json.loads(report["classes"])) == 13  # background + the 12 prompts


def test_partial_and_prompt_errors_before_training(tmp_path, dataset, capsys):
    assert main(["partial", "--dataset", str(dataset), "--out", str(tmp_path / "p"), "--group", "x=liverr"]) == 2
    assert "unknown class(es) ['liverr']" in capsys.readouterr().err
    bad = tmp_path / "prompts.pt"
    torch.save({"classes": ["liver"], "prompts": ["a liver"], "embeddings": torch.zeros(1, 8), "encoder": "x",
                "template": "{}"}, bad)  # fmt: skip
    config = write_config(tmp_path, dataset, model="universal", prompts=str(bad))
    assert main(["train", "--config", str(config)]) == 2
    assert "prompt file's classes do not match" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_distillation_and_pruned_fine_tuning(tmp_path, dataset, capsys):
    teacher = write_config(tmp_path, dataset, epochs=1)
    assert main(["train", "--config", str(teacher), "--no-progress"]) == 0
    (tmp_path / "teacher").mkdir()
    (tmp_path / "run").rename(tmp_path / "teacher" / "run")
    best = tmp_path / "teacher" / "run" / "best.pt"
    student = write_config(tmp_path, dataset, epochs=1, teacher=str(best), out=str(tmp_path / "student"))
    assert main(["train", "--config", str(student), "--no-progress"]) == 0
    assert (tmp_path / "student" / "best.pt").exists()
    capsys.readouterr()
    assert main(["prune", str(best), "--keep", "0.5", "--out", str(tmp_path / "pruned.pt")]) == 0
    dims = json.loads(capsys.readouterr().out)["decoder_dims"]
    tune = write_config(tmp_path, dataset, epochs=1, init=str(tmp_path / "pruned.pt"), decoder_dims=dims,
                        out=str(tmp_path / "tuned"))  # fmt: skip
    assert main(["train", "--config", str(tune), "--no-progress"]) == 0
    wrong = write_config(tmp_path, dataset, model="universal", teacher=str(best))
    assert main(["train", "--config", str(wrong)]) == 2
    assert "distillation is for softmax models" in capsys.readouterr().err


def test_init_from_weights_of_another_shape_is_one_clear_error(tmp_path, dataset, capsys):
    base = write_config(tmp_path, dataset, model="universal", epochs=1)
    assert main(["train", "--config", str(base), "--no-progress"]) == 0
    narrow = tmp_path / "prompts-16.pt"
    classes = CLASSES[1:]
    torch.save({"classes": classes, "prompts": classes, "embeddings": torch.zeros(len(classes), 16), "encoder": "x",
                "template": "{}"}, narrow)  # fmt: skip
    init = str(tmp_path / "run" / "last.pt")
    tune = write_config(tmp_path, dataset, model="universal", prompts=str(narrow), init=init, out=str(tmp_path / "t"))
    assert main(["train", "--config", str(tune)]) == 2
    assert "does not fit this config's model" in capsys.readouterr().err


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "configs").rglob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_config_parses(path):
    from freqseg.config import TrainConfig

    config = TrainConfig.from_file(path)
    assert config.out.startswith("runs/") and config.dataset.startswith("data/")

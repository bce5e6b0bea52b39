import numpy as np
import pytest

from medimage import ModelFileError, ModelSpec, postprocess
from medimage.components import largest_component


def test_each_class_keeps_its_largest_piece_in_3d():
    labels = np.zeros((4, 10, 10), np.uint8)
    labels[0:3, 0:4, 0:4] = 5  # 48 voxels
    labels[3, 8:10, 8:10] = 5  # 4 voxels, apart: dropped
    labels[1, 6:8, 0:2] = 1  # a spleen in one piece stays
    labels[0, 9, 0] = 1  # touches the other spleen voxels only diagonally: a piece of its own, dropped
    out = largest_component(labels)
    assert (out[0:3, 0:4, 0:4] == 5).all() and not out[3, 8:10, 8:10].any()
    assert (out[1, 6:8, 0:2] == 1).all() and out[0, 9, 0] == 0
    assert out.dtype == np.uint8 and out.shape == labels.shape


def test_pieces_joined_across_slices_are_one():
    labels = np.zeros((3, 6, 6), np.uint8)
    labels[0, 0:2, 0:2] = 7
    labels[1, 1:3, 1:3] = 7  # overlaps slice 0 at (1, 1)
    labels[2, 4:6, 4:6] = 7
    assert (largest_component(labels) == 7).sum() == 8


def test_postprocess_by_name():
    labels = np.array([[[1, 0, 1]]], np.uint8)
    assert postprocess(labels, "none") is labels
    assert postprocess(labels, "largest-component").tolist() == [[[1, 0, 0]]]
    with pytest.raises(ValueError, match="unknown post-processing 'smooth'"):
        postprocess(labels, "smooth")


def test_model_file_metadata_carries_the_post_processing():
    spec = ModelSpec(("background", "liver"), (-175.0, 250.0), (1.5, 1.5), 16, postprocess="largest-component")
    meta = spec.to_metadata()
    assert meta["freqseg.postprocess"] == "largest-component"
    assert ModelSpec.from_metadata(meta, "m.onnx").postprocess == "largest-component"
    del meta["freqseg.postprocess"]
    assert ModelSpec.from_metadata(meta, "m.onnx").postprocess == "none"  # files from before the field
    meta["freqseg.postprocess"] = "crf"
    with pytest.raises(ModelFileError, match=r"'freqseg\.postprocess' is 'crf'"):
        ModelSpec.from_metadata(meta, "m.onnx")

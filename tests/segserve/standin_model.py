"""A stand-in for the bundled freqseg model, built with onnx.helper, with the exporter's metadata.

It is deterministic and easy to reason about: a 3x3 box filter smooths the slice,
then a 1x1 convolution gives 13 logits ``2 c_k x - c_k^2`` with ``c_k = k / 12``, so
the arg-max is the class whose centre is nearest the smoothed intensity: a flat
region of intensity ``k / 12`` is labelled ``k`` (5 = liver). ``slow`` adds that many
wide 3x3 convolutions whose output is multiplied by zero, to make inference take
time (for the overload tests) without changing the labels.

    python tests/segserve/standin_model.py OUT.onnx [--slow N]
"""

from __future__ import annotations

import argparse
import hashlib
import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CLASSES = [
    "background",
    "spleen",
    "kidney_right",
    "kidney_left",
    "gallbladder",
    "liver",
    "stomach",
    "aorta",
    "inferior_vena_cava",
    "portal_vein_and_splenic_vein",
    "pancreas",
    "adrenal_gland_right",
    "adrenal_gland_left",
]


def build(slow: int = 0, width: int = 32, postprocess: str = "none") -> onnx.ModelProto:
    c = len(CLASSES)
    centres = np.arange(c, dtype=np.float32) / (c - 1)
    inits = [
        numpy_helper.from_array(np.full((1, 1, 3, 3), 1 / 9, np.float32), "box_w"),
        numpy_helper.from_array((2 * centres).reshape(c, 1, 1, 1).astype(np.float32), "cls_w"),
        numpy_helper.from_array((-(centres**2)).astype(np.float32), "cls_b"),
    ]
    nodes = [
        helper.make_node("Conv", ["image", "box_w"], ["smooth"], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["smooth", "cls_w", "cls_b"], ["bands"]),
    ]
    out = "bands"
    if slow:
        rng = np.random.default_rng(0)
        prev, channels = "image", 1
        for i in range(slow):
            weight = rng.standard_normal((width, channels, 3, 3)).astype(np.float32) * 0.1
            inits.append(numpy_helper.from_array(weight, f"slow_w{i}"))
            nodes.append(helper.make_node("Conv", [prev, f"slow_w{i}"], [f"slow{i}"], pads=[1, 1, 1, 1]))
            prev, channels = f"slow{i}", width
        inits.append(numpy_helper.from_array(np.zeros((1,), np.float32), "zero"))
        nodes += [
            helper.make_node("ReduceMean", [prev], ["slow_mean"], keepdims=1, axes=[1]),
            helper.make_node("Mul", ["slow_mean", "zero"], ["slow_zero"]),
            helper.make_node("Add", ["bands", "slow_zero"], ["slow_out"]),
        ]
        out = "slow_out"
    nodes.append(helper.make_node("Identity", [out], ["logits"]))
    graph = helper.make_graph(
        nodes,
        "standin",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", c, "H", "W"])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    digest = hashlib.sha256(model.SerializeToString()).hexdigest()
    meta = {
        "freqseg.classes": json.dumps(CLASSES),
        "freqseg.window": json.dumps([-175, 250]),
        "freqseg.spacing": json.dumps([1.5, 1.5]),
        "freqseg.stride": "16",
        "freqseg.sha256": digest,
        "freqseg.architecture": f"stand-in: box filter + nearest-intensity classes (slow={slow})",
        "freqseg.layout": "ras-xy",
        "freqseg.postprocess": postprocess,
    }
    onnx.helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--slow", type=int, default=0, help="extra wide convolutions that only cost time")
    args = parser.parse_args()
    onnx.save(build(args.slow), args.out)


if __name__ == "__main__":
    main()

"""The universal head: shapes, the batched head against a per-sample loop, conditionings, ONNX with dynamic batch."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from freqseg.models.gfunet import config_for
from freqseg.models.universal import LEAK, UniversalConfig, UniversalGFUNet, dynamic_head


def tiny(classes: int, conditioning: str = "text", width: int = 16) -> UniversalGFUNet:
    torch.manual_seed(0)
    config = UniversalConfig(config_for("tiny", img_size=32), classes, conditioning, text_width=width, embed_width=32)
    return UniversalGFUNet(config, torch.randn(classes, width) if conditioning == "text" else None)


@pytest.mark.parametrize("conditioning", ["text", "onehot-branch", "onehot-channel"])
@pytest.mark.parametrize(("classes", "batch"), [(1, 1), (3, 2), (12, 3)])
def test_output_shapes(conditioning, classes, batch):
    model = tiny(classes, conditioning)
    out = model(torch.rand(batch, 1, 32, 48))
    assert out.shape == (batch, 1 + classes, 32, 48)
    assert (out[:, 0] == 0).all()  # the fixed background logit: argmax is a label map, 0 where no class is > 0.5


def reference_head(features, params, channels):
    """The published head: for every sample and class, three real 1x1 convolutions in a loop."""
    c = channels
    out = []
    for b in range(params.shape[0]):
        per_class = []
        for k in range(params.shape[1]):
            w1, b1, w2, b2, w3, b3 = torch.split(params[b, k], [c * c, c, c * c, c, c, 1])
            x = F.leaky_relu(F.conv2d(features[b : b + 1], w1.reshape(c, c, 1, 1), b1), LEAK)
            x = F.leaky_relu(F.conv2d(x, w2.reshape(c, c, 1, 1), b2), LEAK)
            per_class.append(F.conv2d(x, w3.reshape(1, c, 1, 1), b3)[0, 0])
        out.append(torch.stack(per_class))
    return torch.stack(out)


@pytest.mark.parametrize(("batch", "classes"), [(1, 1), (2, 5), (4, 3)])
def test_batched_head_equals_per_sample_loop(batch, classes):
    torch.manual_seed(1)
    features = torch.randn(batch, 8, 6, 10, dtype=torch.float64)
    params = torch.randn(batch, classes, UniversalConfig().head_params, dtype=torch.float64)
    assert torch.allclose(dynamic_head(features, params, 8), reference_head(features, params, 8), atol=1e-12)


def test_text_embeddings_are_frozen_and_classes_differ_only_by_them():
    model = tiny(4)
    assert "text_embeddings" not in dict(model.named_parameters())  # a buffer: the text encoder stays frozen
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        model.text_embeddings[1] = model.text_embeddings[0]  # two classes, one prompt -> one answer
        out = model.class_logits(x)
    assert torch.equal(out[:, 0], out[:, 1]) and not torch.equal(out[:, 0], out[:, 2])


def test_wrong_embedding_width_is_a_clear_error():
    config = UniversalConfig(config_for("tiny", img_size=32), 3, "text", text_width=16)
    with pytest.raises(ValueError, match=r"needs \(3, 16\)"):
        UniversalGFUNet(config, torch.randn(3, 384))
    with pytest.raises(ValueError, match="conditioning must be one of"):
        UniversalConfig(conditioning="clip")


def test_gradient_reaches_the_controller_and_the_encoder():
    model = tiny(3)
    model.class_logits(torch.rand(2, 1, 32, 32)).sum().backward()
    assert model.controller[0].weight.grad.abs().sum() > 0
    assert model.task_proj.weight.grad.abs().sum() > 0
    assert model.backbone.patch_embed.weight.grad.abs().sum() > 0


def test_exports_with_a_dynamic_batch(tmp_path):
    import onnxruntime as ort

    model = tiny(3).eval()
    model.set_transform("matmul")
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.onnx.export(
        model, (torch.rand(2, 1, 32, 32),), input_names=["image"], output_names=["logits"],
        dynamic_shapes=({0: batch},), dynamo=True, external_data=False, verbose=False,
    )  # fmt: skip
    program.save(str(tmp_path / "u.onnx"))
    session = ort.InferenceSession(str(tmp_path / "u.onnx"), providers=["CPUExecutionProvider"])
    model.set_transform("fft")
    for n in (1, 3, 5):
        x = torch.rand(n, 1, 32, 32)
        with torch.no_grad():
            expected = model(x).numpy()
        got = session.run(["logits"], {"image": x.numpy()})[0]
        assert got.shape == (n, 4, 32, 32) and np.abs(got - expected).max() <= 1e-4


def test_at_initialisation_the_head_reads_the_pixels_and_tells_the_classes_apart():
    """The collapse this guards against: generated head weights near zero (output flat over the image, so the
    backbone learns nothing) and prompt codes that share their template (every class the same head)."""
    from freqseg.prompts import DEFAULT_FILE, PromptEmbeddings

    torch.manual_seed(0)
    prompts = PromptEmbeddings.load(DEFAULT_FILE)
    model = UniversalGFUNet(UniversalConfig(config_for("tiny"), 12, "text"), prompts.embeddings)
    with torch.no_grad():
        logits = model.class_logits(torch.rand(2, 1, 64, 64))
        codes = model.task_embeddings()
    assert logits.std(dim=(2, 3)).mean() > 0.05  # 0.001 before the He-initialised head
    assert abs(logits.mean().item() - math.log(0.1 / 0.9)) < 1.0  # starts near the rare-foreground prior
    cosine = torch.nn.functional.cosine_similarity(codes[:, None], codes[None], dim=-1)
    assert cosine[~torch.eye(12, dtype=torch.bool)].mean() < 0.2  # 0.82 before centring the prompts

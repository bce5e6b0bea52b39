import pytest
import torch

from freqseg.losses import DiceCELoss
from freqseg.models.gfunet import GFUNet, GFUNetConfig, config_for


@pytest.mark.parametrize(("height", "width"), [(64, 64), (128, 128), (96, 160), (256, 256)])
def test_output_shape_at_several_input_sizes(height, width):
    model = GFUNet(config_for("tiny", img_size=64, num_classes=5))
    with torch.no_grad():
        out = model(torch.randn(2, 1, height, width))
    assert out.shape == (2, 5, height, width)


def test_input_not_a_multiple_of_the_stride_is_refused():
    model = GFUNet(config_for("tiny", img_size=64))
    with pytest.raises(ValueError, match="multiple of 16"):
        model(torch.randn(1, 1, 70, 64))


def test_every_parameter_gets_a_gradient():
    model = GFUNet(config_for("tiny", img_size=32, num_classes=3))
    loss = DiceCELoss()(model(torch.randn(2, 1, 32, 32)), torch.randint(0, 3, (2, 32, 32)))
    loss.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_fft_and_matmul_transforms_agree_in_the_model():
    torch.manual_seed(0)
    model = GFUNet(config_for("tiny", img_size=32)).eval()
    x = torch.randn(1, 1, 48, 64)
    with torch.no_grad():
        a = model(x)
        model.set_transform("matmul")
        b = model(x)
    assert (a - b).abs().max() < 1e-4


def test_attention_variant_has_the_same_interface():
    model = GFUNet(config_for("tiny", img_size=32, mixer="attention"))
    assert model(torch.randn(1, 1, 32, 32)).shape == (1, 14, 32, 32)


def test_one_training_step_lowers_the_loss_on_a_tiny_batch():
    torch.manual_seed(0)
    model = GFUNet(config_for("tiny", img_size=32, num_classes=2))
    images = torch.randn(4, 1, 32, 32)
    target = (images[:, 0] > 0.5).long()  # a learnable rule: bright pixels are class 1
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    loss_fn = DiceCELoss()
    first = loss_fn(model(images), target)
    for _ in range(5):
        optimizer.zero_grad()
        loss = loss_fn(model(images), target)
        loss.backward()
        optimizer.step()
    assert loss_fn(model(images), target).item() < first.item()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dims": (8, 16), "depths": (1,)}, "one entry per stage"),
        ({"mixer": "conv"}, "mixer"),
        ({"transform": "dft"}, "transform"),
        ({"img_size": 100}, "divisible"),
    ],
)
def test_config_errors_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GFUNetConfig(**kwargs)


def test_unknown_size_lists_the_valid_ones():
    with pytest.raises(ValueError, match="tiny, small, small-lean, small-int8, base"):
        config_for("huge")

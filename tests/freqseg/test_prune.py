"""Structured pruning of the decoder: exact at keep=1, narrower and still working below, a checkpoint to tune."""

import pytest
import torch

from freqseg.models.gfunet import GFUNet, config_for
from freqseg.prune import prune_decoder


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GFUNet(config_for("small", num_classes=5, img_size=32)).eval()


def test_keeping_every_channel_changes_nothing(model):
    x = torch.rand(2, 1, 32, 48)
    with torch.no_grad():
        assert torch.allclose(prune_decoder(model, 1.0).eval()(x), model(x), atol=1e-6)


def test_half_the_channels_is_a_narrower_dense_network(model):
    pruned = prune_decoder(model, 0.5).eval()
    assert pruned.config.decoder_dims == (64, 32, 16, 16)
    assert sum(p.numel() for p in pruned.parameters()) < 0.8 * sum(p.numel() for p in model.parameters())
    for name, value in model.state_dict().items():  # the encoder is untouched
        if name.startswith(("patch_embed", "stages", "downsamples", "stem")):
            assert torch.equal(pruned.state_dict()[name], value)
    with torch.no_grad():
        out = pruned(torch.rand(1, 1, 32, 32))
    assert out.shape == (1, 5, 32, 32) and torch.isfinite(out).all()


def test_kept_channels_are_the_largest():
    torch.manual_seed(0)
    model = GFUNet(config_for("small", num_classes=5, img_size=32))
    conv1 = model.up_blocks[0].block.body[0]
    with torch.no_grad():  # filters of growing size: the second half is the largest
        conv1.weight.mul_(torch.arange(1, conv1.out_channels + 1).float()[:, None, None, None])
    pruned = prune_decoder(model, 0.5)
    half = conv1.out_channels // 2
    assert torch.equal(pruned.up_blocks[0].block.body[0].weight, conv1.weight[half:])  # all its inputs are kept


def test_bad_keep(model):
    with pytest.raises(ValueError, match=r"keep must be in \(0, 1\]"):
        prune_decoder(model, 0.0)

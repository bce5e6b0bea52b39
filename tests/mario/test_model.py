"""The numpy forward pass (served) equals the torch model (trained)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mario.model import GPTConfig, MarioGPT  # noqa: E402
from mario.sampler import NumpyGPT  # noqa: E402


@pytest.fixture(
    params=[("factorized", True), ("factorized", False), ("absolute", False)], ids=lambda p: f"{p[0]}-{p[1]}"
)
def pair(request, tmp_path):
    torch.manual_seed(0)
    position, neighbour = request.param
    cfg = GPTConfig(
        context_columns=3,
        n_layer=2,
        n_head=2,
        n_embd=16,
        n_memory=2,
        dropout=0.0,
        position=position,
        neighbour=neighbour,
    )
    scale = np.linspace(0.5, 1.5, 384)
    model = MarioGPT(cfg, prompt_mean=np.linspace(-0.1, 0.1, 384), prompt_scale=scale).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
    model.export(tmp_path / "m.npz", dtype="float32")
    return model, NumpyGPT.load(tmp_path / "m.npz")


def test_numpy_forward_equals_torch(pair) -> None:
    model, numpy_model = pair
    x = torch.randint(0, 13, (2, 42))
    e = torch.randn(2, 384)
    with torch.no_grad():
        ref = model(x, e).numpy()
    assert np.abs(numpy_model.forward(x.numpy(), e.numpy()) - ref).max() < 1e-4


def test_cached_steps_equal_the_whole_window(pair) -> None:
    model, numpy_model = pair
    x = torch.randint(0, 13, (1, 30))
    e = torch.randn(1, 384)
    with torch.no_grad():
        ref = model(x, e).numpy()[0]
    cache = numpy_model.new_cache(e.numpy())
    parts = [numpy_model.run(x[:, :14].numpy(), cache)[0]]
    parts += [numpy_model.run(x[:, i : i + 1].numpy(), cache)[0] for i in range(14, 30)]
    assert np.abs(np.concatenate(parts) - ref).max() < 1e-4


def test_context_overflow_is_refused(pair) -> None:
    model, _ = pair
    with pytest.raises(ValueError, match="exceed the context"):
        model(torch.zeros(1, 43, dtype=torch.long), torch.zeros(1, 384))


def test_training_loss_falls_on_one_batch() -> None:
    torch.manual_seed(0)
    cfg = GPTConfig(context_columns=2, n_layer=1, n_head=2, n_embd=16, n_memory=2, dropout=0.0)
    model = MarioGPT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x = torch.randint(0, 13, (4, 29))
    e = torch.randn(4, 384)
    losses = []
    for _ in range(30):
        logits = model(x[:, :-1], e)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 13), x[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.7

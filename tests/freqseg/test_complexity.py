import math

import torch

from freqseg.complexity import TokenAttention, count_flops, mixer_table, nlogn_check
from freqseg.models.gfunet import GlobalFilter


def test_fft_flops_are_counted():
    module = GlobalFilter(4, 16, 16)
    flops = count_flops(module, torch.randn(1, 4, 16, 16))
    per_transform = 4 * 2.5 * 256 * math.log2(256)  # 4 planes of 256 points
    assert flops == 2 * per_transform  # rfft2 and irfft2


def test_attention_flops_include_the_n_squared_term():
    small = count_flops(TokenAttention(16), torch.randn(1, 16, 8, 8))
    large = count_flops(TokenAttention(16), torch.randn(1, 16, 16, 16))
    assert large / small > 6  # 4x the tokens: linear parts x4, the attention itself x16


def test_mixer_table_lists_every_mixer():
    rows = mixer_table(dim=8, size=8)
    assert [r["mixer"] for r in rows] == [
        "global filter",
        "self-attention",
        "convolution 3x3",
        "RNN (GRU)",
        "matrix multiply",
    ]
    assert all(r["flops"] > 0 and r["params"] > 0 and r["cpu_ms"] > 0 for r in rows)


def test_nlogn_check():
    rows = [{"mixer": "global filter", "size": s, "seconds": s * s * math.log2(s * s)} for s in (128, 512)]
    check = nlogn_check(rows)
    assert abs(check["measured_over_predicted"] - 1) < 1e-9


def test_the_models_own_attention_is_counted_too():
    from freqseg.models.gfunet import SelfAttention

    flops = count_flops(SelfAttention(16, 4).eval(), torch.randn(1, 16, 8, 8))
    tokens, dim = 64, 16
    assert flops == 2 * tokens * dim * 4 * dim + 4 * tokens * tokens * dim

import pytest
import torch

from freqseg.spectral import fft_filter, matmul_filter, resize_weight


@pytest.mark.parametrize(("height", "width"), [(8, 8), (7, 9), (16, 10), (32, 32), (5, 4)])
def test_matrix_form_equals_torch_fft_with_gradients(height, width):
    torch.manual_seed(0)
    x = torch.randn(2, 3, height, width, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, height, width // 2 + 1, 2, dtype=torch.float64, requires_grad=True)
    a = fft_filter(x, weight)
    b = matmul_filter(x, weight)
    assert (a - b).abs().max() < 1e-5
    grads_a = torch.autograd.grad((a * a).sum(), (x, weight))
    grads_b = torch.autograd.grad((b * b).sum(), (x, weight))
    for ga, gb in zip(grads_a, grads_b, strict=True):
        assert (ga - gb).abs().max() < 1e-5


def test_float32_agreement_at_initialisation_scale():
    torch.manual_seed(1)
    x = torch.randn(1, 8, 64, 64)
    weight = torch.randn(8, 64, 33, 2) * 0.02
    assert (fft_filter(x, weight) - matmul_filter(x, weight)).abs().max() < 1e-5


def test_identity_filter_returns_the_input():
    x = torch.randn(1, 2, 12, 10, dtype=torch.float64)
    weight = torch.zeros(2, 12, 6, 2, dtype=torch.float64)
    weight[..., 0] = 1.0
    assert torch.allclose(fft_filter(x, weight), x)
    assert torch.allclose(matmul_filter(x, weight), x)


def test_filter_is_a_circular_convolution():
    """The convolution theorem: the product in frequency is a circular convolution in space."""
    torch.manual_seed(2)
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    kernel = torch.randn(8, 8, dtype=torch.float64)
    spectrum = torch.fft.rfft2(kernel, norm="backward")  # unnormalised, so the product is the plain convolution
    weight = torch.view_as_real(spectrum).unsqueeze(0)
    expected = torch.zeros(8, 8, dtype=torch.float64)
    for i in range(8):
        for j in range(8):
            for m in range(8):
                for n in range(8):
                    expected[i, j] += x[0, 0, m, n] * kernel[(i - m) % 8, (j - n) % 8]
    assert torch.allclose(fft_filter(x, weight)[0, 0], expected)


def test_resize_weight_keeps_size_or_interpolates():
    weight = torch.randn(4, 8, 5, 2)
    assert resize_weight(weight, 8, 5) is weight
    assert resize_weight(weight, 16, 9).shape == (4, 16, 9, 2)

import numpy as np

from freqseg.models.gfunet import GFUNet, config_for
from freqseg.spectrum import filter_magnitudes, plot_filters, plot_spectrum, spectrum


def test_spectrum_is_centred():
    _, x = np.mgrid[0:32, 0:32]
    plane = np.cos(2 * np.pi * 4 * x / 32)  # a single horizontal frequency
    magnitude, phase = spectrum(plane)
    peaks = np.argwhere(magnitude > magnitude.max() * 0.9)
    assert {tuple(p) for p in peaks} == {(16, 12), (16, 20)}  # +-4 around the centre (16, 16)
    assert phase.shape == plane.shape


def test_figures_are_written(tmp_path):
    plot_spectrum(np.random.default_rng(0).random((24, 20)), tmp_path / "s.png")
    model = GFUNet(config_for("tiny", img_size=32))
    assert len(filter_magnitudes(model)) == 4
    plot_filters(model, tmp_path / "f.png")
    assert (tmp_path / "s.png").stat().st_size > 1000 and (tmp_path / "f.png").stat().st_size > 1000

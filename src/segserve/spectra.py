"""The page's spectra: a model plane's log-magnitude and phase, the view of the image the encoder works in."""

from __future__ import annotations

import numpy as np

from medimage import encode_png
from medimage.image import F32


def spectra_png(plane: F32) -> tuple[bytes, bytes]:
    """The centred log-magnitude and phase spectra of ``plane`` (a RAS+ axial plane [X, Y]) as 8-bit PNGs, shown
    as the plane is displayed radiologically (rows anterior to posterior, the patient's right on the left).

    The page shows them beside the image because the model's encoder works in the frequency domain: the
    magnitude says which scales carry energy, the phase where.
    """
    picture = plane[::-1, ::-1].T  # RAS [x, y] -> display [rows, cols]
    spectrum = np.fft.fftshift(np.fft.fft2(picture - picture.mean()))
    magnitude = np.log1p(np.abs(spectrum))
    top = float(magnitude.max()) or 1.0
    mag8 = (magnitude / top * 255).astype(np.uint8)
    phase8 = ((np.angle(spectrum) + np.pi) / (2 * np.pi) * 255).astype(np.uint8)
    return encode_png(mag8), encode_png(phase8)

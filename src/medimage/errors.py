"""One error type for every image that cannot be used, with the HTTP status a service answers it with.

Readers and the model-grid step raise these; ``freqseg`` reports them as data errors and ``segserve`` turns them
into error answers without translating each case. Every message says what was wrong and what to do.
"""

from __future__ import annotations


class ImageError(ValueError):
    """An image that cannot be read or used.

    Attributes:
        status: the HTTP status that fits (400 unreadable, 413 over a limit, 415 unsupported encoding,
            422 readable but not what the model takes).
        code: a stable machine-readable name of the problem.
    """

    status = 400
    code = "bad_input"

    def __init__(self, message: str, **detail: object) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class UnreadableImage(ImageError):
    """The bytes are not a well-formed image of a supported format (truncated, corrupt, contradictory header)."""


class UnsupportedImage(ImageError):
    """A well-formed file in an encoding or format this package does not decode (e.g. a transfer syntax)."""

    status = 415
    code = "unsupported_format"


class ImageTooLarge(ImageError):
    """Decoding or running the image would exceed a limit (pixels, voxels, slices, files, bytes)."""

    status = 413
    code = "image_too_large"


class UnusableImage(ImageError):
    """Readable, but not an input the model takes (wrong modality, non-axial single slice, oblique planes)."""

    status = 422
    code = "unusable_image"

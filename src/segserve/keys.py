"""``ResultKey``: what names one label map in the cluster, in one place.

A result depends on the model, on the only option that changes the inference (a spacing given by the caller
rather than read from the file) and on the input's bytes. The key is built and parsed here only; its text form is
the results group's key and, since it holds nothing secret beyond what the input's owner already has, a job's id,
so that any node can answer for a job whose result is in the cluster.

Text form: ``{model}-{spacing}-{digest}``: the model's SHA-256 cut to 16 hex digits, ``file`` or the spacing as
``0.8x0.8`` (mm along x, then y), and the input's SHA-256 (64 hex digits). Nothing else parses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from segserve.errors import ServiceError, clip

MODEL_DIGITS = 16
_NUMBER = r"\d+(?:\.\d+)?(?:e[-+]?\d+)?"
_PATTERN = re.compile(rf"([0-9a-f]{{{MODEL_DIGITS}}})-(file|{_NUMBER}x{_NUMBER})-([0-9a-f]{{64}})")


@dataclass(frozen=True)
class ResultKey:
    """One label map: ``model`` (16 hex digits), ``spacing`` (mm along x and y, or None: the file's own) and the
    input's SHA-256 ``digest``."""

    model: str
    spacing: tuple[float, float] | None
    digest: str

    def __str__(self) -> str:
        spacing = "file" if self.spacing is None else f"{self.spacing[0]:g}x{self.spacing[1]:g}"
        return f"{self.model}-{spacing}-{self.digest}"

    @classmethod
    def parse(cls, text: str) -> ResultKey:
        """The key a text names; a text that is not one answers 404 ``unknown_job`` (it names nothing here)."""
        match = _PATTERN.fullmatch(text)
        if match is None:
            raise not_a_job(text)
        model, spacing, digest = match.groups()
        if spacing == "file":
            return cls(model, None, digest)
        x, y = spacing.split("x")
        return cls(model, (float(x), float(y)), digest)


def not_a_job(text: str) -> ServiceError:
    """404 ``unknown_job`` for a text that cannot be a job's id (quoted clipped)."""
    return ServiceError(
        404, "unknown_job", f"{clip(repr(text))} is not a job id: use the 'id' that submitting the input answered"
    )

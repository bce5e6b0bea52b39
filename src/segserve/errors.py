"""One error type for every answer that is not a result, shared by HTTP and TCP.

Each carries the HTTP status, a stable machine-readable ``code`` and a message that
says what was wrong and what to do, so both transports report the same thing.
"""

from __future__ import annotations

from typing import Any

from medimage import ImageError


class ServiceError(Exception):
    """A request the service answers with an error (HTTP status + JSON body, or a TCP error frame)."""

    def __init__(self, status: int, code: str, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.detail}


ECHO_CHARS = 100
"""Characters of a client's input an error message may quote: enough to recognise it, never the payload."""


def clip(text: str) -> str:
    """``text`` cut to ``ECHO_CHARS`` characters, saying how long it was, for error messages that quote a client."""
    return text if len(text) <= ECHO_CHARS else f"{text[:ECHO_CHARS]}... ({len(text)} characters)"


def bad_input(message: str, **detail: Any) -> ServiceError:
    """400: the input cannot be read as an image the model accepts."""
    return ServiceError(400, "bad_input", message, **detail)


def image_error(error: ImageError) -> ServiceError:
    """An image the contract refused, answered with the status and code the contract gave it."""
    return ServiceError(error.status, error.code, error.message, **error.detail)


class ModelError(RuntimeError):
    """The model file cannot be served (missing, not ONNX, or without the freqseg metadata)."""

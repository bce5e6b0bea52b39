"""Errors a handler raises to answer with a status, and the one that says the client left."""

from __future__ import annotations

from typing import Any


class HTTPError(Exception):
    """Stops the handler and answers ``status`` with a JSON body ``{"error": message, ...detail}``.

    Raised by the request helpers (malformed JSON, body too large, failed bind) and
    free for handlers to raise. The chain is aborted, so outer middleware still run
    their after-part and see the status, as they would after ``abort_with_json``.
    """

    def __init__(self, status: int, message: str, **detail: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail

    def body(self) -> dict[str, Any]:
        return {"error": self.message, **self.detail}


class ClientDisconnected(Exception):
    """The client went away while its request body was being read: there is no one to answer.

    Raised by the body readers (``c.body()``, ``c.form()``, ...); the engine ends the request without a response.
    Handlers catch it only to record the abandoned request, then re-raise it.
    """

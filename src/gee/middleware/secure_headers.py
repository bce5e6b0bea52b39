"""Hardening headers on every answer: no MIME sniffing, no framing, no referrer, and a Content-Security-Policy.

``X-Content-Type-Options: nosniff`` keeps a browser from running an answer as another type than it says (an
uploaded file served back, a JSON error shown as HTML); the policy lets a page load scripts only from its own
origin, so an injected ``<script>`` does not run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gee.headers import field_value

if TYPE_CHECKING:
    from gee.context import Context
    from gee.types import Handler

DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def secure_headers(csp: str = DEFAULT_CSP) -> Handler:
    """Set ``X-Content-Type-Options``, ``X-Frame-Options``, ``Referrer-Policy`` and ``Content-Security-Policy``
    (``csp``; empty: none) before the handlers run, so error answers carry them too."""
    field_value("content-security-policy", csp)  # a policy HTTP cannot carry fails here, not on every request

    async def harden(c: Context) -> None:
        c.header("x-content-type-options", "nosniff")
        c.header("x-frame-options", "DENY")
        c.header("referrer-policy", "no-referrer")
        if csp:
            c.header("content-security-policy", csp)

    return harden

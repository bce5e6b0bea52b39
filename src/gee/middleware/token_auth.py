"""An API token, accepted as ``Authorization: Bearer TOKEN`` or as the password of HTTP Basic authentication.

Programs send the bearer form (RFC 6750); a browser, asked with ``WWW-Authenticate: Basic``, prompts once and then
sends the token with every request of the page (RFC 7617), so one secret guards the API and its page alike.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import TYPE_CHECKING

from gee.headers import field_value

if TYPE_CHECKING:
    from gee.context import Context
    from gee.types import Handler


def token_auth(token: str, realm: str = "api") -> Handler:
    """Answer 401 (with a Basic challenge) unless the request carries ``token``; compared in constant time."""
    if len(token) < 16:
        raise ValueError("an API token must be at least 16 characters; make one with `make secret`")
    expected = token.encode()
    challenge = f'Basic realm="{realm}", charset="UTF-8"'
    field_value("www-authenticate", challenge)  # a realm HTTP cannot carry fails here, not on every request

    async def authenticate(c: Context) -> None:
        scheme, _, value = c.headers.get("authorization", "").partition(" ")
        given = b""
        if scheme.lower() == "bearer":
            given = value.strip().encode("latin-1", "replace")
        elif scheme.lower() == "basic":
            try:
                given = base64.b64decode(value.strip(), validate=True).partition(b":")[2]
            except (binascii.Error, ValueError):
                given = b""
        if not hmac.compare_digest(given, expected):
            c.header("www-authenticate", challenge)
            c.abort_with_status(401)
            c.json(
                401, {"error": {"code": "unauthorized", "message": "send the API token: Authorization: Bearer TOKEN"}}
            )

    return authenticate

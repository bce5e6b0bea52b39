"""HTTP Basic authentication, with constant-time comparison of credentials."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gee.headers import field_value

if TYPE_CHECKING:
    from gee.context import Context
    from gee.types import Handler

AUTH_USER_KEY = "user"


def basic_auth(accounts: Mapping[str, str], realm: str = "Authorization Required") -> Handler:
    """Answer 401 unless the request carries one of ``accounts`` (user -> password).

    Like Gin, the expected ``Authorization`` values are computed once and compared
    in constant time against every account, so timing reveals neither the user
    nor how much of a password matched. The user is stored under ``c.get("user")``.
    """
    if not accounts:
        raise ValueError("basic_auth needs at least one user -> password pair")
    expected = []
    for user, password in accounts.items():
        if ":" in user:
            raise ValueError(f"basic_auth user {user!r} cannot contain ':'")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        expected.append((f"Basic {token}".encode(), user))
    challenge = f'Basic realm="{realm}", charset="UTF-8"'
    field_value("www-authenticate", challenge)  # a realm HTTP cannot carry fails here, not on every request

    async def authenticate(c: Context) -> None:
        given = c.headers.get("authorization", "").encode("latin-1")
        found = None
        for value, user in expected:
            if hmac.compare_digest(given, value):
                found = user
        if found is None:
            c.header("www-authenticate", challenge)
            c.abort_with_status(401)
            return
        c.set(AUTH_USER_KEY, found)

    return authenticate

"""Request data into values: JSON bodies, and validation into a pydantic model, a dataclass or a TypedDict.

The functions take data (bytes, a content type, parsed fields), never the context: ``c.bind`` reads the body
through the source every reader shares (``c.read_json()`` or ``c.form()``) and hands the result here.
Validation is pydantic's; failures answer 400 with every field error, so the client can fix them all in one go.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from gee.errors import HTTPError

if TYPE_CHECKING:
    from pydantic import TypeAdapter

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@lru_cache(maxsize=256)
def _adapter(model: Any) -> TypeAdapter[Any]:
    from pydantic import TypeAdapter

    return TypeAdapter(model)


def validate(model: Any, data: Any) -> Any:
    """``data`` validated into ``model``; 400 listing every field error."""
    from pydantic import ValidationError

    try:
        result = _adapter(model).validate_python(data)
    except ValidationError as exc:
        fields = [
            {"field": ".".join(str(part) for part in error["loc"]) or "(body)", "message": error["msg"]}
            for error in exc.errors(include_url=False)
        ]
        name = getattr(model, "__name__", str(model))
        raise HTTPError(400, f"{len(fields)} invalid field(s) for {name}", fields=fields) from exc
    return result


def parse_json(raw: bytes) -> Any:
    """A JSON body (RFC 8259, UTF-8 as its section 8.1 requires); 400 naming the problem and where it is."""
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise HTTPError(400, f"request body is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise HTTPError(
            400, f"malformed JSON in request body: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc


def is_form(content_type: str) -> bool:
    """Whether ``bind`` reads a body of ``content_type`` (a media type, lower-case) as a form rather than JSON;
    415 for a type it reads as neither."""
    if content_type in FORM_TYPES:
        return True
    if content_type == "application/json" or content_type.endswith("+json"):
        return False
    raise HTTPError(
        415,
        f"cannot bind a body of content type {content_type or 'none'!r}; "
        "send application/json, application/x-www-form-urlencoded or multipart/form-data",
    )

"""``c.bind``: validate request data into a pydantic model, a dataclass or a TypedDict.

Validation is pydantic's; failures answer 400 with every field error, so the
client can fix them all in one go.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from gee.errors import HTTPError

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from gee.context import Context

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@lru_cache(maxsize=256)
def _adapter(model: Any) -> TypeAdapter[Any]:
    from pydantic import TypeAdapter

    return TypeAdapter(model)


def validate(model: Any, data: Any) -> Any:
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


async def bind_body(c: Context, model: Any) -> Any:
    kind = c.content_type
    if kind == "application/json" or kind.endswith("+json"):
        return validate(model, await c.read_json())
    if kind in FORM_TYPES:
        return validate(model, (await c.form()).to_dict())
    raise HTTPError(
        415,
        f"cannot bind a body of content type {kind or 'none'!r}; "
        "send application/json, application/x-www-form-urlencoded or multipart/form-data",
    )

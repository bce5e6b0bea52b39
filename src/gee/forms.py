"""Form bodies: URL-encoded fields, and multipart fields with uploaded files.

The parser takes the request's headers and its body as a stream of bytes, as Starlette's form parsers do, so it
knows nothing of the context; ``c.form()`` hands it the body source that every reader shares. Multipart parsing
is python-multipart's; files go to a SpooledTemporaryFile. Names are UTF-8 (RFC 7578 section 4.2: a field name
or file name in another script is sent as its UTF-8 bytes), and a body that ends before its closing boundary is
refused (400) rather than losing its last part.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from gee.errors import HTTPError

MAX_FIELDS = 1000
MAX_FILES = 100
SPOOL_BYTES = 1 << 20


class UploadFile:
    """An uploaded file: its name and type as the client sent them, and its bytes."""

    def __init__(self, filename: str, content_type: str, headers: dict[str, str]):
        self.filename = filename
        self.content_type = content_type
        self.headers = headers
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed with the form
        self.size = 0

    async def read(self, size: int = -1) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(None, self.file.read, size)

    def seek(self, offset: int) -> None:
        self.file.seek(offset)

    def close(self) -> None:
        self.file.close()

    def __repr__(self) -> str:
        return f"UploadFile(filename={self.filename!r}, content_type={self.content_type!r}, size={self.size})"


class Form(Mapping[str, "str | UploadFile"]):
    """Form fields in order; ``form[name]`` is the first value, ``get_all`` gives every one."""

    def __init__(self, items: list[tuple[str, str | UploadFile]]):
        self._items = items

    def __getitem__(self, name: str) -> str | UploadFile:
        for key, value in self._items:
            if key == name:
                return value
        raise KeyError(name)

    def get_all(self, name: str) -> list[str | UploadFile]:
        return [value for key, value in self._items if key == name]

    def items_list(self) -> list[tuple[str, str | UploadFile]]:
        return list(self._items)

    @property
    def files(self) -> dict[str, UploadFile]:
        return {k: v for k, v in self._items if isinstance(v, UploadFile)}

    def to_dict(self) -> dict[str, Any]:
        """Fields with one value as that value, repeated fields as lists (what ``bind`` validates)."""
        out: dict[str, Any] = {}
        for key, value in self._items:
            if key in out:
                previous = out[key]
                out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                out[key] = value
        return out

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(k for k, _ in self._items))

    def __len__(self) -> int:
        return len(dict.fromkeys(k for k, _ in self._items))

    def close(self) -> None:
        for _, value in self._items:
            if isinstance(value, UploadFile):
                value.close()


async def parse_form(headers: Mapping[str, str], body: AsyncIterable[bytes]) -> Form:
    """The form in ``body``, by the ``Content-Type`` in ``headers``: 415 for another type, 400 when malformed."""
    content_type, options = parse_options_header(headers.get("content-type", ""))
    kind = content_type.decode("latin-1").lower()
    if kind == "application/x-www-form-urlencoded":
        return _parse_urlencoded(b"".join([chunk async for chunk in body]))
    if kind == "multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise HTTPError(400, "multipart/form-data request has no boundary in its Content-Type")
        return await _parse_multipart(boundary, body)
    raise HTTPError(
        415,
        f"cannot read a form from content type {kind or 'none'!r}; "
        "send application/x-www-form-urlencoded or multipart/form-data",
    )


def _parse_urlencoded(raw: bytes) -> Form:
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
    except UnicodeDecodeError as exc:
        raise HTTPError(400, f"form body is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    except ValueError as exc:
        raise HTTPError(400, f"form body has more than {MAX_FIELDS} fields") from exc
    return Form(list(pairs))


def _utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPError(400, f"multipart {what} is not UTF-8 (RFC 7578 section 4.2): {raw!r}") from exc


class _MultipartCollector:
    """Receives python-multipart's callbacks and builds the form's items."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str | UploadFile]] = []
        self.header_field = b""
        self.header_value = b""
        self.raw_headers: dict[str, bytes] = {}
        self.data = bytearray()
        self.upload: UploadFile | None = None
        self.name = ""
        self.files = 0

    def on_part_begin(self) -> None:
        self.raw_headers = {}
        self.data = bytearray()
        self.upload = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.raw_headers[self.header_field.decode("latin-1").lower()] = self.header_value
        self.header_field = b""
        self.header_value = b""

    def on_headers_finished(self) -> None:
        # Parsed as Latin-1, which keeps every byte, so that the names' UTF-8 bytes come back whole.
        disposition, options = parse_options_header(self.raw_headers.get("content-disposition", b"").decode("latin-1"))
        if disposition != b"form-data" or b"name" not in options:
            raise HTTPError(400, "multipart part has no 'Content-Disposition: form-data; name=...' header")
        self.name = _utf8(options[b"name"], "field name")
        if len(self.items) >= MAX_FIELDS:
            raise HTTPError(400, f"multipart body has more than {MAX_FIELDS} parts")
        if b"filename" in options:
            self.files += 1
            if self.files > MAX_FILES:
                raise HTTPError(400, f"multipart body has more than {MAX_FILES} files")
            filename = _utf8(options[b"filename"], "file name")
            headers = {name: _text(value) for name, value in self.raw_headers.items()}
            content_type = headers.get("content-type", "application/octet-stream")
            self.upload = UploadFile(filename, content_type, headers)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.upload is not None:
            self.upload.file.write(data[start:end])
            self.upload.size += end - start
        else:
            self.data += data[start:end]

    def close(self) -> None:
        """Close the files of a form that will not be handed out, the one being received included."""
        Form(self.items).close()
        if self.upload is not None:
            self.upload.close()

    def on_part_end(self) -> None:
        if self.upload is not None:
            self.upload.file.seek(0)
            self.items.append((self.name, self.upload))
            return
        try:
            self.items.append((self.name, self.data.decode("utf-8")))
        except UnicodeDecodeError as exc:
            raise HTTPError(400, f"multipart field {self.name!r} is not UTF-8") from exc


def _text(value: bytes) -> str:
    """A part's header value: UTF-8 as RFC 7578 sends it, else the bytes one to one (Latin-1)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


async def _parse_multipart(boundary: bytes, body: AsyncIterable[bytes]) -> Form:
    collector = _MultipartCollector()
    callbacks: Any = {
        name: getattr(collector, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    parser = MultipartParser(boundary, callbacks)
    try:
        try:
            async for chunk in body:
                parser.write(chunk)
            parser.finalize()
        except MultipartParseError as exc:
            raise HTTPError(400, f"malformed multipart body: {exc}") from exc
        if parser.state != MultipartState.END:
            raise HTTPError(
                400,
                f"multipart body ends before its closing boundary '--{boundary.decode('latin-1')}--': "
                "it was cut short; send the whole body",
            )
    except BaseException:
        collector.close()
        raise
    return Form(collector.items)

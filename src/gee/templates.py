"""Jinja2 templates for ``c.html``: HTML is autoescaped, filters and globals are the user's."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import jinja2


class Templates:
    def __init__(
        self,
        directory: str,
        *,
        filters: dict[str, Callable[..., Any]] | None = None,
        globals: dict[str, Any] | None = None,
    ):
        if not os.path.isdir(directory):
            raise ValueError(f"template directory {directory!r} does not exist or is not a directory")
        self.directory = directory
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory),
            autoescape=jinja2.select_autoescape(["html", "htm", "xml"], default_for_string=True),
        )
        self.env.filters.update(filters or {})
        self.env.globals.update(globals or {})

    def add_filter(self, name: str, fn: Callable[..., Any]) -> None:
        self.env.filters[name] = fn

    def add_global(self, name: str, value: Any) -> None:
        self.env.globals[name] = value

    def render(self, name: str, context: dict[str, Any]) -> str:
        try:
            template = self.env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            known = ", ".join(self.env.list_templates()) or "none"
            raise LookupError(f"template {name!r} not found in {self.directory!r}; templates there: {known}") from exc
        return template.render(context)

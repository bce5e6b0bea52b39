"""Every ```python block in docs/*.md runs, in order, in one namespace per page."""

from __future__ import annotations

import pathlib
import re
import sys
import types

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```(?P<info>[^\n]*)\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(page: pathlib.Path) -> list[tuple[int, str]]:
    text = page.read_text()
    blocks = []
    for match in BLOCK.finditer(text):
        if match.group("info").strip() == "python":
            line = text.count("\n", 0, match.start()) + 2
            blocks.append((line, match.group("code")))
    return blocks


PAGES = sorted(p for p in DOCS.glob("*.md") if python_blocks(p))


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_examples_run(page: pathlib.Path) -> None:
    # A real module, so that dataclasses and pydantic can look their module up.
    module = types.ModuleType(f"docs_{page.stem}")
    sys.modules[module.__name__] = module
    try:
        for line, code in python_blocks(page):
            # Pad with newlines so a traceback points at the line in the Markdown file.
            exec(compile("\n" * (line - 1) + code, str(page), "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]

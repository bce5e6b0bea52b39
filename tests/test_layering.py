"""Imports flow one way: segserve -> gee, geecache; geecache -> gee; freqseg and gee stand alone."""

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"
PACKAGES = {"gee", "geecache", "freqseg", "segserve", "mario"}
ALLOWED = {
    "gee": set(),
    "geecache": {"gee"},
    "freqseg": set(),
    "segserve": {"gee", "geecache"},
    "mario": {"gee"},
}


def imported_packages(package: str) -> set[str]:
    found = set()
    for path in (SRC / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            found.update(name.split(".")[0] for name in names)
    return (found & PACKAGES) - {package}


@pytest.mark.parametrize("package", sorted(p.name for p in SRC.iterdir() if p.name in PACKAGES))
def test_imports_flow_one_way(package: str) -> None:
    assert imported_packages(package) <= ALLOWED[package]

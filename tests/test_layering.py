"""Imports flow one way, between packages and between the modules of each package, and images are read in one place.

segserve -> gee, geecache, medimage; geecache -> gee; freqseg -> medimage; mario -> gee; medimage and gee stand
alone. Inside a package no two modules import each other, directly or around a circle (lazy imports inside
functions count: a circle there is a circle all the same). Outside ``medimage``, nothing in the medical half imports
an image reader or resampler: one scan must reach training and serving through the same code.
"""

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"
PACKAGES = {"gee", "geecache", "freqseg", "segserve", "mario", "medimage"}
ALLOWED = {
    "gee": set(),
    "geecache": {"gee"},
    "freqseg": {"medimage"},
    "segserve": {"gee", "geecache", "medimage"},
    "mario": {"gee"},
    "medimage": set(),
}
IMAGE_LIBRARIES = {"nibabel", "pydicom", "highdicom", "SimpleITK", "PIL", "skimage", "cv2", "imageio", "scipy.ndimage"}


def imports(path: pathlib.Path) -> set[str]:
    """Every module ``path`` imports at run time (dotted names; ``from a import b`` counts ``a`` and ``a.b``);
    imports only for type checkers (``if TYPE_CHECKING:``) are not counted."""
    found = set()
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_packages_import_one_way(package: str) -> None:
    used = {name.split(".")[0] for path in (SRC / package).rglob("*.py") for name in imports(path)}
    assert (used & PACKAGES) - {package} <= ALLOWED[package]


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_module_circles(package: str) -> None:
    modules = {module_name(p): p for p in (SRC / package).rglob("*.py")}
    edges = {
        name: {m for m in imports(path) if m in modules and m != name and not name.startswith(m + ".")}
        for name, path in modules.items()
        if name != package  # the package's __init__ re-exports; it is imported, never imports back
    }

    def visit(name: str, trail: list[str]) -> None:
        for target in edges.get(name, ()):
            assert target not in trail, f"import circle: {' -> '.join([*trail[trail.index(target) :], target])}"
            visit(target, [*trail, target])

    for name in edges:
        visit(name, [name])


@pytest.mark.parametrize("package", ["freqseg", "segserve"])
def test_only_medimage_reads_or_resamples_images(package: str) -> None:
    offenders = {
        str(path.relative_to(SRC)): sorted(
            name for name in imports(path) if name in IMAGE_LIBRARIES or name.split(".")[0] in IMAGE_LIBRARIES
        )
        for path in (SRC / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}

"""The house's plan, kept: one-way imports between the rooms (docs/architecture.md), no import
circles (lazy and TYPE_CHECKING imports included), and a package list that matches the folders."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("estimators", "strategies", "loop", "ui")

# Each room and the rooms it may import (besides itself). Read top down: a room may import only
# rooms below it. loop.errors is a leaf every room may import.
MAY_IMPORT = {
    "nudge.estimators": set(),
    "nudge.strategies": {"nudge.estimators"},
    "nudge.loop.errors": set(),
    "nudge.loop.compute": {"nudge.estimators", "nudge.strategies"},
    "nudge.loop.store": set(),
    "nudge.loop.datasets": {"nudge.estimators", "nudge.loop.compute"},
    "nudge.loop.stopping": {"nudge.estimators", "nudge.loop.store", "nudge.loop.datasets"},
    "nudge.loop.config": {"nudge.estimators", "nudge.strategies", "nudge.loop.datasets", "nudge.loop.stopping",
                          "nudge.loop.store"},
    "nudge.loop.training": {"nudge.estimators", "nudge.strategies", "nudge.loop.compute", "nudge.loop.store",
                            "nudge.loop.datasets", "nudge.loop.config"},
    "nudge.loop.session": {"nudge.estimators", "nudge.strategies", "nudge.loop.compute", "nudge.loop.store",
                           "nudge.loop.datasets", "nudge.loop.config", "nudge.loop.training",
                           "nudge.loop.stopping"},
}
BELOW_SESSION = set(MAY_IMPORT) | {"nudge.loop.session"}
MAY_IMPORT |= {
    "nudge.loop.service": BELOW_SESSION,
    "nudge.loop.simulation": BELOW_SESSION,
    "nudge.loop.export": BELOW_SESSION,
}
MAY_IMPORT["nudge.loop.cli"] = set(MAY_IMPORT) - {"nudge.loop.service"}
MAY_IMPORT["nudge.loop"] = set(MAY_IMPORT)  # the package's front door re-exports the research API
MAY_IMPORT["nudge.ui"] = set(MAY_IMPORT) - {"nudge.loop.simulation"}


def modules() -> dict[str, Path]:
    found = {}
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found["nudge." + ".".join(parts)] = path
    return found


def imported(path: Path, known: dict[str, Path]) -> set[str]:
    """The nudge modules a file imports anywhere in it (functions and TYPE_CHECKING blocks too)."""
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nudge"):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                targets.add(submodule if submodule in known else node.module)
        elif isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names if alias.name.startswith("nudge")}
    return targets


def room(module: str) -> str:
    """The room a module belongs to: the longest key of MAY_IMPORT it starts with."""
    rooms = [r for r in MAY_IMPORT if module == r or module.startswith(r + ".")]
    assert rooms, f"{module} is in no room of docs/architecture.md"
    return max(rooms, key=len)


def test_every_import_points_down_the_plan():
    known = modules()
    wrong = []
    for module, path in known.items():
        here = room(module)
        for target in imported(path, known):
            there = room(target)
            if there != here and there not in MAY_IMPORT[here] | {"nudge.loop.errors"}:
                wrong.append(f"{module} imports {target} ({here} may not import {there})")
    assert wrong == []


def test_no_module_imports_itself_back_in_a_circle():
    known = modules()
    edges = {module: {t for t in imported(path, known) if t in known and not module.startswith(t + ".")}
             for module, path in known.items()}
    visiting, done, circles = set(), set(), []

    def visit(module: str, trail: list[str]) -> None:
        if module in visiting:
            circles.append(trail[trail.index(module):] + [module])
            return
        if module in done:
            return
        visiting.add(module)
        for target in sorted(edges[module]):
            visit(target, trail + [module])
        visiting.discard(module)
        done.add(module)

    for module in sorted(edges):
        visit(module, [])
    assert circles == []


def test_the_distribution_lists_every_package_and_maps_the_folders_under_nudge():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    folders = {"nudge." + ".".join(path.parent.relative_to(ROOT).parts)
               for folder in FOLDERS for path in (ROOT / folder).rglob("__init__.py")}
    assert set(setuptools["packages"]) == folders
    assert setuptools["package-dir"] == {f"nudge.{folder}": folder for folder in FOLDERS}


@pytest.mark.parametrize("folder", FOLDERS)
def test_no_file_imports_a_bare_top_level_name_of_ours(folder):
    """`import loop` would work from the checkout only (and load a second copy of every module)."""
    bare = []
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            bare += [f"{path.relative_to(ROOT)}: {n}" for n in names if n and n.split(".")[0] in FOLDERS]
    assert bare == []

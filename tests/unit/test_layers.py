"""The controller's layers import downwards only (docs/architecture.md, "The controller's layers").

actions -> conductor -> compute_api -> resources -> store: a module may import its own layer and
those below it. So the read views (compute_api) never import the write side (conductor), and
nothing shipped to hypervisors (module_utils) imports controller code.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_UTILS = ROOT / "plugins" / "plugin_utils"
PREFIX = "ansible_collections.stratus.compute.plugins."
LAYERS = ["store", "resources", "compute_api", "conductor", "actions"]  # bottom first


def _imports(path: Path) -> set[str]:
    """Every collection module a file imports (absolute names below plugins.)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            base = node.module[len(PREFIX):]
            found.update("%s.%s" % (base, alias.name) for alias in node.names)
            found.add(base)
        elif isinstance(node, ast.Import):
            found.update(a.name[len(PREFIX):] for a in node.names if a.name.startswith(PREFIX))
    return found


def _layer_of(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] == "plugin_utils" and len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return None


def test_every_plugin_utils_module_is_in_a_layer() -> None:
    loose = [p.name for p in PLUGIN_UTILS.glob("*.py") if p.name != "__init__.py"]
    assert not loose, "plugin_utils/ holds only layer folders: %s" % loose
    assert sorted(p.name for p in PLUGIN_UTILS.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(LAYERS)


@pytest.mark.parametrize("path", sorted(PLUGIN_UTILS.rglob("*.py")), ids=lambda p: str(p.relative_to(PLUGIN_UTILS)))
def test_a_layer_imports_only_itself_and_below(path: Path) -> None:
    own = path.relative_to(PLUGIN_UTILS).parts[0]
    if own not in LAYERS:
        return
    above = set(LAYERS[LAYERS.index(own) + 1:])
    wrong = sorted(n for n in _imports(path) if _layer_of(n) in above)
    assert not wrong, "%s (layer %s) imports from a layer above it: %s" % (path.relative_to(ROOT), own, wrong)


@pytest.mark.parametrize("path", sorted((ROOT / "plugins" / "module_utils").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_hypervisor_code_imports_no_controller_code(path: Path) -> None:
    wrong = sorted(n for n in _imports(path) if n.startswith("plugin_utils"))
    assert not wrong, "%s is shipped to hypervisors but imports %s" % (path.relative_to(ROOT), wrong)

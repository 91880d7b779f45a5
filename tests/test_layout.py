"""The folder map of docs/layout.md, enforced: every import goes down the layers, no module cycle.

Each top-level folder is one subpackage (``golden/`` is ``subtile.golden``). A module may import
from its own folder and from the folders its layer lists in :data:`ALLOWED`; lazy imports inside
functions count like top-level ones, since they are dependencies all the same.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: folder -> the folders its modules may import from (besides their own). "base" is subtile/
#: without its __init__ (errors, the result store), which every layer may use.
ALLOWED: dict[str, set[str]] = {
    "base": set(),
    "spec": {"base"},
    "golden": {"base", "spec"},
    "hdl": {"base", "spec"},
    "toolchain": {"base"},
    "tech": {"base"},
    "gen": {"base", "spec", "hdl", "tech", "toolchain"},
    "sim": {"base", "spec", "golden", "hdl", "gen", "toolchain"},
    "power": {"base", "spec", "golden", "hdl", "gen", "tech", "toolchain", "sim"},
    "mutate": {"base", "spec", "golden", "hdl", "gen", "toolchain", "sim"},
    "network": {"base", "spec", "golden", "hdl", "gen", "tech", "toolchain", "sim", "power"},
    "workloads": {"base", "spec", "golden", "hdl", "gen", "tech", "toolchain", "sim", "power", "network"},
    "explore": {"base", "spec", "golden", "hdl", "gen", "tech", "toolchain", "sim", "power", "network",
                "workloads"},
    "cli": {"base", "spec", "golden", "hdl", "gen", "tech", "toolchain", "sim", "power", "mutate",
            "network", "workloads", "explore"},
}
#: subtile/__init__.py (the names re-exported at the top) and subtile/__main__.py (python -m subtile)
#: stand above everything: nothing inside imports them.
ALLOWED["api"] = set(ALLOWED) | {"cli"}


def _package_dirs() -> dict[str, str]:
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["tool"]["setuptools"]["package-dir"]


def _modules() -> dict[str, Path]:
    modules = {}
    for package, folder in _package_dirs().items():
        for path in sorted((ROOT / folder).glob("*.py")):
            modules[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return modules


def _layer(module: str) -> str:
    parts = module.split(".")
    if module in ("subtile", "subtile.__main__"):
        return "api"
    if len(parts) == 2 and f"subtile.{parts[1]}" not in _package_dirs():
        return "base"
    return parts[1]


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The subtile modules ``module`` imports, resolved to module names."""
    package = module if path.stem == "__init__" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] + [f"{target}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name.startswith("subtile") and name != module:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {module: _imports(module, path, set(modules)) for module, path in modules.items()}


def test_every_folder_is_a_package_with_a_layer():
    assert set(_layer(m) for m in _modules()) <= set(ALLOWED)
    for package, folder in _package_dirs().items():
        assert (ROOT / folder / "__init__.py").is_file(), f"{folder}/ has no __init__.py"


def test_imports_go_down_the_layers():
    wrong = []
    for module, targets in _graph().items():
        for target in targets:
            if _layer(target) == "api":
                wrong.append(f"{module} imports the package facade subtile/__init__.py")
                continue
            src, dst = _layer(module), _layer(target)
            if src != dst and dst not in ALLOWED[src]:
                wrong.append(f"{module} ({src}) imports {target} ({dst})")
    assert not wrong, "imports against docs/layout.md:\n" + "\n".join(sorted(wrong))


def test_no_module_cycles():
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_folder_map_in_docs_lists_every_folder():
    text = (ROOT / "docs" / "layout.md").read_text()
    for folder in _package_dirs().values():
        assert f"`{folder}/`" in text, f"docs/layout.md does not describe {folder}/"


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_allowed_map_has_no_upward_cycle(layer):
    """The allowed map itself is a partial order (no two layers may import each other)."""
    seen, todo = set(), [layer]
    while todo:
        for dep in ALLOWED[todo.pop()]:
            assert dep != layer, f"{layer} can reach itself through the allowed map"
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)

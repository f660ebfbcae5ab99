"""The layers hold: no import cycle among the SDK's modules or its sub-packages, and calibration stays a tool.

Imports are read with `ast`, function-level ones included: a lazy import only hides a cycle until the
function runs. `backends/` and `calibration/` install as `edge_sdk.backends` and `edge_sdk.calibration`
(setup.py), so their modules are named that way here too.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Folder in the checkout → the package it installs as (the same mapping as setup.py's package_dir).
PACKAGE_FOLDERS = {"edge_sdk": "edge_sdk", "edge_sdk.backends": "backends", "edge_sdk.calibration": "calibration"}
SUBPACKAGES = tuple(
    f"edge_sdk.{name}" for name in ("backends", "bundle", "calibration", "deploy", "bench", "train", "scaleout")
)
# Calibration runs when a bundle is exported (or from its own command), never at inference time: only these
# modules may import it. The two PT2E backends apply a recipe while exporting, with calibration's quantizer.
CALIBRATION_USERS = {
    "edge_sdk.cli",
    "edge_sdk.bundle.cli",
    "edge_sdk.bundle.export",
    "edge_sdk.bundle.calibrate",
    "edge_sdk.backends.executorch.quantize",
    "edge_sdk.backends.coreml.quantize",
}


def project_modules() -> dict[str, Path]:
    modules = {}
    for package, folder in PACKAGE_FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


def imported_names(module: str, path: Path) -> set[str]:
    """Every dotted name `module` imports, at any depth of the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            # `from a import b` imports the module a.b when there is one, else a name of a.
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports (a name resolves to its longest known module prefix)."""
    modules = project_modules()
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(module, path):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def subpackage_of(module: str):
    return next((p for p in SUBPACKAGES if module == p or module.startswith(p + ".")), None)


def test_the_graph_sees_installed_names_and_function_level_imports():
    graph = import_graph()
    assert "edge_sdk.backends.registry" in graph and "edge_sdk.calibration.recipe" in graph
    assert "edge_sdk.bundle.cli" in graph["edge_sdk.cli"]  # imported inside a function
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_modules():
    assert cycles(import_graph()) == []


def test_no_import_cycle_among_subpackages():
    edges: dict[str, set[str]] = {p: set() for p in SUBPACKAGES}
    reasons = {}
    for module, targets in import_graph().items():
        for target in targets:
            source_package, target_package = subpackage_of(module), subpackage_of(target)
            if source_package and target_package and source_package != target_package:
                edges[source_package].add(target_package)
                reasons.setdefault((source_package, target_package), f"{module} → {target}")
    found = cycles(edges)
    assert found == [], [
        [reasons[a, b] for a in component for b in component if (a, b) in reasons] for component in found
    ]


def test_only_the_command_line_and_bundle_export_import_calibration():
    users = {
        module
        for module, targets in import_graph().items()
        if subpackage_of(module) != "edge_sdk.calibration" and any(subpackage_of(t) == "edge_sdk.calibration" for t in targets)
    }
    assert users <= CALIBRATION_USERS, sorted(users - CALIBRATION_USERS)


MAX_FUNCTION_LINES = 80  # a function longer than a screen is split into named steps


def test_no_function_over_80_lines():
    long = []
    for module, path in project_modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name}: {lines} lines")
    assert long == []

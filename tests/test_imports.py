"""How polyfleet's modules import each other: no circles anywhere, and the light entry points (the
errors, the job a Ray worker runs, the profile reader) load nothing of the planner."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src"


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Every module of `package` under `root`, by dotted name (a package by its own name)."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imported(tree: ast.AST, name: str, is_package: bool, modules: set[str]) -> Iterator[str]:
    """Every module an import statement anywhere in a module names (in a function, under
    TYPE_CHECKING: an import is an import), absolute. `from a.b import c` imports the submodule
    a.b.c where there is one, else a name of the package a.b (its __init__)."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield sub if sub in modules else base


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of `package` it imports."""
    files = module_files(root, package)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text("utf-8"), str(path))
        found = _imported(tree, name, path.name == "__init__.py", set(files))
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of `graph`: its strongly connected components of more than one module
    (Tarjan), each as a path that walks the circle and returns to its start."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(_walk(graph, set(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _walk(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A circle through `component`, from its first module back to it (breadth first)."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    return sorted(component)


def test_polyfleet_has_no_import_circles():
    graph = import_graph(SRC, "polyfleet")
    assert len(graph) > 50 and "polyfleet.inputs.scenario" in graph["polyfleet.plan.placement"]
    found = circles(graph)
    assert not found, "import circles: " + "; ".join(" -> ".join(c) for c in found)


def test_the_circle_finder_names_a_circle(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub.b import thing\n")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..c import x\nthing = 1\n"
    )
    (pkg / "c.py").write_text("def f():\n    import pkg.a\n")
    (pkg / "d.py").write_text("from pkg import c\n")  # on no circle
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.sub.b"] == {"pkg.c"} and graph["pkg.sub"] == {"pkg.sub.b"}
    assert circles(graph) == [["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]]


#: Modules that a light entry point must not load: the solver, plots, scipy, torch, ray, numpy.
HEAVY = ("highspy", "plotly", "scipy", "torch", "ray", "numpy")


def _loaded_by(statement: str) -> list[str]:
    """The modules a fresh interpreter has loaded after `statement`."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize(
    ("statement", "planner_modules"),
    [
        ("import polyfleet", {"polyfleet"}),
        ("import polyfleet.errors", {"polyfleet", "polyfleet.errors"}),
        (  # what a Ray worker imports to run a job
            "from polyfleet.dispatch.jobs import execute",
            {"polyfleet", "polyfleet.dispatch", "polyfleet.dispatch.jobs"},
        ),
        ("from polyfleet.inputs.profile import load_profile", None),
    ],
)
def test_light_entry_points_load_nothing_heavy(statement, planner_modules):
    loaded = _loaded_by(statement)
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY]
    assert not heavy, f"{statement} loads {heavy[:5]}"
    ours = {m for m in loaded if m.split(".")[0] == "polyfleet"}
    if planner_modules is not None:
        assert ours == planner_modules
    assert not any(m.startswith(("polyfleet.plan", "polyfleet.perfmodel")) for m in ours)


def test_the_plan_command_loads_no_scipy_stats():
    """scipy.stats takes about a second to import, a third of a small plan's whole process: the
    plan path uses the special functions it wraps."""
    loaded = _loaded_by(
        "import polyfleet.cli, polyfleet.app, polyfleet.inputs.scenario, polyfleet.plan.placement,"
        " polyfleet.results.plan, polyfleet.perfmodel.fit"
    )
    assert "scipy.special" in loaded
    assert "scipy.stats" not in loaded


def test_public_names_load_on_first_use():
    loaded = _loaded_by(
        "import polyfleet\nassert polyfleet.InputError.exit_code == 1\n"
        "assert 'polyfleet.inputs.scenario' not in sys.modules\n"
        "polyfleet.load_scenario"
    )
    assert "polyfleet.inputs.scenario" in loaded

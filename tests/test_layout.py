"""The package layout's rules (docs/architecture.md): imports go one way,
commands -> orchestrate -> stages -> shared helpers; only the command layer
may use analysis; no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SHARED = {"bench", "bench.errors", "bench.paths", "bench.progress"}
STAGES = {"cases", "build", "targets", "collect", "power", "timing", "store", "farm"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of every module this file imports (at any depth in the file)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}  # "from pkg import module"
    return out


MODULES = {_module_name(p): p for p in BENCH.rglob("*.py")}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else module


@pytest.mark.parametrize("module", sorted(MODULES))
def test_only_the_command_layer_imports_analysis(module):
    if module.startswith("bench.commands") or module == "bench.cli":
        return
    bad = sorted(i for i in _imports(MODULES[module]) if i == "analysis" or i.startswith("analysis."))
    assert not bad, f"{module} imports {bad}: measurement never needs analysis (move the composition to bench/commands)"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _layer(m) in STAGES))
def test_stages_do_not_import_orchestration_or_commands(module):
    bad = sorted(i for i in _imports(MODULES[module])
                 if i.startswith(("bench.orchestrate", "bench.commands", "bench.cli")))
    assert not bad, f"stage module {module} imports {bad}"


def test_no_import_cycles():
    graph = {m: {i for i in _imports(p) if i in MODULES and i != m} for m, p in MODULES.items()}
    # A package __init__ that only holds a docstring is not a real dependency.
    seen, stack, cycles = set(), [], []

    def visit(node):
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in graph[node]:
            visit(nxt)
        stack.pop()

    for m in sorted(graph):
        visit(m)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_every_sub_package_says_what_it_does_and_may_use():
    for init in BENCH.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert len(doc.split()) >= 8, f"{init.relative_to(ROOT)} needs a docstring: what it does, what it may use"


def test_every_registered_command_resolves():
    import importlib

    from bench.cli import COMMANDS

    for name, (target, _) in COMMANDS.items():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func, None)), f"command {name}: {target} not found"

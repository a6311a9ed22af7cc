"""The shape of the code: packages in layers, no import cycle counting every import, and an engine that never
needs the page.

Every import counts here — at module level, inside a function, or under ``TYPE_CHECKING`` — because each is a
dependency a reader has to follow, and a cycle hidden inside a function still ties two modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kd_core", "dashboard")

# Each group may import itself and the groups before it in its list, never one after it.  A group is a package
# (kd_core.runs) or a top-level module (kd_core.config); the packages' __init__ docstrings say the same.
LAYERS = {
    "kd_core": [
        "kd_core.stats",
        "kd_core.files",
        "kd_core.data",
        "kd_core.models",
        "kd_core.methods",
        "kd_core.config",
        "kd_core.train",
        "kd_core.execution",
        "kd_core.runs",
        "kd_core.language",
        "kd_core.deploy",
        "kd_core.studies",
        "kd_core.board",
        "kd_core.cli",
        "kd_core",  # the public API: imported by the page, the benchmarks and the tests, never from inside
    ],
    "dashboard": [
        "dashboard.text",
        "dashboard.figures",
        "dashboard.jobs",
        "dashboard.runs",
        "dashboard.page",
        "dashboard.report",
        "dashboard.tabs",
        "dashboard.app",
        "dashboard.launch",
        "dashboard",
    ],
}
MAX_MODULES_PER_PACKAGE = 12


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every project module ``name`` imports, anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # "from pkg import module" depends on the module; "from module import name" on the module
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # "import kd_core.runs.cache.x" -> the module that exists
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def layer_of(name: str) -> tuple[str, int]:
    top = name.partition(".")[0]
    groups = LAYERS[top]
    best = max((g for g in groups if name == g or name.startswith(g + ".")), key=len)
    return top, groups.index(best)


def test_every_module_belongs_to_a_layer():
    for name in modules():
        assert layer_of(name), name


def test_no_import_goes_up_a_layer():
    wrong = []
    for name, targets in graph().items():
        top, level = layer_of(name)
        for target in targets:
            if target.partition(".")[0] != top:
                continue
            if layer_of(target)[1] > level:
                wrong.append(f"{name} -> {target}")
    assert not wrong, "imports that go the wrong way:\n" + "\n".join(sorted(wrong))


def test_there_is_no_import_cycle_counting_every_import():
    edges = graph()
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                pytest.fail("import cycle: " + " -> ".join(trail[trail.index(nxt) :] + [nxt]))
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])


def test_the_layer_check_sees_imports_inside_functions_and_under_type_checking(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from kd_core.runs import setup\n"
        "def f():\n    from kd_core.studies.sweeps import sweep\n"
    )
    known = {"kd_core.runs.setup", "kd_core.studies.sweeps", "kd_core.runs"}
    assert imports_of("kd_core.data.m", module, known) == {"kd_core.runs.setup", "kd_core.studies.sweeps"}


def test_packages_are_small_enough_to_read_side_by_side():
    for top in PACKAGES:
        for folder in [ROOT / top, *[p for p in (ROOT / top).iterdir() if (p / "__init__.py").exists()]]:
            count = len([p for p in folder.glob("*.py") if p.name != "__init__.py"])
            limit = 5 if folder == ROOT / top else MAX_MODULES_PER_PACKAGE
            assert count <= limit, f"{folder.relative_to(ROOT)} holds {count} modules side by side"


def test_every_package_says_what_it_holds_and_what_it_may_import():
    for init in [p for top in PACKAGES for p in (ROOT / top).rglob("__init__.py")]:
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert len(doc.split()) >= 8, f"{init.relative_to(ROOT)} has no docstring that says what it holds"
        if init.parent.parent != ROOT:
            assert "import" in doc, f"{init.relative_to(ROOT)} does not say which packages it may import"


def test_the_engine_never_imports_streamlit_or_the_dashboard():
    for name, path in modules().items():
        if name.startswith("kd_core"):
            text = path.read_text()
            assert not any(words in text for words in ("import streamlit", "from dashboard", "import dashboard")), name

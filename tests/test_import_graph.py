"""The house's rule, checked on the code: imports flow one way, down the floors.

Every import of the product's packages is read with ``ast`` (imports inside functions
too, so none can hide a circle), then: no circle between modules, no import that runs up
a floor, and no backend that reaches into another backend's folder.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("qabot_settings", "corpus", "embeddings", "retrieval", "bot")
FLOOR = {"qabot_settings": 1, "corpus": 2, "embeddings": 2, "retrieval": 3, "bot": 4}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports (a package import counts as its __init__)."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    assert len(modules) > 50, f"found only {len(modules)} modules under {ROOT}"
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _is_parent_package(importer: str, imported: str) -> bool:
    """A submodule importing its own package's ``__init__`` (Python runs it first anyway)."""
    return importer.startswith(imported + ".")


def test_the_import_graph_has_no_circle() -> None:
    graph = {
        name: {t for t in targets if not _is_parent_package(name, t)}
        for name, targets in _graph().items()
    }
    # a package's __init__ that re-exports its submodules is its public face, not a circle
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                circles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not circles, "import circles: " + "; ".join(" → ".join(c) for c in circles)


def test_no_import_runs_up_a_floor() -> None:
    upward = [
        f"{name} → {target}"
        for name, targets in _graph().items()
        for target in targets
        if FLOOR[target.split(".")[0]] > FLOOR[name.split(".")[0]]
    ]
    assert not upward, "imports that run up: " + ", ".join(sorted(upward))


def test_each_backend_imports_only_the_seam_and_its_own_folder() -> None:
    prefix = "retrieval.backends."
    crossing = [
        f"{name} → {target}"
        for name, targets in _graph().items()
        if name.startswith(prefix) and name.count(".") >= 3
        for target in targets
        if target.startswith(prefix)
        and target.count(".") >= 3
        and target.split(".")[2] != name.split(".")[2]
    ]
    assert not crossing, "a backend reaches into another: " + ", ".join(sorted(crossing))


def test_the_answer_core_has_its_public_face() -> None:
    from retrieval import Answer, AnswerEngine, Result, Source, open_backend

    assert AnswerEngine.ask and Answer.to_json and Result.to_json
    assert Source.__dataclass_fields__["doc_id"] and callable(open_backend)

"""The layout shows the design (docs/README.md, "Where things are"): orc/ is grouped by
concern into packages that stand on each other in one order, and no module imports another
that imports it back, directly or round a longer circle, lazily inside a function or not."""

from __future__ import annotations

import ast
from pathlib import Path

from support import SUITE

# Lowest first: a package imports only from itself and the packages before it.
LAYERS = ("core", "record", "messages", "scheduling", "teams")
# send_message.sh, like every command, notices a copied or moved folder before it acts
# (docs/copy-and-move.md); that check belongs to the scheduler, whose lines it rewrites. And
# when it keeps a message, it has the scheduler put in the minute sweep that delivers kept
# mail (docs/delivery.md, "Kept messages"): the crontab is the scheduler's alone.
ALLOWED_UPWARD = {("orc.messages.send_message", "orc.scheduling.home"),
                  ("orc.messages.send_message", "orc.scheduling.checkins")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SUITE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def suite_modules() -> dict[str, Path]:
    found = {module_name(p): p for p in (SUITE / "orc").rglob("*.py") if "__pycache__" not in p.parts}
    for script in ("tmux_utils.py", "orchestrator_integration.py"):
        found[module_name(SUITE / script)] = SUITE / script
    return found


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every suite module ``path`` imports, at the top or inside a function (``from orc.x
    import y`` counts as orc.x.y when that is a module, else orc.x)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                     for alias in node.names]
        found.update(name for name in names if name in known)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = suite_modules()
    known = set(modules)
    # The package `orc` itself only sets up sys.path; every module imports it, which is no circle.
    return {name: imports_of(path, known) - {name, "orc"} for name, path in modules.items()}


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as the list of modules round it, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                circle = visit(nxt)
                if circle:
                    return circle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            circle = visit(node)
            if circle:
                return circle
    return None


def test_the_circle_finder_finds_a_circle_round_three_modules() -> None:
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_lazy_imports_and_from_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from orc.core import state\n    import orc.core.locks\n")
    assert imports_of(source, {"orc.core.state", "orc.core.locks", "orc.core"}) == {"orc.core.state", "orc.core.locks"}


def test_no_import_circles() -> None:
    graph = import_graph()
    assert len(graph) > 40 and graph["orc.messages.delivery"]  # the graph really holds the suite
    assert find_circle(graph) is None


def test_orc_is_grouped_into_its_parts() -> None:
    loose = sorted(p.name for p in (SUITE / "orc").glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"]
    for layer in LAYERS:
        assert (SUITE / "orc" / layer / "__init__.py").is_file(), layer


def test_each_part_imports_only_the_parts_below_it() -> None:
    upward = []
    for module, imported in import_graph().items():
        parts = module.split(".")
        if parts[0] != "orc" or len(parts) < 3:
            continue
        for other in imported:
            theirs = other.split(".")
            if theirs[0] == "tmux_utils" or theirs[0] == "orchestrator_integration":
                upward.append((module, other))  # the library never leans on a top-level script
            elif len(theirs) >= 2 and theirs[0] == "orc" and LAYERS.index(theirs[1]) > LAYERS.index(parts[1]):
                upward.append((module, other))
    assert sorted(set(upward) - ALLOWED_UPWARD) == []
    assert ALLOWED_UPWARD <= set(upward), "the allowed exception is gone: remove it from ALLOWED_UPWARD"

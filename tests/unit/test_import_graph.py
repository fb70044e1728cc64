"""The package layout is the flow: no stage imports a stage after it, and no cycles.

Every import in ``src/streamhub`` (module level, inside functions, and under TYPE_CHECKING)
is an edge from its package to the imported one. A package may import only packages listed
before it in ``ORDER``: the shared parts first, then the stages in the order a change passes
through them, then what assembles them (web, demo, cli).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "streamhub"

ORDER = (
    # shared parts, below every stage
    "__init__", "errors", "secrets_mask", "log", "config", "core", "codes", "serde", "kafka",
    "catalog", "registry", "stack",
    # the institutions' side (simulated sources), then the flow; debezium is the second capture
    # engine and fleet simulates many capture agents, so both sit just after capture
    "simulate", "capture", "debezium", "fleet",
    "standardize", "land", "reconcile", "anomaly", "health", "quality",
    # what reads and assembles the stages
    "query", "web", "demo", "cli", "__main__",
)  # fmt: skip


def package_of(path: Path) -> str:
    parts = path.relative_to(SRC).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def imported_packages(path: Path) -> set[str]:
    module = ["streamhub", *path.relative_to(SRC).with_suffix("").parts]
    if module[-1] == "__init__":
        module.pop()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module[: len(module) - node.level + (path.name == "__init__.py")]
                names = [".".join([*base, *([node.module] if node.module else [])])]
            elif node.module:
                names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "streamhub" and len(parts) > 1:
                found.add(parts[1])
    return found


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in SRC.rglob("*.py"):
        source = package_of(path)
        graph[source] |= imported_packages(path) - {source}
    return graph


def test_every_package_has_a_place_in_the_order() -> None:
    assert set(package_graph()) - set(ORDER) == set()


def test_no_package_imports_one_after_it_in_the_flow() -> None:
    rank = {name: i for i, name in enumerate(ORDER)}
    backwards = sorted(
        f"{source} -> {target}"
        for source, targets in package_graph().items()
        for target in targets
        if rank.get(target, -1) > rank.get(source, len(ORDER))
    )
    assert backwards == []


def test_no_cycle_between_packages() -> None:
    graph = package_graph()
    state: dict[str, int] = {}  # 1 visiting, 2 done
    cycles: list[str] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []

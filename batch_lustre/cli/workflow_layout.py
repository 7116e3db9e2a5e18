"""A layered (Sugiyama-style) layout of a state machine definition, for drawing it.

Pure: from the ASL dict to edges, layers and coordinates. Loops are drawn by reversing their back
edges for the layout only; an edge spanning several layers goes through one dummy point per layer,
so no edge crosses a box; a few barycenter sweeps order each layer to reduce crossings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NORMAL, CHOICE, DEFAULT, CATCH = "next", "choice", "default", "catch"
COMPARISONS = {"Equals": "=", "GreaterThanEquals": ">=", "GreaterThan": ">", "LessThanEquals": "<=", "LessThan": "<"}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # NORMAL | CHOICE | DEFAULT | CATCH
    label: str = ""


@dataclass
class Layout:
    """Coordinates (x right, y down, in layer units) of states and of the points every edge goes through."""

    positions: dict[str, tuple[float, float]]
    routes: dict[Edge, list[tuple[float, float]]]  # source point ... target point
    back_edges: set[Edge] = field(default_factory=set)
    layers: int = 0
    width: float = 0.0


def _condition_label(rule: dict[str, Any]) -> str:
    """A short label of a Choice rule: the value compared, or what is tested."""
    for key, value in rule.items():
        if key in ("Next", "Variable"):
            continue
        if key in ("And", "Or"):
            return f" {key.lower()} ".join(_condition_label(r) for r in value)
        if key == "Not":
            return "not " + _condition_label(value)
        variable = str(rule.get("Variable", "")).rsplit(".", 1)[-1]
        if key == "IsPresent":
            return f"{variable} {'set' if value else 'unset'}"
        operator = next((sign for word, sign in COMPARISONS.items() if key.removesuffix("Path").endswith(word)), key)
        if key.endswith("Path"):
            return f"{variable} {operator} {str(value).rsplit('.', 1)[-1]}"
        if isinstance(value, bool):
            return f"{variable} {str(value).lower()}"
        return f"{variable} {operator} {value}" if key.startswith("Numeric") else str(value)
    return ""


def edges_of(definition: dict[str, Any]) -> list[Edge]:
    """Every transition of the definition, in a stable order (Next, Choices, Default, Catch)."""
    found = []
    for name, state in definition["States"].items():
        if "Next" in state:
            found.append(Edge(name, state["Next"], NORMAL))
        for rule in state.get("Choices", []):
            found.append(Edge(name, rule["Next"], CHOICE, _condition_label(rule)))
        if "Default" in state:
            found.append(Edge(name, state["Default"], DEFAULT, "otherwise"))
        for catcher in state.get("Catch", []):
            found.append(Edge(name, catcher["Next"], CATCH, "error"))
    # Two edges between the same states (e.g. a Choice rule and its Default) are drawn once.
    unique: dict[tuple[str, str], Edge] = {}
    for edge in found:
        unique.setdefault((edge.source, edge.target), edge)
    return list(unique.values())


def _back_edges(start: str, states: list[str], edges: list[Edge]) -> set[Edge]:
    """Edges closing a loop, found by depth-first search from ``start`` (iterative)."""
    out: dict[str, list[Edge]] = {s: [] for s in states}
    for edge in edges:
        out[edge.source].append(edge)
    # Catch edges last: the main path should run straight down.
    for name in out:
        out[name].sort(key=lambda e: e.kind == CATCH)
    back: set[Edge] = set()
    done: set[str] = set()
    on_path: set[str] = set()
    roots = [start] + [s for s in states if s != start]
    for root in roots:
        if root in done:
            continue
        stack = [(root, iter(out[root]))]
        on_path.add(root)
        while stack:
            node, children = stack[-1]
            step = next(children, None)
            if step is None:
                stack.pop()
                on_path.discard(node)
                done.add(node)
            elif step.target in on_path:
                back.add(step)
            elif step.target not in done:
                on_path.add(step.target)
                stack.append((step.target, iter(out[step.target])))
    return back


def _layers(states: list[str], forward: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering of the acyclic graph ``forward`` (networkx's topological generations)."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(states)
    graph.add_edges_from(forward)
    if not nx.is_directed_acyclic_graph(graph):
        raise ValueError("the layout graph still has a cycle after reversing the back edges")
    return {node: depth for depth, nodes in enumerate(nx.topological_generations(graph)) for node in nodes}


def layout(definition: dict[str, Any], sweeps: int = 12) -> Layout:
    """Place the states of ``definition`` in layers from ``StartAt`` down, with routed edges."""
    states = list(definition["States"])
    edges = edges_of(definition)
    back = _back_edges(definition["StartAt"], states, edges)
    forward = [(e.target, e.source) if e in back else (e.source, e.target) for e in edges]
    forward = [(a, b) for a, b in forward if a != b]
    layer = _layers(states, forward)

    # Dummy points for edges spanning more than one layer.
    nodes_in: dict[int, list[str]] = {}
    for state in states:
        nodes_in.setdefault(layer[state], []).append(state)
    chains: dict[Edge, list[str]] = {}
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for edge in edges:
        a, b = (edge.target, edge.source) if edge in back else (edge.source, edge.target)
        if a == b:
            continue
        chain = [a]
        for step in range(layer[a] + 1, layer[b]):
            dummy = f"\0{edge.source}->{edge.target}#{step}"
            layer[dummy] = step
            nodes_in[step].append(dummy)
            chain.append(dummy)
        chain.append(b)
        for above, below in zip(chain, chain[1:], strict=False):
            down.setdefault(above, []).append(below)
            up.setdefault(below, []).append(above)
        chains[edge] = chain if edge not in back else chain[::-1]

    order = {n: i for nodes in nodes_in.values() for i, n in enumerate(nodes)}
    depth = max(nodes_in) if nodes_in else 0

    def reorder(level: int, neighbours: dict[str, list[str]]) -> None:
        def barycenter(node: str) -> float:
            near = neighbours.get(node, [])
            return sum(order[n] for n in near) / len(near) if near else order[node]

        nodes_in[level].sort(key=barycenter)
        for i, node in enumerate(nodes_in[level]):
            order[node] = i

    for _ in range(sweeps):
        for level in range(1, depth + 1):
            reorder(level, up)
        for level in range(depth - 1, -1, -1):
            reorder(level, down)

    x = _coordinates(nodes_in, up, down, depth)
    positions = {n: (x[n], float(layer[n])) for n in states}
    routes = {edge: [(x[n], float(layer[n])) for n in chain] for edge, chain in chains.items()}
    for edge in edges:
        if edge.source == edge.target:  # a state looping on itself
            px, py = positions[edge.source]
            routes[edge] = [(px, py), (px + 0.9, py - 0.3), (px + 0.9, py + 0.3), (px, py)]
    xs = list(x.values()) or [0.0]
    return Layout(positions, routes, back, depth + 1, max(xs) - min(xs))


def _coordinates(
    nodes_in: dict[int, list[str]], up: dict[str, list[str]], down: dict[str, list[str]], depth: int, rounds: int = 20
) -> dict[str, float]:
    """x of every node: pulled towards its neighbours, keeping the layer's order and spacing.

    States are one unit apart; dummy points (edges) a third of a unit, so bundles of edges stay narrow.
    """

    def gap(a: str, b: str) -> float:
        dummies = a.startswith("\0") + b.startswith("\0")
        return {0: 1.0, 1: 0.6, 2: 0.25}[dummies]

    x: dict[str, float] = {}
    for nodes in nodes_in.values():
        position = 0.0
        for i, node in enumerate(nodes):
            position += gap(nodes[i - 1], node) if i else 0.0
            x[node] = position
    for _ in range(rounds):
        for level in list(range(depth + 1)) + list(range(depth, -1, -1)):
            nodes = nodes_in[level]
            wanted = []
            for node in nodes:
                near = up.get(node, []) + down.get(node, [])
                wanted.append(sum(x[n] for n in near) / len(near) if near else x[node])
            # Keep order and spacing: place left to right, then centre the layer on the wanted positions.
            placed: list[float] = []
            for i, node in enumerate(nodes):
                value = wanted[i]
                if placed:
                    value = max(value, placed[-1] + gap(nodes[i - 1], node))
                placed.append(value)
            shift = (sum(wanted) - sum(placed)) / len(placed) if placed else 0.0
            for node, value in zip(nodes, placed, strict=True):
                x[node] = value + shift
    low = min(x.values()) if x else 0.0
    return {n: v - low for n, v in x.items()}

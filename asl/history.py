"""Worst-case execution history of a definition: no accepted run may reach Step Functions' 25,000-event limit.

A STANDARD execution that reaches 25,000 history events fails at once, and no Catch runs (Step Functions
service quotas; docs/aws-rules.md): the run's cleanup would be skipped. The job itself is waited on by the
``.sync`` integration, whose history does not grow with the job's duration, so what can grow is the bounded
polling loops. This module bounds the whole history from the definition alone:

- every state visit costs its history events (``EVENTS_PER_VISIT``), a Task also 3 events per retry;
- every loop (a strongly connected set of states) turns at most ``limit + 1`` times, where ``limit`` is the
  check limit of the poll record its counting state writes (``$.polls.<loop>``); a loop without one is an error;
- a Parallel costs the sum of its branches' worst cases (they all run);
- the worst case is the costliest path from the start to an end through the loops so bounded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from batch_lustre.program.asl.states import targets

HISTORY_LIMIT = 25_000  # events of one STANDARD execution (Step Functions service quotas)

# Events one visit of a state writes to the history (entered + exited, plus a Task's scheduled, started and
# succeeded or failed; a Parallel's started and succeeded). Fail: entered, then ExecutionFailed.
EVENTS_PER_VISIT = {"Pass": 2, "Choice": 2, "Wait": 2, "Succeed": 2, "Fail": 2, "Task": 5, "Parallel": 4, "Map": 4}
EVENTS_PER_RETRY = 3  # scheduled, started, failed
EXECUTION_EVENTS = 2  # ExecutionStarted, ExecutionSucceeded/Failed


def poll_loop_of(state: Mapping[str, Any]) -> tuple[str, str] | None:
    """(record, schedule) a counting Pass advances (``ResultPath`` ``$.polls.<record>`` with a MathAdd, its
    waits from ``$.config.derived.waits.<schedule>``), or a WaitFor/CheckMetrics Task writes, else None."""
    path = state.get("ResultPath") or ""
    parameters = state.get("Parameters") or {}
    found = parameters.get("Payload")
    payload: Mapping[str, Any] = found if isinstance(found, dict) else {}
    if state.get("Type") == "Task" and path.startswith("$.polls.") and "waits.$" in payload:
        # A WaitFor Task (asl/states.py wait_for): it writes the record; its invocations are bounded like checks.
        match = re.search(r"\$\.config\.derived\.waits\.(\w+)", str(payload["waits.$"]))
        if match is None:
            raise ValueError(f"poll record {path} takes its waits from no schedule")
        return path[len("$.polls.") :], match.group(1)
    if state.get("Type") == "Pass" and path.startswith("$.polls.") and "MathAdd" in str(parameters):
        match = re.search(r"\$\.config\.derived\.waits\.(\w+)", str(parameters.get("wait.$", "")))
        if match is None:
            raise ValueError(f"poll record {path} takes its waits from no schedule")
        return path[len("$.polls.") :], match.group(1)
    return None


def state_events(state: Mapping[str, Any], limits: Mapping[str, int]) -> int:
    """Worst-case events of one visit of ``state`` (a Parallel: of its branches too)."""
    kind = state["Type"]
    events = EVENTS_PER_VISIT[kind]
    if kind == "Task":
        events += EVENTS_PER_RETRY * sum(int(r.get("MaxAttempts", 3)) for r in state.get("Retry", []))
    for branch in state.get("Branches", []):
        events += worst_case_events(branch, limits, whole_execution=False)
    return events


def loops(graph: Mapping[str, list[str]]) -> list[set[str]]:
    """Strongly connected sets of states with a cycle (Tarjan): the loops of a state graph."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                out.append(component)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def _topological(dag: Mapping[str, set[str]], start: str) -> list[str]:
    """Nodes reachable from ``start``, each before the nodes it leads to; a cycle is an error."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done
    todo: list[tuple[str, bool]] = [(start, False)]
    while todo:
        node, leaving = todo.pop()
        if leaving:
            state[node] = 2
            order.append(node)
            continue
        if state.get(node) == 2:
            continue
        if state.get(node) == 1:
            raise ValueError(f"{node} is on a cycle that advances no poll record")
        state[node] = 1
        todo.append((node, True))
        todo.extend((t, False) for t in dag.get(node, ()) if state.get(t) != 2)
    return order[::-1]


def _reaches(graph: Mapping[str, list[str]], sources: set[str], goals: set[str] | str) -> bool:
    """Whether a state of ``goals`` can be reached from one of ``sources`` (through at least one edge)."""
    goal_set = {goals} if isinstance(goals, str) else goals
    seen: set[str] = set()
    todo = [t for s in sources for t in graph[s]]
    while todo:
        n = todo.pop()
        if n in goal_set:
            return True
        if n not in seen:
            seen.add(n)
            todo.extend(graph[n])
    return False


def worst_case_events(definition: Mapping[str, Any], limits: Mapping[str, int], *, whole_execution: bool = True) -> int:
    """Upper bound of the history events of one execution of ``definition`` (or of one Parallel branch).

    ``limits``: loop name -> most checks a run may make (``parameters.LOOP_CHECK_LIMITS``).
    """
    states: Mapping[str, Mapping[str, Any]] = definition["States"]
    graph = {name: targets(state) for name, state in states.items()}
    cost = {name: state_events(state, limits) for name, state in states.items()}
    # Loops that advance the same poll record share its turns (the file system loop and the association
    # loop count against one limit): they, and every state on a path from one to another, form one region
    # whose cost is the record's turns times the costliest turn, plus one visit of the states between.
    by_record: dict[tuple[str, str], list[set[str]]] = {}
    for loop in loops(graph):
        counted = {found for n in loop if (found := poll_loop_of(states[n])) is not None}
        if len(counted) != 1:
            raise ValueError(f"loop {sorted(loop)} advances {len(counted)} poll records: its turns are not bounded")
        by_record.setdefault(counted.pop(), []).append(loop)
    component_of: dict[str, str] = {name: name for name in states}
    node_cost: dict[str, int] = {}
    for record, record_loops in by_record.items():
        members = set().union(*record_loops)
        between = {
            n for n in states if n not in members and _reaches(graph, members, n) and _reaches(graph, {n}, members)
        }
        key = min(members)
        turn = max(sum(cost[n] for n in loop) for loop in record_loops)
        # A WaitFor loop's first invocation may end without a check (lambda/wait_for.py): one more turn each.
        waiter_loops = sum(
            1 for loop in record_loops if any(states[n].get("Type") == "Task" and poll_loop_of(states[n]) for n in loop)
        )
        node_cost[key] = (limits[record[1]] + 1 + waiter_loops) * turn + sum(cost[n] for n in between)
        for n in members | between:
            if component_of[n] != n:
                raise ValueError(f"state {n} lies in the regions of two poll records")
            component_of[n] = key
    for name in states:
        node_cost.setdefault(component_of[name], cost[name])
    dag: dict[str, set[str]] = {}
    for name, outs in graph.items():
        source = component_of[name]
        dag.setdefault(source, set()).update(component_of[t] for t in outs if component_of[t] != source)

    best: dict[str, int] = {}
    for node in reversed(_topological(dag, component_of[definition["StartAt"]])):
        best[node] = node_cost[node] + max((best[t] for t in dag.get(node, ())), default=0)
    total = best[component_of[definition["StartAt"]]]
    return total + (EXECUTION_EVENTS if whole_execution else 0)

"""The workflow graphs: targets exist, everything reachable, loops bounded, failures go through cleanup."""

import pytest
from conftest import sample_refs

from asl import build_definition
from asl.states import Graph
from parameters import MODES

MODES_PARAM = pytest.mark.parametrize("mode", MODES)

SEED_STATES = {
    "common": ["GetSecret", "ExtractParameters", "CreateLustreFileSystem", "CreateDataRepositoryAssociation",
               "WaitForFileSystem", "CheckFileSystemStatus", "CheckDataRepositoryAssociation",
               "IsFileSystemAndAssociationAvailable", "CreateLaunchTemplate", "UpdateComputeEnvironment",
               "CreateJobDefinition", "SubmitJob", "WaitForJobCompletion", "CheckJobStatus", "IsJobComplete",
               "DeleteFSx"],
    "taskexport": ["CreateDataRepositoryTask", "WaitForDataRepositoryTask", "CheckDataRepositoryTasks",
                   "IsDataRepositoryTaskComplete"],
    "autoexport": ["CheckMetrics"],
}


def definition(mode):
    return build_definition(sample_refs(mode))


def successors(state):
    targets = []
    for key in ("Next", "Default"):
        if key in state:
            targets.append(state[key])
    targets += [c["Next"] for c in state.get("Choices", [])]
    targets += [c["Next"] for c in state.get("Catch", [])]
    return targets


def edges(defn):
    return {name: successors(state) for name, state in defn["States"].items()}


def reachable(graph, start, removed=frozenset()):
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node in seen or node in removed:
            continue
        seen.add(node)
        todo.extend(graph[node])
    return seen


def strongly_connected(graph):
    """Tarjan's algorithm: the loops of the graph."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
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
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            out.append(comp)

    for v in graph:
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1 or any(v in graph[v] for v in c)]


@MODES_PARAM
def test_every_transition_target_exists(mode):
    defn = definition(mode)
    for name, targets in edges(defn).items():
        for target in targets:
            assert target in defn["States"], f"{name} -> {target} does not exist"


@MODES_PARAM
def test_every_state_is_reachable(mode):
    defn = definition(mode)
    unreachable = set(defn["States"]) - reachable(edges(defn), defn["StartAt"])
    assert not unreachable


@MODES_PARAM
def test_the_seed_state_names_are_there(mode):
    names = set(definition(mode)["States"])
    missing = [s for s in SEED_STATES["common"] + SEED_STATES[mode] if s not in names]
    assert not missing


def _counter_states(defn):
    return {
        name: s["ResultPath"] for name, s in defn["States"].items()
        if s["Type"] == "Pass" and "States.MathAdd" in str(s.get("Parameters", ""))
    }


@MODES_PARAM
def test_every_cycle_passes_through_a_poll_counter(mode):
    defn = definition(mode)
    graph = edges(defn)
    assert strongly_connected(graph), "the workflow polls, so it must have loops"
    counters = set(_counter_states(defn))
    without = {n: [t for t in ts if t not in counters] for n, ts in graph.items() if n not in counters}
    assert strongly_connected(without) == [], "a loop that increments no counter could run forever"


@MODES_PARAM
def test_every_poll_counter_has_a_limit_that_leaves_its_loop(mode):
    defn = definition(mode)
    graph = edges(defn)
    loops = strongly_connected(graph)
    for counter_state, counter_path in _counter_states(defn).items():
        loop = next(c for c in loops if counter_state in c)
        exits = [
            rule for name in loop if defn["States"][name]["Type"] == "Choice"
            for rule in defn["States"][name]["Choices"]
            if rule.get("Variable") == f"{counter_path}.count" and "NumericGreaterThanEqualsPath" in rule
            and rule["Next"] not in loop
        ]
        assert exits, f"{counter_state} counts polls but nothing ends the loop on it"


@MODES_PARAM
def test_every_failure_after_the_file_system_exists_passes_through_cleanup(mode):
    defn = definition(mode)
    graph = edges(defn)
    after_create = reachable(graph, "CreateLustreFileSystem", removed=frozenset({"Cleanup"}))
    fails = {n for n in after_create if defn["States"][n]["Type"] in ("Fail", "Succeed")}
    assert not fails, f"end states reachable from CreateLustreFileSystem without Cleanup: {fails}"


@MODES_PARAM
def test_delete_file_system_only_after_data_is_safe(mode):
    """DeleteFSx is reached only from ShouldDeleteLustre, whose rules check dataSafe and deleteLustre."""
    defn = definition(mode)
    preds = [n for n, targets in edges(defn).items() if "DeleteFSx" in targets]
    assert preds == ["ShouldDeleteLustre"]
    rules = str(defn["States"]["ShouldDeleteLustre"]["Choices"])
    assert "$.dataSafe" in rules and "deleteLustre" in rules


@MODES_PARAM
def test_every_task_after_start_is_caught(mode):
    defn = definition(mode)
    for name, state in defn["States"].items():
        if state["Type"] == "Task":
            assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), name


@MODES_PARAM
def test_every_fail_state_states_an_error_and_a_cause(mode):
    for name, state in definition(mode)["States"].items():
        if state["Type"] == "Fail":
            assert ("Error" in state or "ErrorPath" in state) and ("Cause" in state or "CausePath" in state), name


def test_duplicate_state_names_are_refused():
    g = Graph()
    g.add("A", {"Type": "Succeed"})
    with pytest.raises(ValueError, match="duplicate state name 'A'"):
        g.add("A", {"Type": "Succeed"})


@MODES_PARAM
def test_failed_job_is_never_waited_on_again(mode):
    defn = definition(mode)
    choices = defn["States"]["IsJobComplete"]["Choices"]
    failed = [c for c in choices if c.get("StringEquals") == "FAILED"]
    assert failed and failed[0]["Next"] == "RecordJobFailure"
    after_failure = reachable(edges(defn), "RecordJobFailure")
    assert "WaitForJobCompletion" not in after_failure


def test_taskexport_tracks_its_export_task_by_the_id_it_returned():
    state = definition("taskexport")["States"]["CheckDataRepositoryTasks"]
    assert state["Parameters"] == {"TaskIds.$": "States.Array($.exportTask.TaskId)"}
    create = definition("taskexport")["States"]["CreateDataRepositoryTask"]
    assert create["ResultSelector"] == {"TaskId.$": "$.DataRepositoryTask.TaskId"}


def test_taskexport_turns_auto_export_off_before_the_export_task():
    defn = definition("taskexport")
    assert defn["States"]["AfterJob"]["Choices"][0]["Next"] == "DisableAutoExport"
    update = defn["States"]["DisableAutoExport"]["Parameters"]["S3"]
    assert update["AutoExportPolicy"] == {"Events": []}
    path = reachable(edges(defn), "DisableAutoExport")
    assert "CreateDataRepositoryTask" in path


@MODES_PARAM
def test_failed_export_keeps_the_file_system(mode):
    """Every way the export can end without proof sets $.keep and never MarkDataSafe."""
    defn = definition(mode)
    keepers = [n for n, s in defn["States"].items() if s.get("ResultPath") == "$.keep"]
    assert keepers
    for name in keepers:
        assert "MarkDataSafe" not in reachable(edges(defn), name), name


def test_autoexport_has_no_export_task():
    names = definition("autoexport")["States"]
    assert not any("createDataRepositoryTask" in s.get("Resource", "") for s in names.values())

"""The workflow graphs: targets exist, everything reachable, loops bounded, failures go through cleanup."""

import re

import pytest
from conftest import sample_refs
from hypothesis import given
from hypothesis import strategies as st

from batch_lustre.program.asl import build_definition
from batch_lustre.program.asl.history import loops, poll_loop_of
from batch_lustre.program.asl.states import OVER, Graph, all_states
from batch_lustre.program.parameters import MODES

MODES_PARAM = pytest.mark.parametrize("mode", MODES)

SEED_STATES = {
    "common": [
        "GetSecret",
        "ExtractParameters",
        "CreateLustreFileSystem",
        "CreateDataRepositoryAssociation",
        "WaitForFileSystem",
        "CheckFileSystemStatus",
        "CheckDataRepositoryAssociation",
        "IsFileSystemAndAssociationAvailable",
        "CreateLaunchTemplate",
        "UpdateComputeEnvironment",
        "CreateJobDefinition",
        "SubmitJob",
        "DeleteFSx",
    ],
    "taskexport": [
        "CreateDataRepositoryTask",
        "WaitForDataRepositoryTask",
        "CheckDataRepositoryTasks",
        "IsDataRepositoryTaskComplete",
    ],
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


def states(defn):
    """Every state, those of Parallel branches included."""
    return all_states(defn)


def edges(defn):
    """One flat graph: a Parallel leads to each branch's start, and each branch's end leads to the Parallel's Next
    (and its Catch targets)."""
    graph = {}

    def visit(machine, join):
        for name, state in machine["States"].items():
            out = successors(state)
            if state["Type"] == "Parallel":
                out = out + [branch["StartAt"] for branch in state["Branches"]]
                for branch in state["Branches"]:
                    visit(branch, successors(state))
            if join is not None and (state.get("End") or state["Type"] == "Succeed"):
                out = out + join
            graph[name] = out

    visit(defn, None)
    return graph


def reachable(graph, start, removed=frozenset()):
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node in seen or node in removed:
            continue
        seen.add(node)
        todo.extend(graph[node])
    return seen


# --- Graph.render: every target exists, every state is reachable ----------------------------------------------


def test_render_refuses_a_missing_target_naming_the_state_and_the_target():
    g = Graph()
    g.add("A", {"Type": "Pass", "Next": "B"})
    g.add(
        "B", {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Nowhere"}], "Default": "C"}
    )
    g.add("C", {"Type": "Succeed"})
    with pytest.raises(ValueError, match=r"^state 'B' goes to 'Nowhere', which is not a state$"):
        g.render("A", "probe")


def test_render_refuses_an_unreachable_state_naming_it():
    g = Graph()
    g.add("A", {"Type": "Pass", "Next": "C"})
    g.add("B", {"Type": "Pass", "Next": "C"})
    g.add("C", {"Type": "Succeed"})
    with pytest.raises(ValueError, match=r"^states not reachable from 'A': B$"):
        g.render("A", "probe")


def test_render_refuses_a_start_that_is_not_a_state():
    g = Graph()
    g.add("A", {"Type": "Succeed"})
    with pytest.raises(ValueError, match="StartAt 'B' is not a state"):
        g.render("B", "probe")


NAMES = [f"S{i}" for i in range(6)]
MISSING = ["Gone", "Elsewhere"]


@st.composite
def state_graphs(draw) -> tuple[list[str], dict[str, dict]]:
    """A few states (S0 first) of every kind that goes somewhere, each target a state or a missing name."""
    names = NAMES[: draw(st.integers(1, len(NAMES)))]
    target = st.sampled_from(names + MISSING)
    graph = {}
    for name in names:
        kind = draw(st.sampled_from(["Pass", "Choice", "Task", "Succeed", "Fail"]))
        if kind == "Pass":
            state = {"Type": "Pass", "Next": draw(target)}
        elif kind == "Choice":
            rules = draw(st.lists(target, min_size=1, max_size=3))
            state = {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": t} for t in rules],
                "Default": draw(target),
            }
        elif kind == "Task":
            state = {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets", "Next": draw(target)}
            catches = draw(st.lists(target, max_size=2))
            if catches:
                state["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": t} for t in catches]
        else:
            state = {"Type": kind}
        graph[name] = state
    return names, graph


@given(state_graphs())
def test_render_refuses_exactly_the_missing_targets_and_the_unreachable_states(generated):
    names, graph = generated
    missing = {(name, t) for name, state in graph.items() for t in successors(state) if t not in graph}
    # Reachability by this module's own successors(), not the renderer's.
    flat = {name: [t for t in successors(state) if t in graph] for name, state in graph.items()}
    unreachable = sorted(set(graph) - reachable(flat, "S0"))
    g = Graph()
    for name in names:
        g.add(name, graph[name])
    if not missing and not unreachable:
        assert g.render("S0", "probe") == {"Comment": "probe", "StartAt": "S0", "States": graph}
        return
    with pytest.raises(ValueError) as refused:
        g.render("S0", "probe")
    message = str(refused.value)
    assert set(re.findall(r"state '(\w+)' goes to '(\w+)', which is not a state", message)) == missing
    found = re.search(r"states not reachable from 'S0': ([\w, ]+)$", message)
    assert (found.group(1).split(", ") if found else []) == unreachable


@MODES_PARAM
def test_every_graph_of_the_definition_is_checked_by_render(mode, monkeypatch):
    """The top machine and every Parallel branch went through Graph.branch, so the checks above hold for all."""
    checked = []
    real_branch = Graph.branch

    def recording(self, start_at):
        rendered = real_branch(self, start_at)
        checked.append(rendered)
        return rendered

    monkeypatch.setattr(Graph, "branch", recording)
    defn = definition(mode)
    machines = [defn] + [b for s in states(defn).values() if s["Type"] == "Parallel" for b in s["Branches"]]
    assert len(machines) > 1
    for machine in machines:
        assert {"StartAt": machine["StartAt"], "States": machine["States"]} in checked, machine["StartAt"]


@MODES_PARAM
def test_the_seed_state_names_are_there(mode):
    names = set(states(definition(mode)))
    missing = [s for s in SEED_STATES["common"] + SEED_STATES[mode] if s not in names]
    assert not missing


def _counter_states(defn):
    """States that count a loop's checks: a counting Pass, or a WaitFor/CheckMetrics Task (it counts inside)."""
    return {
        name: s["ResultPath"]
        for name, s in states(defn).items()
        if (s["Type"] == "Pass" and "count.$" in s.get("Parameters", {}))
        or (s["Type"] == "Task" and poll_loop_of(s) is not None)
    }


def _ends_loop(rule: dict, counter: dict, record: str) -> bool:
    """Whether a Choice rule leaves the loop on its bound: count >= limit, or WaitFor's Outcome "over"."""
    if counter["Type"] == "Task":
        return rule.get("Variable") == f"{record}.Outcome" and rule.get("StringEquals") == OVER
    return rule.get("Variable") == f"{record}.count" and rule.get("NumericGreaterThanEqualsPath") == f"{record}.limit"


@MODES_PARAM
def test_every_cycle_passes_through_a_poll_counter(mode):
    defn = definition(mode)
    graph = edges(defn)
    assert loops(graph), "the workflow polls, so it must have loops"
    counters = set(_counter_states(defn))
    without = {n: [t for t in ts if t not in counters] for n, ts in graph.items() if n not in counters}
    assert loops(without) == [], "a loop that increments no counter could run forever"


@MODES_PARAM
def test_every_poll_counter_has_a_limit_that_leaves_its_loop(mode):
    defn = definition(mode)
    graph, all_ = edges(defn), states(defn)
    found = loops(graph)
    for counter_state, counter_path in _counter_states(defn).items():
        loop = next(c for c in found if counter_state in c)
        exits = [
            rule
            for name in loop
            if all_[name]["Type"] == "Choice"
            for rule in all_[name]["Choices"]
            if _ends_loop(rule, all_[counter_state], counter_path) and rule["Next"] not in loop
        ]
        assert exits, f"{counter_state} counts polls but nothing ends the loop on it"


@MODES_PARAM
def test_every_failure_after_the_file_system_exists_passes_through_cleanup(mode):
    defn = definition(mode)
    graph = edges(defn)
    after_create = reachable(graph, "CreateLustreFileSystem", removed=frozenset({"Cleanup"}))
    top = defn["States"]
    fails = {n for n in after_create if n in top and top[n]["Type"] in ("Fail", "Succeed")}
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
    for name, state in states(defn).items():
        if state["Type"] in ("Task", "Parallel"):
            assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), name


@MODES_PARAM
def test_every_fail_state_states_an_error_and_a_cause(mode):
    for name, state in states(definition(mode)).items():
        if state["Type"] == "Fail":
            assert ("Error" in state or "ErrorPath" in state) and ("Cause" in state or "CausePath" in state), name


def test_duplicate_state_names_are_refused():
    g = Graph()
    g.add("A", {"Type": "Succeed"})
    with pytest.raises(ValueError, match="duplicate state name 'A'"):
        g.add("A", {"Type": "Succeed"})


@MODES_PARAM
def test_the_job_is_waited_on_without_polling_and_bounded_by_the_job_timeout(mode):
    all_ = states(definition(mode))
    for name in ("SubmitJob", "SubmitArrayJob"):
        submit = all_[name]
        assert submit["Resource"] == "arn:aws:states:::batch:submitJob.sync"
        assert submit["TimeoutSecondsPath"] == "$.config.derived.jobTimeoutSeconds"
        assert submit["Parameters"]["Timeout"] == {"AttemptDurationSeconds.$": "$.config.derived.jobTimeoutSeconds"}
        catches = {name: c["Next"] for c in submit["Catch"] for name in c["ErrorEquals"]}
        assert catches["States.Timeout"] == "FindTimedOutJob"
        assert catches["Batch.ClientException"] == catches["batch.Client"] == "SubmitJobRefused"
        assert catches["Batch.ServerException"] == "JobStatusUnknown"
        assert list(catches).index("States.ALL") == len(catches) - 1 and catches["States.ALL"] == "SummarizeJobFailure"
    assert "ArrayProperties" in all_["SubmitArrayJob"]["Parameters"]
    assert "ArrayProperties" not in all_["SubmitJob"]["Parameters"]


@MODES_PARAM
def test_a_timed_out_job_is_terminated_before_its_results_are_exported(mode):
    graph = edges(definition(mode))
    after = reachable(graph, "FindTimedOutJob", removed=frozenset({"AfterJob"}))
    assert "TerminateTimedOutJob" in after and "RecordJobTimedOut" in after


@MODES_PARAM
def test_the_job_is_submitted_only_once_file_system_association_import_and_compute_are_ready(mode):
    """The only way to RunJob is past IsPrepared, after both branches of the preparation ended without failure; the
    file system's branch ends ready only after the association's import task SUCCEEDED."""
    defn = definition(mode)
    graph = edges(defn)
    preds = [n for n, ts in graph.items() if "RunJob" in ts]
    assert preds == ["IsPrepared"]
    assert defn["States"]["IsPrepared"]["Choices"] == [
        {"Variable": "$.failure", "IsPresent": True, "Next": "NothingToExport"}
    ]
    branch_ends = {name for name, s in states(defn).items() if s["Type"] == "Succeed" and name not in defn["States"]}
    assert branch_ends >= {"FileSystemReady"}
    assert [n for n, ts in graph.items() if "FileSystemReady" in ts] == ["IsImportDone"]
    assert "CheckImportTask" in graph["IsFileSystemAndAssociationAvailable"]
    ready = [r for r in states(defn)["IsImportDone"]["Choices"] if r["Next"] == "FileSystemReady"]
    assert ready == [
        {"Variable": "$.polls.fileSystem.Last.ImportLifecycle", "StringEquals": "SUCCEEDED", "Next": "FileSystemReady"}
    ]
    assert states(defn)["IsImportDone"]["Default"] == "ImportFailed"
    assert states(defn)["CreateJobDefinition"].get("End") is True  # the compute branch ends ready there


@MODES_PARAM
def test_an_invalid_compute_environment_fails_the_run_at_once(mode):
    # WaitFor returns "done" on INVALID at once (tests/test_wait_for.py); every answer but "wait more", "bound
    # reached" and "ready" ends the run as invalid.
    choice = states(definition(mode))["IsComputeEnvironmentValid"]
    assert choice["Default"] == "ComputeEnvironmentInvalid"
    assert {rule["Next"] for rule in choice["Choices"]} == {
        "WaitForComputeEnvironment",
        "ComputeEnvironmentNotReady",
        "CreateJobDefinition",
    }


@MODES_PARAM
def test_a_host_that_fails_its_mount_is_terminated_not_stopped(mode):
    data = states(definition(mode))["CreateLaunchTemplate"]["Parameters"]["LaunchTemplateData"]
    assert data["InstanceInitiatedShutdownBehavior"] == "terminate"


def test_taskexport_tracks_its_export_task_by_the_id_it_returned():
    state = definition("taskexport")["States"]["CheckDataRepositoryTasks"]
    assert state["Parameters"]["Payload"]["check"] == "exportTask"
    assert state["Parameters"]["Payload"]["taskId.$"] == "$.exportTask.TaskId"
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
    keepers = [n for n, s in states(defn).items() if s.get("ResultPath") == "$.keep"]
    assert keepers
    # A keeper inside the job's Parallel hands over to IsJobDone, whose first rule sends a kept run to Cleanup.
    assert defn["States"]["IsJobDone"]["Choices"][0] == {"Variable": "$.keep", "IsPresent": True, "Next": "Cleanup"}
    for name in keepers:
        assert "MarkDataSafe" not in reachable(edges(defn), name, removed=frozenset({"IsJobDone"})), name


def test_autoexport_deletes_only_after_a_drained_metric_or_a_successful_export_task():
    defn = definition("autoexport")
    graph = edges(defn)
    preds = sorted(n for n, ts in graph.items() if "MarkDataSafe" in ts)
    assert preds == ["IsDataRepositoryTaskComplete", "IsExportDone"]
    drained = [r for r in defn["States"]["IsExportDone"]["Choices"] if r["Next"] == "MarkDataSafe"]
    assert drained == [{"Variable": "$.polls.metrics.Last.state", "StringEquals": "DRAINED", "Next": "MarkDataSafe"}]
    assert "CreateDataRepositoryTask" in reachable(graph, "ExportPendingFiles")


# --- Retry: only errors that can heal (Step Functions, "Error handling": States.TaskFailed matches every error but
# States.Timeout, so retrying it retries AccessDenied and validation errors too) ---------------------------------


@MODES_PARAM
def test_no_state_retries_a_wildcard_error(mode):
    for name, state in states(definition(mode)).items():
        for retrier in state.get("Retry", []):
            assert not {"States.TaskFailed", "States.ALL"} & set(retrier["ErrorEquals"]), name


@MODES_PARAM
def test_aws_sdk_tasks_retry_throttling_and_server_errors_of_their_own_service_only(mode):
    for name, state in states(definition(mode)).items():
        if not state.get("Resource", "").startswith("arn:aws:states:::aws-sdk:"):
            continue
        service = state["Resource"].split(":")[6]
        prefix = {
            "fsx": "FSx",
            "batch": "Batch",
            "ec2": "Ec2",
            "sfn": "Sfn",
            "secretsmanager": "SecretsManager",
            "ecr": "Ecr",
        }
        names = {n for r in state.get("Retry", []) for n in r["ErrorEquals"]}
        assert names, f"{name} retries nothing"
        assert f"{prefix[service]}.ThrottlingException" in names, name
        assert all(n.split(".")[0].lower() in (service, "awsbatch") for n in names), name
        assert not any("AccessDenied" in n or "Validation" in n for n in names), name


def test_the_transient_codes_hold_botocore_s_standard_retry_codes_that_these_services_answer_with():
    from botocore.retries.standard import ThrottledRetryableChecker

    from batch_lustre.program.asl.states import THROTTLING_CODES

    # LimitExceededException is a quota refusal in FSx and Batch, not a throttle; the others are other services'.
    others = {"ProvisionedThroughputExceededException", "TransactionInProgressException", "BandwidthLimitExceeded",
              "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
              "EC2ThrottledException"}  # fmt: skip
    assert set(ThrottledRetryableChecker._THROTTLED_ERROR_CODES) - others <= set(THROTTLING_CODES)


@MODES_PARAM
def test_lambda_tasks_retry_lambda_s_transient_errors_as_aws_recommends(mode):
    recommended = {
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    }
    for name, state in states(definition(mode)).items():
        if state.get("Resource") == "arn:aws:states:::lambda:invoke":
            assert {n for r in state["Retry"] for n in r["ErrorEquals"]} == recommended, name
            # the retrier of AWS's page (bp-lambda-serviceexception): 6 attempts, 2 s, twofold
            (retrier,) = state["Retry"]
            assert (retrier["MaxAttempts"], retrier["IntervalSeconds"], retrier["BackoffRate"]) == (6, 2, 2), name


@MODES_PARAM
def test_a_refused_submit_fails_the_job_branch_by_name_and_run_job_catches_it_first(mode):
    all_ = states(definition(mode))
    assert all_["SubmitJobRefused"] == {"Type": "Fail", "Error": "JobRefused", "CausePath": "$.error.Cause"}
    assert all_["RunJob"]["Catch"][0] == {
        "ErrorEquals": ["JobRefused"],
        "ResultPath": "$.error",
        "Next": "RecordJobRefused",
    }
    assert all_["RecordJobRefused"]["Next"] == "NothingToExport"

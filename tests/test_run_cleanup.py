"""The run-cleanup state machine (asl/run_cleanup.py): its graph, its EventBridge rule, and end-to-end runs on the
emulated AWS after a run left its resources behind (stopped by StopExecution, or left by ``leave_run``).

The component that deploys it is tested here too, alone, with ``@pulumi.runtime.test`` under the project's mocks.
"""

from __future__ import annotations

import ast
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pytest
from conftest import sample_refs
from test_find_run_resources import FILES, LONG_JOB, RUN, client, leave_run

from batch_lustre.emulation import (
    BatchScenario,
    Emulation,
    FsxScenario,
    Scenario,
    run_workflow,
    setup_stack,
    start_workflow,
)
from batch_lustre.emulation.runner import RunResult, leftovers, stop_workflow, wait_for_executions
from batch_lustre.emulation.stack import (
    EmulatedStack,
    setup_run_cleanup,
)
from batch_lustre.program import asl
from batch_lustre.program.asl import iam
from batch_lustre.program.asl.history import HISTORY_LIMIT, loops, poll_loop_of, worst_case_events
from batch_lustre.program.asl.naming import TAG_KEPT, TAG_RUN, run_cleanup_state_machine_name
from batch_lustre.program.asl.run_cleanup import (
    STATUS_CHANGE_DETAIL_TYPE,
    STATUS_CHANGE_SOURCE,
    build_run_cleanup,
    start_run_cleanup_policy,
    status_change_event_pattern,
)
from batch_lustre.program.asl.sections import AFTER_JOB, CLEANUP, MARK_DATA_SAFE
from batch_lustre.program.asl.states import OVER, targets
from batch_lustre.program.parameters import MODES, loop_turns, parameters_for

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "asl" / "run_cleanup.py"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:find-run-resources"
MODES_PARAM = pytest.mark.parametrize("mode", MODES)


def definition(mode: str) -> dict:
    refs = sample_refs(mode)
    return build_run_cleanup(
        refs,
        find_run_resources_function_arn=FUNCTION,
        extract_parameters_function_arn=refs.extract_parameters_function_arn,
    )


def graph(defn: dict) -> dict[str, list[str]]:
    return {name: targets(state) for name, state in defn["States"].items()}


def reachable(edges: dict[str, list[str]], start: str, removed: frozenset[str] = frozenset()) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node in seen or node in removed:
            continue
        seen.add(node)
        todo.extend(edges[node])
    return seen


def counters(defn: dict) -> dict[str, str]:
    """Poll-counting states (``asl.states.next_poll``, or a WaitFor Task: it counts inside) -> their poll record."""
    return {
        name: s["ResultPath"]
        for name, s in defn["States"].items()
        if (s["Type"] == "Pass" and "count.$" in s.get("Parameters", {}))
        or (s["Type"] == "Task" and poll_loop_of(s) is not None)
    }


# --- the graph ------------------------------------------------------------------------------------


@MODES_PARAM
def test_every_transition_target_exists_and_every_state_is_reachable(mode):
    defn = definition(mode)
    edges = graph(defn)
    assert all(t in defn["States"] for ts in edges.values() for t in ts)
    assert reachable(edges, defn["StartAt"]) == set(defn["States"])


@MODES_PARAM
def test_every_path_from_a_found_file_system_ends_through_cleanup(mode):
    defn = definition(mode)
    edges = graph(defn)
    before_cleanup = reachable(edges, "RecordFileSystem", removed=frozenset({CLEANUP}))
    ends = {n for n in before_cleanup if defn["States"][n]["Type"] in ("Fail", "Succeed")}
    assert not ends, f"end states reachable from RecordFileSystem without Cleanup: {ends}"
    assert CLEANUP in reachable(edges, "RecordFileSystem")


@MODES_PARAM
def test_the_file_system_is_deleted_only_from_cleanup_when_its_data_is_safe(mode):
    defn = definition(mode)
    edges = graph(defn)
    assert [n for n, ts in edges.items() if "DeleteFileSystem" in ts] == [CLEANUP]
    rules = defn["States"][CLEANUP]["Choices"]
    to_delete_only_by_default = all(rule["Next"] != "DeleteFileSystem" for rule in rules)
    assert to_delete_only_by_default and defn["States"][CLEANUP]["Default"] == "DeleteFileSystem"
    text = json.dumps(rules)
    assert '"Variable": "$.dataSafe", "IsPresent": false' in text
    assert '"BooleanEquals": false, "Next": "KeepFileSystemOnRequest"' in text
    # Data is marked safe only by the export section (task SUCCEEDED) or when the job never ran.
    safe = [n for n, s in defn["States"].items() if s.get("ResultPath") == "$.dataSafe"]
    assert sorted(safe) == [MARK_DATA_SAFE, "NothingToExport"]
    assert [n for n, ts in edges.items() if "NothingToExport" in ts] == ["IsFailedFileSystemEmpty", "WasJobRun"]
    for name in ("IsFailedFileSystemEmpty", "WasJobRun"):
        assert defn["States"][name]["Choices"] == [
            {"Variable": "$.found.jobsRan", "BooleanEquals": False, "Next": "NothingToExport"}
        ]


@MODES_PARAM
def test_a_job_that_ran_is_exported_first_through_the_export_section(mode):
    defn = definition(mode)
    assert graph(defn)["RecordAssociation"] == [AFTER_JOB]
    assert defn["States"]["CreateDataRepositoryTask"]["Parameters"]["Type"] == "EXPORT_TO_REPOSITORY"
    assert defn["States"][AFTER_JOB]["Choices"][0]["Next"] == "DisableAutoExport"


@MODES_PARAM
def test_no_file_system_is_touched_before_the_jobs_asked_to_terminate_have_ended(mode):
    defn = definition(mode)
    edges = graph(defn)
    # From RecordFileSystem, the export and Cleanup are reached only through AreJobsUnfinished's waiting loop
    # (or a keep, which deletes nothing).
    without_jobs_wait = reachable(edges, "AreJobsUnfinished", removed=frozenset({"StartJobsEndPolls"}))
    assert "StartJobsEndPolls" in edges["AreJobsUnfinished"]
    assert defn["States"]["AreJobsUnfinished"]["Choices"] == [
        {"Variable": "$.found.jobsUnfinished[0]", "IsPresent": True, "Next": "StartJobsEndPolls"}
    ]
    assert AFTER_JOB in without_jobs_wait  # reached directly only when no job was left unfinished


@MODES_PARAM
def test_every_loop_counts_its_checks_and_ends_on_its_limit(mode):
    defn = definition(mode)
    edges = graph(defn)
    found = loops(edges)
    assert len(found) >= 4, "jobs, file system, and the export section's loops"
    counting = set(counters(defn))
    without = {n: [t for t in ts if t not in counting] for n, ts in edges.items() if n not in counting}
    assert loops(without) == [], "a loop that counts nothing could run forever"
    for counter, record in counters(defn).items():
        loop = next(c for c in found if counter in c)
        exits = [
            rule
            for n in loop
            if defn["States"][n]["Type"] == "Choice"
            for rule in defn["States"][n]["Choices"]
            if (
                (
                    rule.get("Variable") == f"{record}.count"
                    and rule.get("NumericGreaterThanEqualsPath") == f"{record}.limit"
                )
                or (rule.get("Variable") == f"{record}.Outcome" and rule.get("StringEquals") == OVER)
            )
            and rule["Next"] not in loop
        ]
        assert exits, f"{counter} counts checks but nothing ends its loop"


@MODES_PARAM
def test_the_run_cleanup_of_the_defaults_stays_under_the_history_limit(mode):
    # The defaults; every accepted set: tests/test_asl_history.py.
    defaults = {p.name: p.defaults[mode] for p in parameters_for(mode, runtime=True)}
    worst = worst_case_events(definition(mode), loop_turns(defaults, mode))
    assert worst < HISTORY_LIMIT, f"{mode}: up to {worst} history events"


@MODES_PARAM
def test_every_task_is_caught_and_every_fail_says_what_and_why(mode):
    for name, state in definition(mode)["States"].items():
        if state["Type"] == "Task":
            assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), name
        if state["Type"] == "Fail":
            assert ("Error" in state or "ErrorPath" in state) and ("Cause" in state or "CausePath" in state), name


def _literal_state_names(path: Path, *, strict: bool) -> set[str]:
    """First arguments of ``g.add(...)`` in ``path`` that are string literals; ``strict``: raise on any other kind
    (the shared entry names CLEANUP, AFTER_JOB and MARK_DATA_SAFE aside)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "add"
            and node.args
        ):
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
            elif strict and not (
                isinstance(first, ast.Name) and first.id in ("CLEANUP", "AFTER_JOB", "MARK_DATA_SAFE")
            ):
                raise AssertionError(f"{path.name}:{first.lineno}: a state name that is not a plain literal")
    return names


def test_state_names_are_plain_literals_a_text_search_finds():
    ours = _literal_state_names(SOURCE, strict=True)
    shared = set().union(
        *(
            _literal_state_names(ROOT / "asl" / name, strict=False)
            for name in ("task_export.py", "cleanup.py", "run_start.py")
        )
    )
    text = SOURCE.read_text()
    for mode in MODES:
        for name in definition(mode)["States"]:
            if name in (CLEANUP, AFTER_JOB, MARK_DATA_SAFE):
                continue
            assert name in ours or name in shared, f"{name} is named nowhere as a literal"
            if name in ours:
                assert f'"{name}"' in text


@MODES_PARAM
def test_what_the_export_section_tags_names_the_run_not_run_cleanup(mode):
    defn = definition(mode)
    assert "$$.Execution.Name" not in json.dumps(defn)
    tags = defn["States"]["CreateDataRepositoryTask"]["Parameters"]["Tags"]
    assert {"Key": TAG_RUN, "Value.$": "$.run.executionName"} in tags


@MODES_PARAM
def test_run_cleanup_uses_its_own_client_tokens_with_the_runs_parameters(mode):
    states = definition(mode)["States"]
    assert states["ExtractParameters"]["Parameters"]["Payload"] == {
        "secretString.$": "$.secret.SecretString",
        "executionName.$": "$.run.executionName",
        "input": {},
    }
    assert states["UseOwnClientToken"]["Parameters"]["derived.$"] == (
        "States.JsonMerge($.config.derived, $.cleanupToken, false)"
    )
    assert states["ReadRunEvent"]["Parameters"]["cleanupToken"] == {
        "clientRequestToken.$": "States.Hash($$.Execution.Id, 'MD5')"
    }


def test_the_finder_is_called_with_the_runs_names_and_the_stacks_resources():
    refs = sample_refs("taskexport")
    payload = definition("taskexport")["States"]["FindRunResources"]["Parameters"]["Payload"]
    assert payload == {
        "executionName.$": "$.run.executionName",
        "executionArn.$": "$.run.executionArn",
        "cleanupExecutionArn.$": "$$.Execution.Id",  # it takes the run's lane for this execution
        "stack": refs.stack,
        "stackId": refs.stack_id,
        "mode": refs.mode,
        "namePrefix": refs.name_prefix,
        "laneTable": refs.lane_table_name,
        "lanes": [
            {
                "index": 0,
                "computeEnvironmentArn": refs.lanes[0].compute_environment_arn,
                "jobQueueArn": refs.lanes[0].job_queue_arn,
                "baselineLaunchTemplateId": refs.lanes[0].baseline_launch_template_id,
                "baselineLaunchTemplateVersion": refs.lanes[0].baseline_launch_template_version,
            }
        ],
    }


def test_the_role_policy_is_derived_from_the_definition():
    refs = sample_refs("taskexport")
    policy = iam.state_machine_policy(refs, definition("taskexport"))
    allowed = {a for s in policy["Statement"] for a in s["Action"]}
    assert {
        "fsx:DeleteFileSystem",
        "fsx:TagResource",
        "fsx:CreateDataRepositoryTask",
        "batch:DescribeJobs",
        "secretsmanager:GetSecretValue",
        "lambda:InvokeFunction",
    } <= allowed
    invoke = next(s for s in policy["Statement"] if s["Action"] == ["lambda:InvokeFunction"])
    assert FUNCTION in invoke["Resource"] and refs.extract_parameters_function_arn in invoke["Resource"]
    assert "fsx:CreateFileSystem" not in allowed and "batch:SubmitJob" not in allowed


def test_the_rule_matches_abnormal_ends_of_the_workflow_only():
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:taskexport-taskexport-workflow"
    assert status_change_event_pattern(arn) == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": [arn]},
    }
    assert start_run_cleanup_policy("arn:x") == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": ["arn:x"]}],
    }
    assert run_cleanup_state_machine_name("taskexport", "prod") == "taskexport-prod-run-cleanup"


def test_the_definition_needs_both_function_arns():
    with pytest.raises(ValueError, match="FindRunResources"):
        build_run_cleanup(
            sample_refs("taskexport"), find_run_resources_function_arn="", extract_parameters_function_arn="x"
        )


# --- end to end on the emulated AWS --------------------------------------------------------------


@dataclass
class Deployed:
    definition: dict
    role_arn: str
    function_arn: str
    name: str


def deploy(emu: Emulation, stack: EmulatedStack) -> Deployed:
    """The run cleanup as the program deployed it with ``stack`` (function, state machine, role)."""
    cleanup = setup_run_cleanup(emu, stack)
    name = cleanup.state_machine_arn.rsplit(":", 1)[-1]
    return Deployed(cleanup.definition, cleanup.role_arn, cleanup.find_run_resources_function_arn, name)


def status_event(emu: Emulation, stack: EmulatedStack, status: str = "ABORTED", name: str = RUN) -> dict:
    """The "Step Functions Execution Status Change" event of run ``name`` (Step Functions developer guide,
    "EventBridge (CloudWatch Events) for Step Functions execution status changes", examples)."""
    machine = f"arn:aws:states:{emu.region}:{emu.account_id}:stateMachine:{stack.refs.state_machine_name}"
    execution = f"arn:aws:states:{emu.region}:{emu.account_id}:execution:{stack.refs.state_machine_name}:{name}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": STATUS_CHANGE_DETAIL_TYPE,
        "source": STATUS_CHANGE_SOURCE,
        "account": emu.account_id,
        "time": "2026-01-01T00:00:00Z",
        "region": emu.region,
        "resources": [execution],
        "detail": {
            "executionArn": execution,
            "stateMachineArn": machine,
            "name": name,
            "status": status,
            "startDate": 1,
            "stopDate": 2,
            "input": "{}",
            "inputDetails": {"included": True},
            "output": None,
            "outputDetails": None,
        },
    }


def clean_up(
    emu: Emulation,
    stack: EmulatedStack,
    deployed: Deployed,
    status: str = "ABORTED",
    execution_name: str = "cleanup-1",
    execution_input: dict | None = None,
) -> RunResult:
    return run_workflow(
        deployed.definition,
        role_arn=deployed.role_arn,
        name=deployed.name,
        execution_name=execution_name,
        execution_input=execution_input if execution_input is not None else status_event(emu, stack, status),
        timeout_seconds=120,
    )


def nothing_left(emu: Emulation, stack: EmulatedStack, name: str = RUN) -> None:
    left = leftovers(emu, stack, name)
    assert left.none, left


def tags_of_file_system(fs_id: str) -> dict[str, str]:
    fs = client("fsx").describe_file_systems(FileSystemIds=[fs_id])["FileSystems"][0]
    return {t["Key"]: t["Value"] for t in fs.get("Tags", [])}


def wait_until_waiting(execution_arn: str, count: int, seconds: float = 10.0) -> None:
    """Until ``count`` waits of the execution are held (its Parallel's branches all parked)."""
    from batch_lustre.emulation.sfn import held

    deadline = time.monotonic() + seconds
    while held(execution_arn) < count:
        assert time.monotonic() < deadline, f"{execution_arn}: fewer than {count} held waits within {seconds} s"
        time.sleep(0.01)


def test_a_run_stopped_early_is_cleaned_up_by_run_cleanup_started_from_the_eventbridge_rule():
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport")
        refs, deployed = stack.refs, deploy(emu, stack)
        machine = f"arn:aws:states:{emu.region}:{emu.account_id}:stateMachine:{refs.state_machine_name}"
        cleanup_arn = client("stepfunctions").create_state_machine(
            name=deployed.name,
            definition=json.dumps(deployed.definition),
            roleArn=deployed.role_arn,
        )["stateMachineArn"]
        client("events").put_rule(Name=deployed.name, EventPattern=json.dumps(status_change_event_pattern(machine)))
        client("events").put_targets(
            Rule=deployed.name,
            Targets=[
                {"Id": "run-cleanup", "Arn": cleanup_arn, "RoleArn": f"arn:aws:iam::{emu.account_id}:role/events"}
            ],
        )
        emu.hold_waits()
        try:
            started = start_workflow(
                asl.build_definition(refs), role_arn=stack.role_arn, name=refs.state_machine_name, execution_name=RUN
            )
            wait_until_waiting(started.execution_arn, 2)  # both preparation branches wait
            run = stop_workflow(started, "Stopped", "by the test", stack=stack)
        finally:
            emu.release_waits()
        assert run.status == "ABORTED"
        assert run.leftovers.file_systems and run.leftovers.launch_templates  # what the run left
        cleanups = wait_for_executions(emu, cleanup_arn, at_least=1, timeout_seconds=120)
        assert [(c.status, c.error) for c in cleanups] == [("SUCCEEDED", None)], cleanups[0].cause
        cleanup = cleanups[0]
        assert cleanup.output["run"] == {"executionName": RUN, "executionArn": run.execution_arn, "status": "ABORTED"}
        assert cleanup.output["fileSystem"]["FileSystemDeleted"] is True
        assert "CreateDataRepositoryTask" not in cleanup.states()  # the job never ran: nothing to export
        nothing_left(emu, stack)


def test_a_run_stopped_while_its_job_ran_is_exported_then_deleted():
    with Emulation(Scenario(batch=LONG_JOB)) as emu:
        stack = setup_stack(emu, "taskexport")
        left = leave_run(emu, stack)
        result = clean_up(emu, stack, deploy(emu, stack))
        assert (result.status, result.error) == ("SUCCEEDED", None), result.cause
        assert emu.batch.jobs[left.job_id].status == "FAILED"
        exported = emu.s3_objects(stack.refs.bucket_name, "results/")
        assert exported == FILES
        # The export ran after the job had ended (nothing written after the export), then the delete.
        job_end = emu.batch.jobs[left.job_id].stopped_at
        tasks = [*emu.fsx.tasks.values(), *emu.fsx.removed_tasks.values()]  # the deleted file system's too
        export = next(t for t in tasks if t.task_type == "EXPORT_TO_REPOSITORY")
        assert export.created_at >= job_end
        assert emu.fsx.file_systems[left.file_system_id].delete_requested_at >= export.end_time
        assert export.tags and {"Key": TAG_RUN, "Value": RUN} in export.tags
        nothing_left(emu, stack)


def test_a_failed_export_keeps_the_file_system_tagged_and_run_cleanup_fails_naming_it():
    with Emulation(Scenario(batch=LONG_JOB, fsx=FsxScenario(export_outcome="FAILED"))) as emu:
        stack = setup_stack(emu, "taskexport")
        left = leave_run(emu, stack)
        result = clean_up(emu, stack, deploy(emu, stack))
        assert (result.status, result.error) == ("FAILED", "FileSystemKept")
        assert left.file_system_id in result.cause and "ended FAILED" in result.cause
        assert emu.fsx.file_systems[left.file_system_id].lifecycle == "AVAILABLE"
        assert tags_of_file_system(left.file_system_id)[TAG_KEPT].startswith(f"run {RUN} ended ABORTED")
        assert result.calls.get("fsx:deleteFileSystem", 0) == 0
        remaining = leftovers(emu, stack, RUN)
        assert remaining.file_systems == [(left.file_system_id, "AVAILABLE")]
        assert not remaining.launch_templates and not remaining.active_job_definitions
        assert remaining.compute_environment_restored and not remaining.unfinished_jobs


def test_a_run_whose_job_never_started_is_deleted_without_an_export():
    with Emulation(Scenario(batch=BatchScenario(capacity_available=False))) as emu:
        stack = setup_stack(emu, "taskexport")
        left = leave_run(emu, stack, job="submitted")
        emu.advance(300)
        result = clean_up(emu, stack, deploy(emu, stack))
        assert (result.status, result.error) == ("SUCCEEDED", None), result.cause
        assert "fsx:createDataRepositoryTask" not in result.calls
        assert emu.fsx.file_systems[left.file_system_id].delete_requested_at is not None
        nothing_left(emu, stack)


def test_a_file_system_the_run_kept_is_left_to_the_user():
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport")
        left = leave_run(emu, stack, job=None)
        client("fsx").tag_resource(
            ResourceARN=f"arn:aws:fsx:{emu.region}:{emu.account_id}:file-system/{left.file_system_id}",
            Tags=[{"Key": TAG_KEPT, "Value": "true"}],
        )
        result = clean_up(emu, stack, deploy(emu, stack), status="FAILED")
        assert (result.status, result.error) == ("SUCCEEDED", None), result.cause
        assert result.output["fileSystem"]["FileSystemDeleted"] is False
        assert "fsx:deleteFileSystem" not in result.calls and "fsx:createDataRepositoryTask" not in result.calls
        assert emu.fsx.file_systems[left.file_system_id].lifecycle == "AVAILABLE"


def test_delete_lustre_false_exports_then_keeps_the_file_system_and_succeeds():
    with Emulation(Scenario(batch=LONG_JOB)) as emu:
        stack = setup_stack(emu, "taskexport", runtime_params={"deleteLustre": False})
        left = leave_run(emu, stack)
        result = clean_up(emu, stack, deploy(emu, stack))
        assert (result.status, result.error) == ("SUCCEEDED", None), result.cause
        assert emu.s3_objects(stack.refs.bucket_name, "results/") == FILES
        assert result.output["fileSystem"] == {
            "FileSystemDeleted": False,
            "Reason": "deleteLustre=false",
            "FileSystemId": left.file_system_id,
        }
        assert tags_of_file_system(left.file_system_id)[TAG_KEPT] == "deleteLustre=false"


def test_autoexport_turns_auto_export_off_then_exports_and_deletes():
    with Emulation(Scenario(batch=LONG_JOB)) as emu:
        stack = setup_stack(emu, "autoexport")
        left = leave_run(emu, stack)
        result = clean_up(emu, stack, deploy(emu, stack), status="TIMED_OUT")
        assert (result.status, result.error) == ("SUCCEEDED", None), result.cause
        assert result.calls.get("fsx:updateDataRepositoryAssociation") == 1
        assert result.calls.get("fsx:createDataRepositoryTask", 0) >= 1
        assert (
            emu.fsx.associations.get(left.association_id) is None
            or emu.fsx.associations[left.association_id].export_events() == []
        )
        assert emu.s3_objects(stack.refs.bucket_name, "results/") == FILES
        nothing_left(emu, stack)


def test_unreadable_parameters_keep_the_file_system_and_undo_everything_else():
    with Emulation(Scenario(batch=LONG_JOB)) as emu:
        stack = setup_stack(emu, "taskexport", secret_string="not json")
        left = leave_run(emu, stack)
        result = clean_up(emu, stack, deploy(emu, stack))
        assert (result.status, result.error) == ("FAILED", "FileSystemKept")
        assert left.file_system_id in result.cause and "deleteLustre is unknown" in result.cause
        remaining = leftovers(emu, stack, RUN)
        assert remaining.file_systems == [(left.file_system_id, "AVAILABLE")]
        assert not remaining.launch_templates and not remaining.active_job_definitions
        assert remaining.compute_environment_restored


def test_run_cleanup_a_second_time_finds_nothing_left_to_do():
    with Emulation(Scenario(batch=LONG_JOB)) as emu:
        stack = setup_stack(emu, "taskexport")
        leave_run(emu, stack)
        deployed = deploy(emu, stack)
        first = clean_up(emu, stack, deployed)
        assert first.status == "SUCCEEDED", first.cause
        emu.advance(600)  # the deletion completes
        second = clean_up(emu, stack, deployed, execution_name="cleanup-2")
        assert (second.status, second.error) == ("SUCCEEDED", None), second.cause
        assert second.output["actions"] == []
        assert not {"fsx:deleteFileSystem", "fsx:createDataRepositoryTask", "batch:describeJobs"} & set(second.calls)


@pytest.mark.parametrize(
    "event, error",
    [
        ({}, "NotARunStatusEvent"),
        ({"detail": {"name": RUN, "executionArn": "arn", "status": "RUNNING"}}, "RunNotEndedWithoutCleanup"),
        ({"detail": {"name": RUN, "executionArn": "arn", "status": "SUCCEEDED"}}, "RunNotEndedWithoutCleanup"),
    ],
)
def test_an_input_that_is_not_an_abnormal_end_of_a_run_is_refused(event, error):
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport")
        leave_run(emu, stack, job=None)
        result = clean_up(emu, stack, deploy(emu, stack), execution_input=event)
        assert (result.status, result.error) == ("FAILED", error)
        assert "lambda:invoke" not in result.calls


# --- the component ----------------------------------------------------------------------------------


@pytest.fixture
def mocks():
    from offline_stacks import RecordingMocks
    from pulumi.runtime import settings as runtime_settings

    recording = RecordingMocks()
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(recording, project="batch-lustre", stack="taskexport", preview=False)
    return recording


def component(name: str = "taskexport"):
    from batch_lustre.program.components.run_cleanup import RunCleanup, RunCleanupArgs
    from batch_lustre.program.components.workflow import LaneArgs, WorkflowArgs

    account, region = "123456789012", "us-east-1"
    workflow = WorkflowArgs(
        stack="taskexport",
        mode="taskexport",
        stack_id="5eed0001",
        name_prefix="taskexport",
        max_vcpus=256,
        secret_arn=f"arn:aws:secretsmanager:{region}:{account}:secret:params-AbCdEf",
        bucket_name="data-bucket",
        private_subnet_ids=["subnet-0123456789abcdef0"],
        lustre_security_group_id="sg-0123456789abcdef0",
        lanes=[
            LaneArgs(
                compute_environment_arn=f"arn:aws:batch:{region}:{account}:compute-environment/ce",
                job_queue_arn=f"arn:aws:batch:{region}:{account}:job-queue/queue",
                baseline_launch_template_id="lt-0123456789abcdef0",
                baseline_launch_template_version="1",
            )
        ],
        lane_table_name="taskexport-5eed0001-lanes",
        repository_url=f"{account}.dkr.ecr.{region}.amazonaws.com/job",
        job_log_group_name="/batch-lustre/taskexport-taskexport/jobs",
        tags={"batch-lustre:stack": "taskexport"},
    )
    return RunCleanup(
        name,
        RunCleanupArgs(
            mode="taskexport",
            workflow=workflow,
            workflow_state_machine_arn=f"arn:aws:states:{region}:{account}:stateMachine:taskexport-taskexport-workflow",
            workflow_state_machine_name="taskexport-taskexport-workflow",
            extract_parameters_function_arn=f"arn:aws:lambda:{region}:{account}:function:extract-parameters",
            wait_for_function_arn=f"arn:aws:lambda:{region}:{account}:function:wait-for",
        ),
    )


def recorded(mocks, type_token: str) -> list:
    return [r for r in mocks.resources if r.type == type_token]


@pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws")
@pulumi.runtime.test
def test_the_component_deploys_the_state_machine_from_its_builder(mocks):
    cleanup = component()

    def check(values):
        definition_text, machine_arn, function_arn = values
        machines = recorded(mocks, "aws:sfn/stateMachine:StateMachine")
        assert [m.inputs["name"] for m in machines] == ["taskexport-taskexport-run-cleanup"]
        assert machines[0].inputs["type"] == "STANDARD"
        assert machines[0].inputs["loggingConfiguration"]["level"] == "ALL"
        definition = json.loads(definition_text)
        assert definition["StartAt"] == "CheckRunEvent"
        assert definition["States"]["FindRunResources"]["Parameters"]["FunctionName"] == function_arn
        assert json.loads(machines[0].inputs["definition"]) == definition
        assert all(r.name.startswith("taskexport-run-cleanup") for r in mocks.resources if r.custom)

    return pulumi.Output.all(
        cleanup.definition, cleanup.state_machine_arn, cleanup.find_run_resources_function_arn
    ).apply(check)


@pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws")
@pulumi.runtime.test
def test_the_rule_starts_run_cleanup_on_the_workflows_abnormal_ends_with_a_role_allowed_only_that(mocks):
    cleanup = component()

    def check(values):
        machine_arn, _ = values
        rule = recorded(mocks, "aws:cloudwatch/eventRule:EventRule")[0]
        assert json.loads(rule.inputs["eventPattern"]) == status_change_event_pattern(
            "arn:aws:states:us-east-1:123456789012:stateMachine:taskexport-taskexport-workflow"
        )
        target = recorded(mocks, "aws:cloudwatch/eventTarget:EventTarget")[0]
        assert target.inputs["arn"] == machine_arn and target.inputs["rule"] == rule.state["name"]
        roles = {r.name: r for r in recorded(mocks, "aws:iam/role:Role")}
        events_role = roles["taskexport-run-cleanup-events-role"]
        assert json.loads(events_role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {
            "Service": "events.amazonaws.com"
        }
        assert target.inputs["roleArn"] == events_role.state["arn"]
        policies = {p.name: json.loads(p.inputs["policy"]) for p in recorded(mocks, "aws:iam/rolePolicy:RolePolicy")}
        assert policies["taskexport-run-cleanup-events-policy"] == start_run_cleanup_policy(machine_arn)

    return pulumi.Output.all(cleanup.state_machine_arn, cleanup.target.id).apply(check)


@pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws")
@pulumi.runtime.test
def test_the_roles_allow_what_the_definition_and_the_handler_call(mocks):
    cleanup = component()

    def check(values):
        definition_text, function_arn, _ = values
        policies = {p.name: json.loads(p.inputs["policy"]) for p in recorded(mocks, "aws:iam/rolePolicy:RolePolicy")}
        refs = sample_refs("taskexport")
        state_machine = policies["taskexport-run-cleanup-state-machine-policy"]
        allowed = {a for s in state_machine["Statement"] for a in s["Action"]}
        assert allowed == {
            a for s in iam.state_machine_policy(refs, json.loads(definition_text))["Statement"] for a in s["Action"]
        }
        handler = policies["taskexport-run-cleanup-find-run-resources-policy"]
        handler_actions = {a for s in handler["Statement"] for a in s["Action"]}
        assert set(iam.LAMBDA_ACTIONS["find_run_resources"]) <= handler_actions
        logs = [s for s in handler["Statement"] if "logs:PutLogEvents" in s["Action"]]
        assert len(logs) == 1 and logs[0]["Resource"][0].endswith(":*") and "*" not in logs[0]["Resource"]
        function = recorded(mocks, "aws:lambda/function:Function")[0]
        assert function.inputs["handler"] == "find_run_resources.handler"
        assert function.inputs["runtime"] == "python3.12"
        assert set(function.inputs["code"].assets) == {"find_run_resources.py"}

    # The state machine (and the function) wait for their role's policy: once they are declared, so is it.
    return pulumi.Output.all(
        cleanup.definition, cleanup.find_run_resources_function_arn, cleanup.state_machine_arn
    ).apply(check)

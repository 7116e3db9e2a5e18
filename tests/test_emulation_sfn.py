"""Step Functions in the emulation: quotas, ends without cleanup, EventBridge status events, error names, figures.

Each test runs small state machines on the emulation and checks what AWS would do (docs/aws-rules.md,
"Step Functions and EventBridge"): the history quota (25,000 events), the payload quota (256 KiB,
States.DataLimitExceeded), States.Runtime / States.DataLimitExceeded not caught by States.ALL,
StopExecution (ABORTED) and TimeoutSeconds (TIMED_OUT on the emulated clock), the "Step Functions
Execution Status Change" events an EventBridge rule routes to a second state machine, and the switchable
spelling of aws-sdk error names.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest

from batch_lustre.emulation import Emulation, Fault, Scenario, error_names, events, run_workflow, sfn, start_workflow
from batch_lustre.emulation.figures import FIGURE_KEYS
from batch_lustre.emulation.fsx import Association, FileSystemState, RepositoryTask
from batch_lustre.emulation.runner import (
    RunResult,
    figures,
    run_figures,
    stop_workflow,
    transitions,
    wait_for_executions,
)
from batch_lustre.program.asl.states import error_names as asl_error_names

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/test-workflow"
EVENTS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/test-events-start-cleanup"
MISSING_FS = "fs-0123456789abcdef0"


@functools.cache
def client(service: str):
    return boto3.client(service, region_name=REGION)


ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


@contextmanager
def emulation(scenario: Scenario | None = None) -> Iterator[Emulation]:
    """An emulation whose workflow and EventBridge roles exist and may do anything (these tests probe Step
    Functions, not IAM)."""
    with Emulation(scenario) as emu:
        for arn, service in ((ROLE, "states.amazonaws.com"), (EVENTS_ROLE, "events.amazonaws.com")):
            name = arn.rsplit("/", 1)[-1]
            trust = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
            }
            client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
            client("iam").put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=ALLOW_ALL)
        yield emu


def run(definition: dict, name: str = "probe", execution_name: str = "run-1", **kwargs) -> RunResult:
    return run_workflow(definition, role_arn=ROLE, name=name, execution_name=execution_name, **kwargs)


def task(resource: str, parameters: dict, next_state: str | None = "Done", **extra) -> dict:
    state = {"Type": "Task", "Resource": f"arn:aws:states:::aws-sdk:{resource}", "Parameters": parameters, **extra}
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state


def catch(*names: str, next_state: str = "Cleanup") -> list[dict]:
    return [{"ErrorEquals": list(names), "ResultPath": "$.error", "Next": next_state}]


CLEANUP = {"Cleanup": {"Type": "Pass", "End": True}, "Done": {"Type": "Pass", "End": True}}


def until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def entered(execution_arn: str, kind: str) -> bool:
    history = client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return any(e["type"] == kind for e in history)


# --- history quota -------------------------------------------------------------------------------

# A polling loop that never ends by itself: Task -> Pass -> Choice -> Task ...; every Task failure is caught
# (States.ALL and, explicitly, States.Runtime) into a Cleanup state.
POLL_FOREVER = {
    "StartAt": "Init",
    "States": {
        "Init": {"Type": "Pass", "Result": {"n": 0}, "Next": "Check"},
        "Check": task(
            "fsx:describeFileSystems", {}, "Count", ResultPath=None, Catch=catch("States.Runtime") + catch("States.ALL")
        ),
        "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "More"},
        "More": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.n", "NumericLessThan": 100000, "Next": "Check"}],
            "Default": "Done",
        },
        **CLEANUP,
    },
}


def test_history_quota_fails_the_execution_at_once_and_no_catch_or_cleanup_runs(monkeypatch):
    monkeypatch.setattr(sfn, "MAX_HISTORY_EVENTS", 200)
    with emulation():
        result = run(POLL_FOREVER)
        assert (result.status, result.error) == ("FAILED", error_names.HISTORY_LIMIT_ERROR)
        assert "200" in result.cause and "maximum number of events" in result.cause
        assert result.history_events == len(result.events) == 200
        assert result.events[-1]["type"] == "ExecutionFailed"
        assert "Cleanup" not in result.states() and "Done" not in result.states()
        assert not any(e["type"] == "ExecutionFailed" for e in result.events[:-1])


def test_history_quota_lets_event_number_limit_be_execution_succeeded(monkeypatch):
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": True}}}
    with emulation():
        events_of_a_run = run(definition, execution_name="unbounded").history_events
    assert events_of_a_run == 6  # started, 2 x (entered, exited), succeeded
    monkeypatch.setattr(sfn, "MAX_HISTORY_EVENTS", events_of_a_run)
    with emulation():
        assert run(definition).status == "SUCCEEDED"  # event number 6 is ExecutionSucceeded
    monkeypatch.setattr(sfn, "MAX_HISTORY_EVENTS", events_of_a_run - 1)
    with emulation():
        result = run(definition)
        assert (result.status, result.history_events) == ("FAILED", events_of_a_run - 1)
        assert result.error == error_names.HISTORY_LIMIT_ERROR


def test_the_real_quota_is_25000_events():
    assert sfn.MAX_HISTORY_EVENTS == 25_000


# --- payload quota -------------------------------------------------------------------------------

BIG = "x" * 150_000  # two copies exceed 256 KiB, one does not


def test_a_state_output_over_256_kib_fails_with_data_limit_exceeded():
    definition = {
        "StartAt": "Double",
        "States": {
            "Double": {"Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "Next": "Done"},
            "Done": {"Type": "Pass", "End": True},
        },
    }
    with emulation():
        result = run(definition, execution_input={"s": BIG})
        assert (result.status, result.error) == ("FAILED", error_names.STATES_DATA_LIMIT_EXCEEDED)
        assert "Done" not in result.states()
        single = dict(
            definition,
            States={**definition["States"], "Double": {"Type": "Pass", "Parameters": {"a.$": "$.s"}, "Next": "Done"}},
        )
        assert run(single, execution_name="run-2", execution_input={"s": BIG}).status == "SUCCEEDED"


@pytest.mark.parametrize(
    "names, expected",
    [
        (("States.ALL",), ("FAILED", error_names.STATES_DATA_LIMIT_EXCEEDED)),
        (("States.DataLimitExceeded",), ("SUCCEEDED", None)),  # named explicitly, it is caught
    ],
)
def test_a_task_input_over_256_kib_after_parameters_is_not_caught_by_states_all(names, expected):
    definition = {
        "StartAt": "List",
        "States": {
            "List": task(
                "sfn:listExecutions",
                {"StateMachineArn.$": "$$.StateMachine.Id", "Pad.$": "States.Array($.s, $.s)"},
                Catch=catch(*names),
            ),
            **CLEANUP,
        },
    }
    with emulation() as emu:
        result = run(definition, execution_input={"s": BIG})
        assert (result.status, result.error) == expected
        assert emu.calls.counts() == {}  # refused before the call
        assert ("Cleanup" in result.states()) == (expected[0] == "SUCCEEDED")


def test_a_task_result_over_256_kib_fails_with_data_limit_exceeded_not_caught_by_states_all():
    definition = {
        "StartAt": "Get",
        "States": {
            "Get": task(
                "secretsmanager:getSecretValue",
                {"SecretId": "big"},
                ResultSelector={"ok": True},
                Catch=catch("States.ALL"),
            ),
            **CLEANUP,
        },
    }
    with emulation():
        client("secretsmanager").create_secret(Name="big", SecretString="y" * 300_000)
        result = run(definition)
        assert (result.status, result.error) == ("FAILED", error_names.STATES_DATA_LIMIT_EXCEEDED)
        assert "Cleanup" not in result.states()


# --- States.Runtime ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "names, expected",
    [
        (("States.ALL",), ("FAILED", "States.Runtime")),
        (("States.Runtime",), ("SUCCEEDED", None)),
    ],
)
def test_states_runtime_is_not_caught_by_states_all(names, expected):
    definition = {
        "StartAt": "Bad",
        "States": {
            "Bad": task("fsx:describeFileSystems", {"FileSystemIds.$": "$.missing"}, Catch=catch(*names)),
            **CLEANUP,
        },
    }
    with emulation():
        result = run(definition)
        assert (result.status, result.error) == expected


# --- ends without cleanup: StopExecution, TimeoutSeconds -----------------------------------------

WAIT_THEN_CLEANUP = {
    "StartAt": "Wait",
    "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Cleanup"}, "Cleanup": {"Type": "Pass", "End": True}},
}


def test_stop_execution_aborts_the_run_where_it_waits_and_cleanup_never_runs():
    with emulation() as emu:
        emu.hold_waits()
        try:
            started = start_workflow(WAIT_THEN_CLEANUP, role_arn=ROLE, name="probe", execution_name="stopped")
            until(lambda: entered(started.execution_arn, "WaitStateEntered"))
            result = stop_workflow(started, "OperatorStop", "stopped by the test")
        finally:
            emu.release_waits()
        assert (result.status, result.error, result.cause) == ("ABORTED", "OperatorStop", "stopped by the test")
        assert result.states() == ["Wait"] and result.events[-1]["type"] == "ExecutionAborted"
        assert emu.now() == 0  # the Wait never completed


def test_state_machine_timeout_seconds_times_out_on_the_emulated_clock():
    with emulation() as emu:
        started = time.monotonic()
        result = run(WAIT_THEN_CLEANUP, execution_timeout_seconds=600)
        assert time.monotonic() - started < 10  # not 600 real seconds
        assert result.status == "TIMED_OUT"
        assert result.events[-1]["type"] == "ExecutionTimedOut"
        assert emu.clock.seconds_of(result.events[-1]["timestamp"]) == 600
        assert "Cleanup" not in result.states()
        assert emu.now() == 600  # the Wait was cut short at the timeout, not run to its 3600 s


def test_timeout_seconds_longer_than_the_run_lets_it_succeed():
    with emulation():
        result = run(WAIT_THEN_CLEANUP, execution_timeout_seconds=3601)
        assert result.status == "SUCCEEDED" and "Cleanup" in result.states()


# --- EventBridge: Step Functions Execution Status Change -----------------------------------------

ENDINGS = {
    "SUCCEEDED": {"StartAt": "Ok", "States": {"Ok": {"Type": "Pass", "End": True}}},
    "FAILED": {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Boom", "Cause": "it broke"}}},
    "TIMED_OUT": WAIT_THEN_CLEANUP,
    "ABORTED": WAIT_THEN_CLEANUP,
}
RECORD_INPUT = {"StartAt": "Record", "States": {"Record": {"Type": "Pass", "End": True}}}


def cleanup_rule(main_arn: str, cleanup_arn: str) -> None:
    pattern = {
        "source": [events.SOURCE],
        "detail-type": [events.DETAIL_TYPE],
        "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": [main_arn]},
    }
    client("events").put_rule(Name="run-cleanup", EventPattern=json.dumps(pattern))
    client("events").put_targets(
        Rule="run-cleanup", Targets=[{"Id": "cleanup", "Arn": cleanup_arn, "RoleArn": EVENTS_ROLE}]
    )


def machine(name: str, definition: dict) -> str:
    return client("stepfunctions").create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]


def end_run(emu: Emulation, status: str) -> RunResult:
    if status == "TIMED_OUT":
        return run(ENDINGS[status], name="main", execution_name="run-1", execution_timeout_seconds=60)
    if status == "ABORTED":
        emu.hold_waits()
        try:
            started = start_workflow(ENDINGS[status], role_arn=ROLE, name="main", execution_name="run-1")
            until(lambda: entered(started.execution_arn, "WaitStateEntered"))
            return stop_workflow(started, "Stop", "stopped")
        finally:
            emu.release_waits()
    return run(ENDINGS[status], name="main", execution_name="run-1")


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED"])
def test_a_rule_on_abnormal_ends_starts_the_cleanup_state_machine_with_the_documented_event(status):
    with emulation() as emu:
        main_arn = machine("main", ENDINGS[status])
        cleanup_arn = machine("run-cleanup", RECORD_INPUT)
        cleanup_rule(main_arn, cleanup_arn)
        main = end_run(emu, status)
        assert main.status == status
        cleanups = wait_for_executions(emu, cleanup_arn, at_least=1)
        assert [c.status for c in cleanups] == ["SUCCEEDED"]
        event = cleanups[0].output
        assert {k: event[k] for k in ("version", "detail-type", "source", "account", "region", "resources")} == {
            "version": "0",
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "account": ACCOUNT,
            "region": REGION,
            "resources": [main.execution_arn],
        }
        detail = event["detail"]
        assert {k: detail[k] for k in ("executionArn", "stateMachineArn", "name", "status", "input", "output")} == {
            "executionArn": main.execution_arn,
            "stateMachineArn": main_arn,
            "name": "run-1",
            "status": status,
            "input": "{}",
            "output": None,
        }
        assert isinstance(detail["startDate"], int) and detail["stopDate"] >= detail["startDate"]
        if status == "FAILED":
            assert (detail["error"], detail["cause"]) == ("Boom", "it broke")
        if status == "ABORTED":
            assert (detail["error"], detail["cause"]) == ("Stop", "stopped")
        # Delivered a few emulated seconds after the end, with the target's role.
        delivery = emu.events.delivered[0]
        assert tuple(delivery) == ("run-cleanup", "cleanup", EVENTS_ROLE, cleanups[0].execution_arn)
        assert events.delivered == emu.events.delivered
        ended_at = emu.clock.seconds_of(main.events[-1]["timestamp"])
        assert delivery.at == pytest.approx(ended_at + events.DELIVERY_LATENCY_SECONDS)
        assert cleanups[0].events[0]["executionStartedEventDetails"]["roleArn"] == ROLE


def test_a_start_hook_that_raises_refuses_the_start_and_the_delivery_records_why():
    with emulation() as emu:
        main_arn = machine("main", ENDINGS["FAILED"])
        cleanup_arn = machine("run-cleanup", RECORD_INPUT)
        cleanup_rule(main_arn, cleanup_arn)
        seen = []

        def refuse(delivery: events.Delivery) -> None:
            seen.append((delivery.role_arn, delivery.target_arn))
            raise PermissionError("not authorized to perform: states:StartExecution")

        emu.events.start_hooks.append(refuse)
        assert run(ENDINGS["FAILED"], name="main").status == "FAILED"
        assert wait_for_executions(emu, cleanup_arn) == []
        assert seen == [(EVENTS_ROLE, cleanup_arn)]
        (delivery,) = emu.events.delivered
        assert delivery.execution_arn == "" and "states:StartExecution" in delivery.error


def test_a_succeeded_run_starts_no_cleanup_and_a_rule_for_another_machine_does_not_fire():
    with emulation() as emu:
        main_arn = machine("main", ENDINGS["SUCCEEDED"])
        other_arn = machine("other", ENDINGS["FAILED"])
        cleanup_arn = machine("run-cleanup", RECORD_INPUT)
        cleanup_rule(main_arn, cleanup_arn)
        assert run(ENDINGS["SUCCEEDED"], name="main").status == "SUCCEEDED"
        assert run(ENDINGS["FAILED"], name="other").status == "FAILED"
        assert wait_for_executions(emu, cleanup_arn) == []
        assert emu.events.delivered == []
        statuses = [(e["detail"]["stateMachineArn"], e["detail"]["status"]) for e in emu.events.published]
        assert statuses == [
            (main_arn, "RUNNING"),
            (main_arn, "SUCCEEDED"),
            (other_arn, "RUNNING"),
            (other_arn, "FAILED"),
        ]


# --- error names -----------------------------------------------------------------------------------

NOT_FOUND = "FSx.FileSystemNotFoundException"  # the default spelling


def not_found_definition(error_equals: list[str]) -> dict:
    return {
        "StartAt": "Describe",
        "States": {
            "Describe": task(
                "fsx:describeFileSystems",
                {"FileSystemIds": [MISSING_FS]},
                "Done",
                ResultPath=None,
                Catch=[
                    {"ErrorEquals": error_equals, "ResultPath": "$.error", "Next": "Handled"},
                    {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Other"},
                ],
            ),
            "Handled": {"Type": "Pass", "End": True},
            "Other": {"Type": "Pass", "End": True},
            "Done": {"Type": "Pass", "End": True},
        },
    }


@pytest.mark.parametrize(
    "prefix, suffix, seen",
    [
        ("FSx", True, "FSx.FileSystemNotFoundException"),
        ("Fsx", True, "Fsx.FileSystemNotFoundException"),
        ("Fsx", False, "Fsx.FileSystemNotFound"),
        ("FSx", False, "FSx.FileSystemNotFound"),
        ("fsx", True, "fsx.FileSystemNotFoundException"),
    ],
)
def test_the_spelling_switch_changes_what_a_catch_sees(prefix, suffix, seen):
    with error_names.spelling(prefix, exception_suffix=suffix), emulation():
        one_spelling = run(not_found_definition([NOT_FOUND]), execution_name="one")
        every_spelling = run(
            not_found_definition(asl_error_names("FSx", "FileSystemNotFoundException")), execution_name="every"
        )
    assert one_spelling.output["error"]["Error"] == seen
    assert one_spelling.states()[-1] == ("Handled" if seen == NOT_FOUND else "Other")
    assert every_spelling.states()[-1] == "Handled"  # asl.states.error_names holds whatever the spelling
    assert error_names.service_prefix("fsx") == "FSx"  # restored on exit


def test_unmodelled_codes_and_batch_follow_the_spelling():
    definition = {
        "StartAt": "Throttled",
        "States": {
            "Throttled": task(
                "fsx:describeFileSystems",
                {},
                "Batch",
                ResultPath="$.fsx",
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.fsx", "Next": "Batch"}],
            ),
            "Batch": task(
                "batch:updateComputeEnvironment",
                {"ComputeEnvironment": "nope"},
                "Done",
                ResultPath="$.batch",
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.batch", "Next": "Done"}],
            ),
            "Done": {"Type": "Pass", "End": True},
        },
    }
    faults = [Fault("fsx:describeFileSystems", "ThrottlingException")]
    with emulation(Scenario(faults=list(faults))):
        default = run(definition, execution_name="default")
    with (
        error_names.spelling("Fsx"),
        error_names.spelling("AWSBatch", service="batch", exception_suffix=False),
        emulation(Scenario(faults=list(faults))),
    ):
        switched = run(definition, execution_name="switched")
    assert (default.output["fsx"]["Error"], default.output["batch"]["Error"]) == (
        "FSx.FSxException",
        "Batch.ClientException",
    )
    assert (switched.output["fsx"]["Error"], switched.output["batch"]["Error"]) == (
        "Fsx.FsxException",
        "AWSBatch.Client",
    )


def test_every_error_name_has_a_source_and_sfn_takes_its_prefixes_from_the_table():
    entries = error_names.table()
    assert entries and all(e.source for e in entries)
    names = {e.name for e in entries}
    assert {
        "States.Runtime",
        "States.DataLimitExceeded",
        "FSx.BadRequestException",
        "FSx.FSxException",
        "Batch.ClientException",
        "Lambda.ServiceException",
    } <= names
    assert sfn.SERVICE_ERROR_PREFIXES is error_names.SERVICE_ERROR_PREFIXES
    assert sfn.UNCATCHABLE_BY_ALL is error_names.UNCATCHABLE_BY_ALL
    assert error_names.SERVICE_PREFIXES["fsx"].source.startswith("Assumed")


ERROR_NAME = re.compile(r"(States\.[A-Za-z]+|[A-Z][A-Za-z0-9]*\.[A-Za-z]+Exception|Lambda\.[A-Za-z]+)")


def test_no_error_name_is_spelt_outside_the_table():
    """Every literal error name in emulation/ comes from batch_lustre.emulation/error_names.py."""
    root = Path(__file__).resolve().parent.parent / "emulation"
    found = []
    for path in sorted(root.glob("*.py")):
        if path.name == "error_names.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and ERROR_NAME.fullmatch(node.value):
                found.append(f"{path.name}:{node.lineno}: {node.value}")
    assert found == []


# --- RunResult counts and the file system figures ------------------------------------------------


def test_run_result_counts_history_events_and_transitions():
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "Seconds": 5, "Next": "Describe"},
            "Describe": task("fsx:describeFileSystems", {}, None, ResultPath=None),
        },
    }
    with emulation():
        result = run(definition)
    # started, wait entered/exited, task entered/scheduled/started/succeeded/exited, succeeded
    assert (result.history_events, result.transitions) == (9, 2)
    assert transitions(result.events) == len(result.timeline) == 2
    assert figures(result)["history_events"] == 9


def fake_result(events: list[dict] | None = None, name: str = "run-1") -> RunResult:
    return RunResult(
        execution_arn=f"arn:aws:states:{REGION}:{ACCOUNT}:execution:probe:{name}",
        status="SUCCEEDED",
        error=None,
        cause=None,
        output=None,
        timeline=[],
        calls={},
        call_errors=[],
        leftovers=None,
        lustre=None,
        emulated_seconds=0.0,
        real_seconds=0.0,
        events=events or [],
        history_events=len(events or []),
        transitions=0,
    )


def records(
    emu: Emulation, *, job_end: float, export: tuple[float, float] | None, drained: float | None, delete: float
) -> None:
    """A file system created at 0, AVAILABLE at 420, association AVAILABLE at 700, a job RUNNING at 900."""
    fs = FileSystemState(
        "fs-1",
        created_at=0.0,
        type_version="2.15",
        deployment_type="SCRATCH_2",
        mount_name="m",
        lifecycle="DELETING",
        available_at=420.0,
        delete_requested_at=delete,
        queue_drained_at=drained,
    )
    emu.fsx.file_systems[fs.file_system_id] = fs
    emu.fsx.removed_associations["dra-1"] = Association(
        "dra-1",
        "arn",
        "fs-1",
        "/scratch",
        "s3://data/",
        True,
        1024,
        {},
        created_at=430.0,
        tags=[],
        lifecycle="DELETING",
        available_at=700.0,
    )
    if export is not None:
        emu.fsx.tasks["task-1"] = RepositoryTask(
            "task-1",
            "arn",
            "fs-1",
            "EXPORT_TO_REPOSITORY",
            [],
            {},
            created_at=export[0],
            tags=[],
            lifecycle="SUCCEEDED",
            end_time=export[1],
        )
    emu.batch.jobs["job-1"] = SimpleNamespace(
        job_id="job-1",
        created_at=800.0,
        started_at=900.0,
        stopped_at=job_end,
        tags={"batch-lustre:run": "run-1"},
        files_written=["/scratch/out"],
    )


def test_figures_of_a_taskexport_run_from_the_emulation_records():
    with emulation() as emu:
        records(emu, job_end=1500.0, export=(1530.0, 1600.0), drained=None, delete=1650.0)
        got = figures(fake_result(), emu)
    assert tuple(got) == FIGURE_KEYS
    assert got == {
        "fs_lifetime_s": 1650.0,
        "fs_available_before_job_s": 480.0,
        "association_available_before_job_s": 200.0,
        "after_job_until_export_requested_s": 30.0,
        "after_export_done_until_delete_requested_s": 50.0,
        "import_s": None,
        "import_wait_s": None,
        "transitions": 0,
        "history_events": 0,
        "status": "SUCCEEDED",
        "error": None,
    }


def test_figures_of_an_array_job_start_at_its_first_child_running_and_end_with_the_parent():
    with emulation() as emu:
        records(emu, job_end=1500.0, export=(1530.0, 1600.0), drained=None, delete=1650.0)
        parent = emu.batch.jobs["job-1"]
        parent.started_at, parent.children = None, ["job-1:0", "job-1:1"]
        for index, started in enumerate((950.0, 910.0)):
            emu.batch.jobs[f"job-1:{index}"] = SimpleNamespace(
                job_id=f"job-1:{index}",
                parent_id="job-1",
                created_at=800.0,
                started_at=started,
                stopped_at=1400.0,
                tags={},
                files_written=[],
            )
        got = figures(fake_result(), emu)
    assert (got["fs_available_before_job_s"], got["association_available_before_job_s"]) == (490.0, 210.0)
    assert got["after_job_until_export_requested_s"] == 30.0  # from the parent's end, not the children's


def test_figures_of_an_autoexport_run_count_to_the_first_metric_read_and_the_drained_queue():
    with emulation() as emu:
        records(emu, job_end=1500.0, export=None, drained=1560.0, delete=1700.0)
        # CheckMetrics' reads (the Lambda's GetMetricData calls, as the emulation records them); other calls and
        # reads before the job ended do not count
        emu.iam.function_calls.extend(
            [
                (1000.0, "check-metrics", "cloudwatch:GetMetricData"),
                (1530.0, "wait-for", "fsx:DescribeFileSystems"),
                (1560.0, "check-metrics", "cloudwatch:GetMetricData"),
                (1620.0, "check-metrics", "cloudwatch:GetMetricData"),
            ]
        )
        got = run_figures(emu, fake_result([]), 0.0)
    assert (got.after_job_until_export_requested_s, got.after_export_done_until_delete_requested_s) == (60.0, 140.0)


def test_figures_are_none_for_phases_that_did_not_happen():
    with emulation():
        got = figures(run({"StartAt": "Ok", "States": {"Ok": {"Type": "Pass", "End": True}}}))
    assert got == {
        **dict.fromkeys(FIGURE_KEYS[:7]),
        "transitions": 1,
        "history_events": 4,
        "status": "SUCCEEDED",
        "error": None,
    }

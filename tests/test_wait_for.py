"""WaitFor's loop (lambda/wait_for.py ``wait``), shared by CheckMetrics: checks after each wait of the schedule,
returns before the function's timeout, stays within the schedule, and records what it saw.

The checks and the clock are fakes here (the loop's logic); the describe calls themselves run against the
emulated AWS in tests/test_scenarios.py. The last tests run a sleeping handler on the emulation's Lambda runner:
it sleeps on the emulated clock and is stopped at its function's timeout.
"""

from __future__ import annotations

import pytest
import wait_for
from conftest import ROOT, python312_scan

TIMEOUT = 900


class Clock:
    """A fake clock with Lambda's context: sleeps move it; the invocation ends at TIMEOUT."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((TIMEOUT - self.now) * 1000)


def statuses(*answers: str, done_on: tuple[str, ...] = ("AVAILABLE", "FAILED")):
    """A check answering ``answers`` in turn (the last one from then on), and the times it was called."""
    calls: list[float] = []

    def check(clock: Clock):
        def checker(event):
            calls.append(clock.now)
            status = answers[min(len(calls) - 1, len(answers) - 1)]
            return status in done_on, {"Lifecycle": status}

        return checker

    return check, calls


def event(waits: list[int], record: dict | None = None) -> dict:
    return {"check": "fileSystem", "record": "fileSystem", "waits": waits, "polls": {"fileSystem": record or {}}}


def test_checks_after_each_wait_and_returns_done_with_the_last_description():
    clock = Clock()
    make, calls = statuses("CREATING", "CREATING", "AVAILABLE")
    out = wait_for.wait(event([5, 10, 20, 30]), clock, make(clock), "Lifecycle", clock.sleep)
    assert out["Outcome"] == "done"
    assert calls == [5, 15, 35]  # the first wait comes before the first check
    assert out["count"] == 3
    assert out["Last"] == {"Lifecycle": "AVAILABLE"}
    assert out["Seen"] == {"fileSystem": ["CREATING", "AVAILABLE"]}


def test_returns_waiting_when_the_next_wait_does_not_fit_and_the_next_invocation_checks_at_once():
    clock = Clock()
    make, calls = statuses("CREATING")
    waits = [300] * 6
    out = wait_for.wait(event(waits), clock, make(clock), "Lifecycle", clock.sleep)
    # 300 + 300 = 600 s used; a third 300 s wait would end at 900 s, inside the 60 s margin: return instead.
    assert (out["Outcome"], out["wait"], out["waited"], out["count"]) == ("waiting", 300, True, 2)
    assert clock.now <= TIMEOUT - wait_for.MARGIN_SECONDS
    # The state machine waits out["wait"] in a Wait state, then invokes again with the record.
    clock2 = Clock()
    make2, calls2 = statuses("AVAILABLE")
    again = wait_for.wait(event(waits, out), clock2, make2(clock2), "Lifecycle", clock2.sleep)
    assert calls2 == [0.0]  # no wait before its first check: it was waited in the state machine
    assert (again["Outcome"], again["count"]) == ("done", 3)
    assert again["Seen"] == {"fileSystem": ["CREATING", "AVAILABLE"]}


def test_a_loop_never_checks_more_often_than_its_schedule_says_and_ends_over():
    waits = [5, 10, 20]
    record: dict = {}
    checks = 0
    for _ in range(len(waits) + 2):  # every invocation the state machine could make
        clock = Clock()
        make, calls = statuses("CREATING")
        record = wait_for.wait(event(waits, record), clock, make(clock), "Lifecycle", clock.sleep)
        checks += len(calls)
        if record["Outcome"] == "over":
            break
    assert record["Outcome"] == "over"
    assert checks == len(waits) == record["count"]


def test_check_at_once_checks_before_the_first_wait_only_in_the_first_invocation():
    clock = Clock()
    make, calls = statuses("QUEUED", "QUEUED", "DRAINED", done_on=("DRAINED",))
    out = wait_for.wait(event([60, 60, 60]), clock, make(clock), "Lifecycle", clock.sleep, check_at_once=True)
    assert calls == [0.0, 60.0, 120.0]
    assert out["count"] == 2  # the check at once is not counted against the schedule
    assert out["Seen"] == {"fileSystem": ["QUEUED", "DRAINED"]}
    clock2 = Clock()
    make2, calls2 = statuses("QUEUED")
    wait_for.wait(
        event([60, 60, 60], {"count": 1}), clock2, make2(clock2), "Lifecycle", clock2.sleep, check_at_once=True
    )
    assert calls2[0] == 60.0  # a later invocation waits first


def test_seen_keeps_the_newest_statuses_only():
    clock = Clock()
    answers = [f"S{i}" for i in range(wait_for.SEEN_LIMIT + 5)] + ["AVAILABLE"]
    make, _ = statuses(*answers)
    out = wait_for.wait(event([1] * len(answers)), clock, make(clock), "Lifecycle", clock.sleep)
    assert out["Seen"]["fileSystem"][-1] == "AVAILABLE"
    assert len(out["Seen"]["fileSystem"]) == wait_for.SEEN_LIMIT


@pytest.mark.parametrize("name", sorted(wait_for.CHECKS))
def test_every_check_names_the_status_it_reports(name):
    assert name in wait_for.STATUS_KEYS


def test_the_handler_uses_nothing_removed_in_python_312():
    for path in (ROOT / "lambda" / "wait_for.py", ROOT / "lambda" / "aws_calls.py", ROOT / "asl" / "lane_queue.py"):
        imported, problems = python312_scan(path)
        assert not problems
        assert imported <= {
            "__future__",
            "time",
            "collections",
            "dataclasses",
            "datetime",
            "typing",
            "boto3",
            "botocore",
            "aws_calls",
            "lane_queue",
        }


def test_every_lambda_module_ships_the_lambda_modules_it_imports():
    from batch_lustre.program.asl.naming import LAMBDA_FILES

    siblings = {path.stem for path in (ROOT / "lambda").glob("*.py")}
    for module, files in LAMBDA_FILES.items():
        for member, source in files.items():
            if source.startswith("lambda/"):
                imported, _ = python312_scan(ROOT / source)
                missing = {f"{name}.py" for name in imported & siblings} - set(files)
                assert not missing, f"{module}'s archive lacks {sorted(missing)} that {member} imports"


# --- transient errors: counted, the loop goes on; anything else ends it with a name -------------------------------


def failing(*errors: BaseException | str, done_on: tuple[str, ...] = ("AVAILABLE",)):
    """A check raising or answering ``errors`` in turn (a str is a Lifecycle answer), the last from then on."""
    calls: list[int] = []

    def checker(event):
        calls.append(1)
        answer = errors[min(len(calls) - 1, len(errors) - 1)]
        if isinstance(answer, BaseException):
            raise answer
        return answer in done_on, {"Lifecycle": answer}

    return checker, calls


def client_error(code: str, status: int, message: str = "Rate exceeded"):
    from botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "DescribeFileSystems",
    )


def transient_errors():
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    return [
        client_error("ThrottlingException", 400),
        client_error("TooManyRequestsException", 429),
        client_error("InternalServerError", 500, "We encountered an internal error"),
        client_error("ServiceUnavailable", 503, "Service unavailable"),
        ReadTimeoutError(endpoint_url="https://fsx.us-east-1.amazonaws.com"),
        ConnectTimeoutError(endpoint_url="https://fsx.us-east-1.amazonaws.com"),
        EndpointConnectionError(endpoint_url="https://fsx.us-east-1.amazonaws.com"),
        ConnectionClosedError(endpoint_url="https://fsx.us-east-1.amazonaws.com"),
    ]


def test_transient_errors_are_counted_and_the_loop_keeps_waiting_until_an_answer():
    import aws_calls

    errors = transient_errors()
    assert all(aws_calls.is_transient(e) for e in errors)
    clock = Clock()
    check, calls = failing(*errors, "CREATING", "AVAILABLE")
    out = wait_for.wait(event([1] * 20), clock, check, "Lifecycle", clock.sleep, unknown=wait_for.UNKNOWN["fileSystem"])
    assert out["Outcome"] == "done" and out["Last"] == {"Lifecycle": "AVAILABLE"}
    assert out["Transient"]["count"] == len(errors) and len(calls) == len(errors) + 2
    assert out["Transient"]["last"].startswith("ConnectionClosedError: ") and "\n" not in out["Transient"]["last"]


def test_a_loop_of_only_transient_errors_ends_over_with_a_description_its_states_can_read():
    clock = Clock()
    check, _ = failing(client_error("ThrottlingException", 400))
    record = {}
    for _ in range(3):  # across invocations: the count goes on
        record = wait_for.wait(
            event([300] * 6, record), clock, check, "Lifecycle", clock.sleep, unknown=wait_for.UNKNOWN["exportTask"]
        )
        clock = Clock()
    assert record["Outcome"] == "over"
    assert record["Transient"]["count"] == 6
    assert record["Last"] == {"Lifecycle": wait_for.NOT_KNOWN, "Type": ""}
    assert record["Seen"] == {}


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (client_error("AccessDeniedException", 400, "User: x is not authorized"), "AccessDenied"),
        (client_error("FileSystemNotFound", 400, "File system fs-1 was not found"), "ResourceGone"),
        (client_error("ValidationException", 400, "1 validation error"), "RequestRefused"),
        (client_error("BadRequest", 400, "bad"), "RequestRefused"),
    ],
)
def test_an_error_that_cannot_heal_ends_the_loop_at_once_with_its_name(error, name):
    clock = Clock()
    check, calls = failing(client_error("ThrottlingException", 400), error, "AVAILABLE")
    with pytest.raises(Exception) as raised:
        wait_for.wait(event([1] * 10), clock, check, "Lifecycle", clock.sleep)
    assert type(raised.value).__name__ == name and len(calls) == 2
    assert error.response["Error"]["Message"] in str(raised.value)


# --- the emulation's Lambda runner: sleeping on the emulated clock, stopped at the function's timeout ---------------


def emulated_function(tmp_path, body: str, timeout: int):
    from types import SimpleNamespace

    (tmp_path / "sleeper.py").write_text("import time\n\n\ndef handler(event, context):\n" + body)
    return SimpleNamespace(
        handler="sleeper.handler",
        function_name="sleeper",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:sleeper",
        memory_size=128,
        version="$LATEST",
        region="us-east-1",
        environment_vars={},
        timeout=timeout,
        role="arn:aws:iam::123456789012:role/sleeper",
    )


@pytest.fixture(autouse=True)
def _environment_restored():
    """The emulation's Lambda runner leaves Lambda's runtime variables set (an Emulation removes them as it ends)."""
    import os
    from unittest import mock

    with mock.patch.dict(os.environ):
        yield


def test_an_emulated_handler_sleeps_on_the_emulated_clock(tmp_path):
    from batch_lustre.emulation.clock import EmulatedClock
    from batch_lustre.emulation.lambdas import LambdaRunner

    clock = EmulatedClock()
    runner = LambdaRunner(tmp_path, clock=clock)
    fn = emulated_function(
        tmp_path, "    time.sleep(600)\n    return {'left': context.get_remaining_time_in_millis()}\n", 900
    )
    start = clock.seconds()
    payload, errored, _ = runner.invoke(fn, {})
    assert not errored, payload
    assert clock.seconds() - start == 600
    assert '"left": 300000' in payload


def test_an_emulated_handler_still_running_at_its_timeout_fails_as_lambda_stops_it(tmp_path):
    from batch_lustre.emulation.clock import EmulatedClock
    from batch_lustre.emulation.lambdas import TIMED_OUT_ERROR, LambdaRunner

    clock = EmulatedClock()
    runner = LambdaRunner(tmp_path, clock=clock)
    fn = emulated_function(tmp_path, "    time.sleep(1000)\n    return {'finished': True}\n", 900)
    start = clock.seconds()
    payload, errored, _ = runner.invoke(fn, {})
    assert errored
    assert TIMED_OUT_ERROR in payload and "900.00 seconds" in payload
    assert clock.seconds() - start == 900  # stopped at its timeout, not after its sleep


# --- the checks, against botocore's models (Stubber validates requests and responses) ------------------------------


@pytest.fixture
def stubbed(monkeypatch):
    import boto3
    from botocore.stub import Stubber

    clients = {name: boto3.client(name, region_name="us-east-1") for name in ("batch", "fsx")}
    monkeypatch.setattr(wait_for, "_clients", clients)
    stubs = {name: Stubber(c) for name, c in clients.items()}
    for stub in stubs.values():
        stub.activate()
    yield stubs
    for stub in stubs.values():
        stub.assert_no_pending_responses()


def compute_environment(status: str, template: str) -> dict:
    return {
        "computeEnvironments": [
            {
                "computeEnvironmentName": "ce",
                "computeEnvironmentArn": "arn:aws:batch:us-east-1:123456789012:compute-environment/ce",
                "status": status,
                "statusReason": "CLIENT_ERROR - bad template" if status == "INVALID" else "",
                "state": "ENABLED",
                "computeResources": {
                    "type": "EC2",
                    "maxvCpus": 256,
                    "subnets": ["subnet-1"],
                    "launchTemplate": {"launchTemplateId": template},
                },
            }
        ]
    }


@pytest.mark.parametrize(
    ("status", "template", "done", "ready"),
    [
        ("VALID", "lt-run", True, True),
        ("VALID", "lt-baseline", False, False),  # not yet on the run's launch template
        ("UPDATING", "lt-run", False, False),
        ("INVALID", "lt-run", True, False),  # ends the wait at once: the run fails as ComputeEnvironmentInvalid
    ],
)
def test_the_compute_environment_check_ends_on_ready_or_invalid(stubbed, status, template, done, ready):
    stubbed["batch"].add_response(
        "describe_compute_environments",
        compute_environment(status, template),
        {"computeEnvironments": ["ce"]},
    )
    got_done, description = wait_for.CHECKS["computeEnvironment"](
        {"computeEnvironment": "ce", "launchTemplateId": "lt-run"}
    )
    assert (got_done, description["Ready"], description["Status"]) == (done, ready, status)


@pytest.mark.parametrize(
    ("lifecycle", "done"), [("CREATING", False), ("AVAILABLE", True), ("FAILED", True), ("MISCONFIGURED", True)]
)
def test_the_file_system_check_ends_on_available_or_a_failure(stubbed, lifecycle, done):
    stubbed["fsx"].add_response(
        "describe_file_systems",
        {"FileSystems": [{"FileSystemId": "fs-0123456789abcdef0", "Lifecycle": lifecycle}]},
        {"FileSystemIds": ["fs-0123456789abcdef0"]},
    )
    assert wait_for.CHECKS["fileSystem"]({"fileSystemId": "fs-0123456789abcdef0"}) == (done, {"Lifecycle": lifecycle})


FS_ID = "fs-0123456789abcdef0"
BY_FILE_SYSTEM = {"Filters": [{"Name": "file-system-id", "Values": [FS_ID]}]}


def repository_task(task_id: str, kind: str, lifecycle: str, created: int, failure: str = "") -> dict:
    task = {"TaskId": task_id, "Lifecycle": lifecycle, "Type": kind, "CreationTime": created, "FileSystemId": FS_ID}
    if failure:
        task["FailureDetails"] = {"Message": failure}
    return task


@pytest.mark.parametrize(
    ("lifecycle", "done"),
    [("PENDING", False), ("EXECUTING", False), ("SUCCEEDED", True), ("FAILED", True), ("CANCELED", True)],
)
def test_the_import_check_follows_the_first_import_task_of_the_file_system_across_pages(stubbed, lifecycle, done):
    imported = "IMPORT_METADATA_FROM_REPOSITORY"
    stubbed["fsx"].add_response(
        "describe_data_repository_tasks",
        {
            "DataRepositoryTasks": [repository_task("task-0000000000export", "EXPORT_TO_REPOSITORY", "EXECUTING", 50)],
            "NextToken": "page-2",
        },
        BY_FILE_SYSTEM,
    )
    stubbed["fsx"].add_response(
        "describe_data_repository_tasks",
        {
            "DataRepositoryTasks": [
                repository_task(
                    "task-00000000000later", imported, "EXECUTING", 300
                ),  # someone else's import, started later
                repository_task("task-0000000000000dra", imported, lifecycle, 100, "S3 access denied"),
            ]
        },
        {**BY_FILE_SYSTEM, "NextToken": "page-2"},
    )
    got_done, description = wait_for.CHECKS["importTask"]({"fileSystemId": FS_ID})
    assert (got_done, description["ImportLifecycle"], description["ImportTaskId"]) == (
        done,
        lifecycle,
        "task-0000000000000dra",
    )


def test_an_import_not_listed_yet_is_waited_for(stubbed):
    stubbed["fsx"].add_response("describe_data_repository_tasks", {"DataRepositoryTasks": []}, BY_FILE_SYSTEM)
    got_done, description = wait_for.CHECKS["importTask"]({"fileSystemId": FS_ID})
    assert (got_done, description["ImportLifecycle"]) == (False, "NOT_LISTED")


def test_the_import_check_on_the_record_the_association_passed_on_checks_at_once_then_after_each_wait():
    clock = Clock()
    make, calls = statuses("EXECUTING", "EXECUTING", "SUCCEEDED", done_on=("SUCCEEDED",))
    passed_on = {"count": 4, "waited": False, "Outcome": "done", "Last": {}, "Seen": {"association": ["AVAILABLE"]}}
    first = {"check": "importTask", "record": "fileSystem", "waits": [5, 10, 20, 30, 30, 30], "polls": {}}
    out = wait_for.wait(
        {**first, "polls": {"fileSystem": passed_on}}, clock, make(clock), "Lifecycle", clock.sleep, check_at_once=True
    )
    assert out["Outcome"] == "done"
    assert calls == [0, 30, 60]  # at once (not counted), then after the schedule's next waits
    assert out["count"] == 6

"""The Automation API (``batch_lustre.automation``), tested up to the CLI boundary.

Stack operations run the real Pulumi Automation API against a fake ``pulumi`` executable on PATH
(it records its arguments and answers as the CLI does); run and parameter operations run
against the emulated AWS (``emulation/``). Nothing here needs the real pulumi CLI or AWS.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest

from batch_lustre import automation
from batch_lustre.automation import deploy_emulated
from batch_lustre.emulation import BatchScenario, Emulation, Scenario, runtime_parameters
from batch_lustre.program.parameters import ParameterError

FAKE_PULUMI = r"""
import json, os, sys
from pathlib import Path

args = sys.argv[1:]
state = Path(os.environ["FAKE_PULUMI_STATE"])
with open(state / "calls.jsonl", "a") as f:
    f.write(json.dumps({"args": args, "cwd": os.getcwd()}) + "\n")
stack = args[args.index("--stack") + 1] if "--stack" in args else None
stacks_file, outputs_file = state / "stacks.json", state / "outputs.json"
stacks = json.loads(stacks_file.read_text()) if stacks_file.exists() else []
failing = json.loads((state / "fail.json").read_text()) if (state / "fail.json").exists() else {}
words = [a for a in args if not a.startswith("-")]
command = " ".join(words[:2]) if words[:1] == ["stack"] else (words[0] if words else "")
if command in failing:
    print("Updating (%s)" % stack)
    print(failing[command], file=sys.stderr)
    sys.exit(1)
if command == "version":
    print(os.environ.get("FAKE_PULUMI_VERSION", "v3.272.0"))
elif command == "stack select":
    if stack not in stacks:
        print("error: no stack named '%s' found" % stack, file=sys.stderr)
        sys.exit(255)
elif command == "stack init":
    stacks.append(words[2])
    stacks_file.write_text(json.dumps(stacks))
elif command == "stack output":
    print(outputs_file.read_text() if outputs_file.exists() else "{}")
elif command == "stack history":
    print(json.dumps([{"kind": "update", "startTime": "2026-01-01T00:00:00.000Z", "message": "",
                       "environment": {}, "config": {}, "result": "succeeded",
                       "endTime": "2026-01-01T00:05:00.000Z", "resourceChanges": {"create": 42}}]))
elif command == "up":
    print("Updating (%s)" % stack)
    outputs_file.write_text(json.dumps({"stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:m",
                                        "secretName": "s", "bucketName": "b"}))
elif command == "preview":
    log = args[args.index("--event-log") + 1]
    events = [{"sequence": 1, "timestamp": 0, "summaryEvent": {
                   "maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": {"create": 42}, "PolicyPacks": {}}},
              {"sequence": 2, "timestamp": 0, "cancelEvent": {}}]  # the CLI's last event
    if log.startswith("tcp://"):  # a CLI newer than 3.205 streams its events to the Automation API over gRPC
        import grpc
        from pulumi.runtime.proto import events_pb2, events_pb2_grpc
        with grpc.insecure_channel(log[len("tcp://"):]) as channel:
            events_pb2_grpc.EventsStub(channel).StreamEvents(
                iter([events_pb2.EventRequest(event=json.dumps(e)) for e in events]))
    else:
        with open(log, "a") as f:
            f.writelines(json.dumps(e) + "\n" for e in events)
    print("Previewing update (%s)" % stack)
elif command == "refresh":
    print("Refreshing (%s)" % stack)
elif command == "destroy":
    print("Destroying (%s)" % stack)
    outputs_file.unlink(missing_ok=True)
else:
    print("fake pulumi: unexpected command %r" % args, file=sys.stderr)
    sys.exit(3)
"""


class EmptyAccount:
    """Every AWS client of an account that holds nothing: no run, no file system, no image, no object."""

    def get_paginator(self, operation: str) -> SimpleNamespace:
        return SimpleNamespace(paginate=lambda **kwargs: iter([{}]))

    def list_object_versions(self, **kwargs) -> dict:
        return {}

    def list_executions(self, **kwargs) -> dict:
        return {"executions": []}


class FakePulumi:
    """A fake ``pulumi`` on PATH; ``calls`` are the argument lists it was run with."""

    def __init__(self, root: Path) -> None:
        self.state = root / "state"
        self.state.mkdir()
        self.bin = root / "bin"
        self.bin.mkdir()
        (root / "fake_pulumi.py").write_text(FAKE_PULUMI)
        script = self.bin / "pulumi"
        script.write_text(
            f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(root / 'fake_pulumi.py')!r}, run_name='__main__')\n"
        )
        script.chmod(0o755)

    def install(self, monkeypatch, *, empty_account: bool = True) -> FakePulumi:
        """Put this fake on PATH (no update check) and, with ``empty_account``, answer AWS clients with an account
        that has nothing in it."""
        if empty_account:
            monkeypatch.setattr(
                "batch_lustre.automation.clients.aws_client", lambda service, region=None: EmptyAccount()
            )
        monkeypatch.setenv("PATH", str(self.bin))
        monkeypatch.setenv("FAKE_PULUMI_STATE", str(self.state))
        monkeypatch.setenv("PULUMI_SKIP_UPDATE_CHECK", "true")
        return self

    def deployed(self, *stacks: str, outputs: dict | None = None) -> None:
        (self.state / "stacks.json").write_text(json.dumps(list(stacks)))
        if outputs is not None:
            (self.state / "outputs.json").write_text(json.dumps(outputs))

    def fail(self, command: str, stderr: str) -> None:
        (self.state / "fail.json").write_text(json.dumps({command: stderr}))

    @property
    def calls(self) -> list[dict]:
        path = self.state / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def commands(self) -> list[list[str]]:
        """Arguments of every call but ``version``, without the Automation API's ``--non-interactive``."""
        return [[a for a in c["args"] if a != "--non-interactive"] for c in self.calls if c["args"] != ["version"]]


@pytest.fixture
def fake_pulumi(tmp_path, monkeypatch):
    return FakePulumi(tmp_path).install(monkeypatch)


@pytest.fixture
def no_pulumi(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


# --- the package: one module to import ---------------------------------------------------------------


def test_the_package_exports_every_public_function_and_class_its_modules_define():
    import importlib
    import inspect

    modules = (
        "acceptance",
        "clients",
        "emulated",
        "errors",
        "history",
        "leftovers",
        "parameters",
        "repository_guard",
        "runs",
        "stacks",
        "teardown",
    )
    for module_name in modules:
        module = importlib.import_module(f"batch_lustre.automation.{module_name}")
        defined = [
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and (inspect.isfunction(value) or inspect.isclass(value))
            and value.__module__ == module.__name__
        ]
        for name in defined:
            assert name in automation.__all__, f"{module_name}.{name}"
            assert getattr(automation, name) is getattr(module, name), f"{module_name}.{name}"
    assert sorted(automation.__all__) == sorted(set(automation.__all__))
    assert all(hasattr(automation, name) for name in automation.__all__)


def test_the_project_directory_is_looked_up_when_an_operation_runs(tmp_path, monkeypatch):
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  batch-lustre:mode: autoexport\n")
    monkeypatch.setenv("BATCH_LUSTRE_PROJECT_DIR", str(tmp_path))
    assert automation.known_stacks() == ["dev"]
    assert automation.stack_settings("dev").mode == "autoexport"
    with pytest.raises(automation.UnknownStack, match=f"a stack needs a Pulumi.<stack>.yaml in {tmp_path}"):
        automation.check_stack("taskexport")


# --- stacks through the Pulumi Automation API -------------------------------------------------------


@pytest.mark.parametrize("operation", [automation.deploy, automation.destroy, automation.outputs])
def test_a_pulumi_cli_older_than_the_minimum_is_refused_before_any_command(fake_pulumi, monkeypatch, operation):
    monkeypatch.setenv("FAKE_PULUMI_VERSION", "v3.100.0")
    with pytest.raises(automation.PulumiCliTooOld, match=r"^the pulumi CLI is version 3\.100\.0: accepted 3\.272\.0"):
        operation("taskexport")
    assert fake_pulumi.commands() == [], "only `pulumi version` ran"


@pytest.mark.parametrize("operation", [automation.deploy, automation.preview, automation.destroy, automation.outputs])
def test_every_stack_operation_without_the_pulumi_cli_raises_pulumi_cli_missing_with_how_to_install(
    no_pulumi, operation
):
    with pytest.raises(automation.PulumiCliMissing) as raised:
        operation("taskexport")
    message = str(raised.value)
    assert "\n" not in message
    assert "pulumi CLI is not on PATH" in message
    assert "https://www.pulumi.com/docs/install/" in message and "curl -fsSL https://get.pulumi.com | sh" in message


def test_a_stack_without_a_pulumi_yaml_is_an_unknown_stack_naming_the_accepted_ones(no_pulumi):
    with pytest.raises(automation.UnknownStack) as raised:
        automation.deploy("production")
    assert str(raised.value).startswith("stack 'production' is not accepted: accepted autoexport, taskexport")


def test_deploy_runs_pulumi_up_on_the_repository_program_for_the_stack_and_returns_its_outputs(fake_pulumi):
    lines = []
    found = automation.deploy("taskexport", on_output=lines.append)

    assert found["secretName"] == "s" and found["bucketName"] == "b"
    up = next(c for c in fake_pulumi.calls if "up" in c["args"][:2])
    assert up["cwd"] == str(automation.ROOT)  # the program of __main__.py, from the repository root
    assert up["args"][up["args"].index("--stack") + 1] == "taskexport"
    assert "--yes" in up["args"]
    assert any("Updating (taskexport)" in line for line in lines)


def test_deploy_creates_a_stack_not_yet_known_to_the_backend(fake_pulumi):
    automation.deploy("autoexport")
    commands = [[a for a in c if not a.startswith("-")] for c in fake_pulumi.commands() if c[:2] != ["stack", "output"]]
    assert commands[:3] == [
        ["stack", "select", "autoexport"],
        ["stack", "init", "autoexport"],
        ["up", "auto.local", "autoexport"],
    ]


def test_preview_returns_the_planned_changes(fake_pulumi):
    fake_pulumi.deployed("taskexport")
    assert automation.preview("taskexport") == {"create": 42}
    assert any(c[:1] == ["preview"] for c in fake_pulumi.commands())


def test_outputs_of_a_stack_never_deployed_raise_unknown_stack(fake_pulumi):
    with pytest.raises(automation.UnknownStack) as raised:
        automation.outputs("taskexport")
    assert (
        str(raised.value)
        == "stack 'taskexport' has not been deployed: deploy it first (batch-lustre deploy taskexport)"
    )


def test_destroy_runs_pulumi_destroy_of_the_stack(fake_pulumi):
    fake_pulumi.deployed("taskexport")
    assert automation.destroy("taskexport") == {"create": 42}  # the fake's last history entry
    destroy = next(c for c in fake_pulumi.commands() if c[:1] == ["destroy"])
    assert destroy[destroy.index("--stack") + 1] == "taskexport"


def test_a_failing_pulumi_command_raises_one_line_with_its_exit_code_and_error_line(fake_pulumi):
    fake_pulumi.deployed("taskexport")
    fake_pulumi.fail("up", "warning: something\nerror: stack taskexport: lustreStorageCapacity=1000 is not accepted")
    with pytest.raises(automation.PulumiCommandFailed) as raised:
        automation.deploy("taskexport")
    assert str(raised.value) == (
        "pulumi up of stack taskexport failed (exit code 1): "
        "error: stack taskexport: lustreStorageCapacity=1000 is not accepted"
    )


# --- stack outputs from a file ---------------------------------------------------------------------


def test_load_outputs_reads_a_pulumi_stack_output_json_file_without_the_cli(no_pulumi, tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"secretName": "x"}))
    assert automation.load_outputs("taskexport", path) == {"secretName": "x"}


def test_load_outputs_refuses_a_file_that_is_not_a_json_object(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text("[1, 2]")
    with pytest.raises(automation.MissingOutput, match="accepted a JSON object of stack outputs"):
        automation.load_outputs("taskexport", path)


def test_a_missing_stack_output_is_named():
    with pytest.raises(automation.MissingOutput) as raised:
        automation.required_output({"secretName": "s"}, "stateMachineArn", "taskexport")
    assert str(raised.value).startswith("stack taskexport has no output stateMachineArn")


# --- runtime parameters --------------------------------------------------------------------------


@pytest.fixture
def secret():
    """An emulation holding the taskexport stack's runtime-parameter secret at its defaults: (emulation, name)."""
    with Emulation(Scenario()) as emu:
        name = "taskexport-runtime-parameters"
        boto3.client("secretsmanager", region_name=emu.region).create_secret(
            Name=name, SecretString=json.dumps(runtime_parameters("taskexport"), sort_keys=True)
        )
        yield emu, name


# Fewer polling turns, same outcome (the emulated file system takes about 12 minutes, the job 15).
QUICK = {
    "waitForLustreCreationSeconds": 300,
    "waitForJobCompletionSeconds": 600,
    "waitForDataRepositoryTaskSeconds": 300,
}


@pytest.fixture
def emulated():
    with Emulation(Scenario()) as emu:
        stack, found = deploy_emulated(emu, "taskexport", runtime_params=QUICK)
        yield emu, stack, found


def test_update_parameters_writes_the_typed_document_and_read_parameters_shows_the_difference(secret):
    _, name = secret
    before, written = automation.update_parameters("taskexport", {"lustreStorageCapacity": "4800"}, secret_id=name)
    assert before.current["lustreStorageCapacity"] == 2400
    assert written["lustreStorageCapacity"] == 4800

    after = automation.read_parameters("taskexport", secret_id=name)
    assert after.current["lustreStorageCapacity"] == 4800
    assert after.differs("lustreStorageCapacity") and not after.differs("deleteLustre")
    assert after.problem is None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "lustreStorageCapacity",
            "1000",
            'lustreStorageCapacity="1000" is not accepted: accepted 1200, 2400 or a multiple of 2400 (GiB, SCRATCH_2)',
        ),
        (
            "lustreStoragecapacity",
            "2400",
            "lustreStoragecapacity is not a runtime parameter of mode taskexport: "
            "accepted keys autoExport, deleteLustre",
        ),
        ("envName", "Other", "envName is a stack config parameter, not a runtime one"),
        (
            "jobDefinitionVcpus",
            "512",
            "jobDefinitionVcpus=512 is not accepted: accepted at most computeEnvironmentMaxvCpus=256",
        ),
    ],
)
def test_a_refused_parameter_raises_parameter_error_and_leaves_the_secret_unchanged(secret, key, value, message):
    emu, name = secret
    secrets = boto3.client("secretsmanager", region_name=emu.region)
    before = secrets.get_secret_value(SecretId=name)
    with pytest.raises(ParameterError) as raised:
        automation.update_parameters("taskexport", {key: value}, secret_id=name)
    assert str(raised.value).startswith(message)
    after = secrets.get_secret_value(SecretId=name)
    assert (after["VersionId"], after["SecretString"]) == (before["VersionId"], before["SecretString"])


def test_parse_assignment_needs_key_equals_value():
    assert automation.parse_assignment("deleteLustre=false") == ("deleteLustre", "false")
    with pytest.raises(ParameterError, match="accepted KEY=VALUE"):
        automation.parse_assignment("deleteLustre")


# --- runs ---------------------------------------------------------------------------------------


def test_run_waits_for_a_successful_run_and_reports_its_file_system(emulated):
    _, _, found = emulated
    events = []
    outcome = automation.run(
        "taskexport",
        stack_outputs=found,
        poll_seconds=0.01,
        timeout_seconds=60,
        on_event=lambda event, _: events.append(event),
    )
    assert outcome.status == "SUCCEEDED"
    assert outcome.file_system_id and outcome.file_system_id.startswith("fs-")
    assert outcome.duration is not None and outcome.duration.total_seconds() > 0
    assert [e.type for e in events][0] == "ExecutionStarted"
    assert any(e.state == "CreateLustreFileSystem" for e in events)
    # What the run's states said on the way (automation.FACT_PATHS), read from the real state data.
    seen: dict[str, set[str]] = {}
    for event in events:
        for fact, value in event.facts.items():
            seen.setdefault(fact, set()).add(value)
    assert "AVAILABLE" in seen["fileSystem"] and "AVAILABLE" in seen["association"]
    assert seen["export"] == {"SUCCEEDED"} and seen["job"] <= {"STARTING", "RUNNING", "SUCCEEDED"}


def test_wait_for_run_raises_run_failed_with_the_executions_error_and_cause():
    with Emulation(Scenario(batch=BatchScenario.app_error(3))) as emu:
        _, found = deploy_emulated(emu, "taskexport", runtime_params=QUICK)
        handle = automation.start_run("taskexport", stack_outputs=found)
        with pytest.raises(automation.RunFailed) as raised:
            automation.wait_for_run(handle.execution_arn, poll_seconds=0.01, timeout_seconds=60)
    failed = raised.value
    assert failed.error == "JobFailed"
    assert failed.cause and "FAILED" in failed.cause
    assert failed.outcome.status == "FAILED"
    assert "\n" not in str(failed) and str(failed).startswith(f"run {handle.name} FAILED: JobFailed: ")


def test_start_run_starts_a_second_run_while_another_is_running_and_it_waits_in_line():
    from conftest import stop_held_runs, wait_until_held

    with Emulation(Scenario()) as emu:
        _, found = deploy_emulated(emu, "taskexport")
        emu.hold_waits()  # the first run stays RUNNING at its first wait, holding the stack's one lane
        first = automation.start_run("taskexport", stack_outputs=found)
        wait_until_held(first.execution_arn)
        second = automation.start_run("taskexport", stack_outputs=found)
        wait_until_held(second.execution_arn)
        sfn = boto3.client("stepfunctions", region_name=emu.region)
        status = sfn.describe_execution(executionArn=second.execution_arn)["status"]
        entered = [
            e["stateEnteredEventDetails"]["name"]
            for e in sfn.get_execution_history(executionArn=second.execution_arn)["events"]
            if "stateEnteredEventDetails" in e
        ]
        stop_held_runs(emu)
    assert status == "RUNNING"
    assert "FindLane" in entered and "TakeLane" not in entered  # waiting in line, inside WaitFor


def test_list_runs_reports_outcome_duration_and_error_newest_first():
    with Emulation(Scenario(batch=BatchScenario.app_error(3))) as emu:
        _, found = deploy_emulated(emu, "taskexport", runtime_params=QUICK)
        with pytest.raises(automation.RunFailed):
            automation.run("taskexport", stack_outputs=found, name="first", poll_seconds=0.01, timeout_seconds=60)
        runs = automation.list_runs(found["stateMachineArn"])
    assert [(r.name, r.status, r.error) for r in runs] == [("first", "FAILED", "JobFailed")]
    assert runs[0].duration is not None


def test_new_run_names_are_accepted_execution_names():
    from batch_lustre.program.parameters import check_execution_name

    name = automation.new_run_name()
    check_execution_name(name)
    assert name.startswith("run-") and name != automation.new_run_name()


class PagingHistory:
    """GetExecutionHistory as AWS pages it: reverseOrder, maxResults and nextToken honoured (moto ignores them)."""

    def __init__(self, count: int) -> None:
        self.events = [{"id": i, "type": "PassStateEntered"} for i in range(1, count + 1)]
        self.calls = 0

    def get_execution_history(self, executionArn, reverseOrder=False, maxResults=100, nextToken=None):
        self.calls += 1
        ordered = self.events[::-1] if reverseOrder else self.events
        start = int(nextToken or 0)
        page = ordered[start : start + maxResults]
        more = start + maxResults < len(ordered)
        return {"events": page, **({"nextToken": str(start + maxResults)} if more else {})}


def test_history_reader_returns_each_event_once_in_order_reading_newest_pages_only():
    history = PagingHistory(450)
    reader = automation.HistoryReader("arn:aws:states:us-east-1:1:execution:m:r", history)
    assert [e["id"] for e in reader.new_events()] == list(range(1, 451))
    assert history.calls == 3  # 200 + 200 + 50

    history.events += [{"id": i, "type": "PassStateEntered"} for i in range(451, 461)]
    history.calls = 0
    assert [e["id"] for e in reader.new_events()] == list(range(451, 461))
    assert history.calls == 1  # the newest page holds every new event
    assert reader.new_events() == []


# --- per-run overrides (docs/workflow-v2.md, "Execution input: per-run overrides") -------------------------------------------------------------------------


def started_input(emu, execution_arn: str):
    return automation.execution_input(execution_arn, boto3.client("stepfunctions", region_name=emu.region))


def executions(found) -> list:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    return sfn.list_executions(stateMachineArn=found["stateMachineArn"])["executions"]


def stop(emu, handle) -> None:
    from conftest import wait_until_held

    wait_until_held(handle.execution_arn)
    boto3.client("stepfunctions", region_name=emu.region).stop_execution(
        executionArn=handle.execution_arn, error="TestOver", cause="test ended"
    )
    emu.release_waits()


def test_start_run_sends_the_overrides_typed_as_the_execution_input(emulated):
    emu, _, found = emulated
    emu.hold_waits()  # only the input matters: the run stays at its first wait
    handle = automation.start_run(
        "taskexport",
        stack_outputs=found,
        overrides={
            "command": ["python", "sim.py"],
            "environment": {"CASE": "a1"},
            "vcpus": "4",
            "memory": 8192,
            "imageTag": "v2",
            "arraySize": 1,
            "warmComputeCapacity": "false",
        },
    )
    try:
        assert started_input(emu, handle.execution_arn) == {
            "command": ["python", "sim.py"],
            "environment": {"CASE": "a1"},
            "vcpus": 4,
            "memory": 8192,
            "imageTag": "v2",
            "arraySize": 1,
            "warmComputeCapacity": False,
        }
    finally:
        stop(emu, handle)


def test_start_run_without_overrides_sends_an_empty_input(emulated):
    emu, _, found = emulated
    emu.hold_waits()
    handle = automation.start_run("taskexport", stack_outputs=found, overrides={})
    try:
        assert started_input(emu, handle.execution_arn) == {}
    finally:
        stop(emu, handle)


@pytest.mark.parametrize(
    ("overrides", "kwargs", "message"),
    [
        (
            {"vcpus": 257},
            {},
            "execution input vcpus=257 is not accepted: accepted an integer from 1 to computeEnvironmentMaxvCpus=256",
        ),  # the deployed compute environment's maxvCpus
        (
            {"vcpus": 9},
            {"max_vcpus": 8},
            "execution input vcpus=9 is not accepted: accepted an integer from 1 to computeEnvironmentMaxvCpus=8",
        ),
        (
            {"vcpu": 4},
            {},
            'execution input key "vcpu" is not accepted: accepted keys command, environment, vcpus, '
            "memory, imageTag, arraySize, warmComputeCapacity",
        ),
        (
            {"command": "python sim.py"},
            {},
            'execution input command="python sim.py" is not accepted: accepted a list of 1 to 100 strings',
        ),
        (
            {"arraySize": 0, "memory": 2},
            {},
            "execution input memory=2 is not accepted: accepted an integer from 4 to "
            "10000000 (MiB); execution input arraySize=0 is not accepted",
        ),
        (["vcpus"], {}, 'execution input=["vcpus"] is not accepted: accepted a JSON object'),
    ],
)
def test_start_run_refuses_bad_overrides_as_extract_parameters_would_and_starts_nothing(
    emulated, overrides, kwargs, message
):
    _, _, found = emulated
    with pytest.raises(ParameterError) as raised:
        automation.start_run("taskexport", stack_outputs=found, overrides=overrides, **kwargs)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
    assert executions(found) == []


def test_run_cleanup_of_finds_the_execution_event_bridge_started_for_a_failed_run():
    from batch_lustre.emulation.runner import wait_for_executions

    with Emulation(Scenario()) as emu:
        _, found = deploy_emulated(emu, "taskexport", runtime_params={"lustreStorageCapacity": 1000}, run_cleanup=True)
        with pytest.raises(automation.RunFailed):  # refused at once: InvalidParameters
            automation.run("taskexport", stack_outputs=found, name="refused", poll_seconds=0.01, timeout_seconds=30)
        machine = found["runCleanupStateMachineArn"]
        assert automation.run_cleanup_of("refused", machine) is None  # EventBridge has not delivered yet
        wait_for_executions(emu, machine, at_least=1)
        execution = automation.run_cleanup_of("refused", machine)
        assert execution is not None and execution["status"] in ("SUCCEEDED", "FAILED")
        assert automation.run_cleanup_of("another-run", machine) is None

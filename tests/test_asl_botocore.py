"""Every aws-sdk task's request is checked against botocore's model of that operation.

Step Functions spells every member in PascalCase, also where the API model uses
camelCase (Batch), so names are compared with the first letter capitalised
(AWS_FACTS, Step Functions). Keys ending in ``.$`` are filled at run time: the
member must exist, its value is not checked here.
"""

import re

import botocore.session
import pytest
from conftest import sample_refs

from batch_lustre.program.asl import build_definition
from batch_lustre.program.asl.states import AWS_SDK, BATCH_SUBMIT_JOB_SYNC, all_states
from batch_lustre.program.parameters import MODES

BOTOCORE_SERVICE = {"sfn": "stepfunctions"}
SESSION = botocore.session.get_session()


def pascal(name):
    return name[0].upper() + name[1:]


DYNAMODB = "arn:aws:states:::dynamodb:"


def sdk_tasks(mode):
    return definition_tasks(build_definition(sample_refs(mode)))


def definition_tasks(definition):
    """Every aws-sdk Task (Parallel branches included), the optimized Batch integration's SubmitJob, whose
    Parameters are SubmitJob's request members (Step Functions developer guide, "AWS Batch"), and the optimized
    DynamoDB integration's item actions, whose Parameters are the API's request ("Call DynamoDB APIs with Step
    Functions")."""
    for name, state in all_states(definition).items():
        if state.get("Type") != "Task":
            continue
        if state["Resource"].startswith(AWS_SDK):
            service, action = state["Resource"][len(AWS_SDK) :].split(":")
            yield name, service, action, state
        elif state["Resource"] == BATCH_SUBMIT_JOB_SYNC:
            yield name, "batch", "submitJob", state
        elif state["Resource"].startswith(DYNAMODB):
            yield name, "dynamodb", state["Resource"][len(DYNAMODB) :], state


def operation(service, action):
    model = SESSION.get_service_model(BOTOCORE_SERVICE.get(service, service))
    return model.operation_model(pascal(action))


def matches_pattern(pattern, value):
    """Model patterns are Java regexes; those Python cannot compile (\\p{...}) are not checked."""
    if pattern is None:
        return True
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return True


def check_value(shape, value, where, problems):
    if isinstance(value, str) and shape.type_name != "string" and where.endswith("$"):
        return
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object")
            return
        members = {pascal(m): (m, s) for m, s in shape.members.items()}
        given = {k[:-2] if k.endswith(".$") else k for k in value}
        for key, item in value.items():
            dynamic = key.endswith(".$")
            plain = key[:-2] if dynamic else key
            if plain not in members:
                problems.append(f"{where}.{plain}: not a member of {shape.name} ({', '.join(sorted(members))})")
                continue
            if not dynamic:
                check_value(members[plain][1], item, f"{where}.{plain}", problems)
        for required in shape.required_members:
            if pascal(required) not in given:
                problems.append(f"{where}: required member {pascal(required)} missing")
    elif shape.type_name == "list":
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list")
            return
        limit = shape.metadata.get("max")
        if limit is not None and len(value) > limit:
            problems.append(f"{where}: {len(value)} items, at most {limit}")
        for i, item in enumerate(value):
            check_value(shape.member, item, f"{where}[{i}]", problems)
    elif shape.type_name == "map":
        for key, item in value.items():
            if not key.endswith(".$"):
                check_value(shape.value, item, f"{where}.{key}", problems)
    elif shape.type_name == "string":
        if not isinstance(value, str):
            problems.append(f"{where}: expected a string, got {value!r}")
        elif shape.enum and value not in shape.enum:
            problems.append(f"{where}: {value!r} is not one of {shape.enum}")
        elif not matches_pattern(shape.metadata.get("pattern"), value):
            problems.append(f"{where}: {value!r} does not match {shape.metadata['pattern']}")
    elif shape.type_name in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{where}: expected an integer, got {value!r}")
    elif shape.type_name == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{where}: expected a boolean, got {value!r}")


ALL_TASKS = [(mode, *t) for mode in MODES for t in sdk_tasks(mode)]
IDS = [f"{mode}:{name}" for mode, name, *_ in ALL_TASKS]


@pytest.mark.parametrize(("mode", "name", "service", "action", "state"), ALL_TASKS, ids=IDS)
def test_request_matches_the_operation_model(mode, name, service, action, state):
    op = operation(service, action)
    problems = []
    check_value(op.input_shape, state["Parameters"], name, problems)
    assert not problems, "\n".join(problems)


def walk_output(shape, path):
    """Follow a JSONPath like $.FileSystems[0].LustreConfiguration.MountName through an output shape."""
    tokens = re.findall(r"\.([A-Za-z0-9]+)|\[(\d+)\]", path[1:])
    for member, index in tokens:
        if index:
            assert shape.type_name == "list", f"{path}: [{index}] on {shape.name}"
            shape = shape.member
        else:
            members = {pascal(m): s for m, s in shape.members.items()}
            assert member in members, f"{path}: {member} is not a member of {shape.name}"
            # Step Functions spells result members as the Java SDK v2 does: an acronym is not kept
            # (DNSName comes back as DnsName), so a path through one cannot be trusted either way.
            assert not re.search(r"[A-Z]{2}", member), f"{path}: {member} is spelt differently by Step Functions"
            shape = members[member]
    return shape


@pytest.mark.parametrize(("mode", "name", "service", "action", "state"), ALL_TASKS, ids=IDS)
def test_result_selector_paths_exist_in_the_response(mode, name, service, action, state):
    op = operation(service, action)
    for value in state.get("ResultSelector", {}).values():
        # Plain paths and paths inside intrinsic functions alike.
        for path in re.findall(r"(?<!\$)\$\.[A-Za-z0-9.\[\]]+", value if isinstance(value, str) else ""):
            walk_output(op.output_shape, path)


def test_the_checker_finds_a_misspelt_member():
    op = operation("fsx", "createFileSystem")
    problems = []
    check_value(op.input_shape, {"FileSystemType": "LUSTRE", "StorageCapacty": 1200, "SubnetIds": ["s"]}, "x", problems)
    assert any("StorageCapacty" in p for p in problems)


def test_the_checker_finds_a_bad_enum_and_a_missing_required_member():
    op = operation("fsx", "createDataRepositoryTask")
    problems = []
    check_value(op.input_shape, {"Type": "EXPORT", "FileSystemId.$": "$.x"}, "x", problems)
    assert any("'EXPORT' is not one of" in p for p in problems)
    assert any("required member Report missing" in p for p in problems)


@pytest.mark.parametrize("mode", MODES)
def test_paths_into_a_described_file_system_avoid_acronym_members(mode):
    """$.fsStatus.FileSystem holds a whole DescribeFileSystems item: every path into it is checked too."""
    defn = build_definition(sample_refs(mode))
    shape = operation("fsx", "describeFileSystems").output_shape.members["FileSystems"].member
    for path in set(re.findall(r"\$\.fsStatus\.FileSystem(?:\.[A-Za-z0-9]+)+", str(defn))):
        walk_output(shape, "$" + path[len("$.fsStatus.FileSystem") :])


def test_the_output_walker_refuses_an_acronym_member():
    shape = operation("fsx", "describeFileSystems").output_shape.members["FileSystems"].member
    with pytest.raises(AssertionError, match="DNSName is spelt differently"):
        walk_output(shape, "$.DNSName")


def test_dynamodb_tasks_are_checked_against_the_dynamodb_model():
    take = {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:putItem",
        "Parameters": {
            "TableName": "lanes",
            "Item": {"lane": {"S": "0"}, "owner": {"S.$": "$$.Execution.Id"}},
            "ConditionExpression": "attribute_not_exists(lane)",
        },
        "End": True,
    }
    definition = {"StartAt": "Take", "States": {"Take": take}}
    [(name, service, action, state)] = definition_tasks(definition)
    problems = []
    check_value(operation(service, action).input_shape, state["Parameters"], name, problems)
    assert problems == []
    take["Parameters"] = {"TableName": "lanes", "Item": {"lane": {"Str": "0"}}, "ConditionExpresion": "x"}
    check_value(operation(service, action).input_shape, take["Parameters"], name, problems)
    assert any("ConditionExpresion: not a member" in p for p in problems)
    assert any("Item.lane.Str: not a member of AttributeValue" in p for p in problems)

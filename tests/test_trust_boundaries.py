"""Properties of every trust boundary: the secret, a run's input (execution input, CLI flags, ``params set``) and
the stack config. Whatever arrives, the answer is a typed result or one ``ParameterError`` line, never another
error; and whatever is accepted reaches AWS as requests botocore's model of Batch accepts, with no control
character anywhere.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any
from unittest import mock

import botocore.session
import extract_parameters
import pytest
from botocore.validate import ParamValidator
from conftest import sample_refs
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_lustre.automation import check_assignment, parse_assignment, run_input
from batch_lustre.cli.overrides import from_flags
from batch_lustre.program.asl import build_definition
from batch_lustre.program.asl.lane import lane_list
from batch_lustre.program.asl.states import all_states
from batch_lustre.program.parameters import (
    BY_NAME,
    INPUT_KEYS,
    LOG_RETENTION_DAYS,
    MAX_INTEGER_DIGITS,
    MODES,
    PARAMETERS,
    Parameter,
    ParameterError,
    has_control,
    parameters_for,
    parse_secret,
    runtime_defaults,
    validate_overrides,
    validate_runtime,
    validate_value,
)
from batch_lustre.program.settings import MODE_KEY, load_stack_config, settings_from_config

MAX_VCPUS = 256
BATCH = botocore.session.get_session().get_service_model("batch")
ECR = botocore.session.get_session().get_service_model("ecr")
DIGEST = "sha256:" + "0123456789abcdef" * 4  # what ResolveJobImage reads
# CloudWatch Logs' accepted retentions, as botocore's model documents PutRetentionPolicy's retentionInDays.
_RETENTION_DOC = botocore.session.get_session().get_service_model("logs").shape_for("Days").documentation
CLOUDWATCH_LOGS_RETENTIONS = tuple(
    int(n) for n in re.findall(r"\d+", re.search(r"Possible values are: ([\d, and]+)\.", _RETENTION_DOC).group(1))
)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# --- what may arrive -------------------------------------------------------------------------------------------

# Numbers past any accepted one, up to past Python's own int-conversion limit (4,300 digits).
long_digits = st.integers(MAX_INTEGER_DIGITS - 2, 5001).map(lambda n: "9" * n)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | long_digits
    | st.integers(20, 5000).map(lambda n: 10**n)
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
)
# Text that is nearly right: a plain spelling with a control character, a space or a long tail around it.
spellings = st.sampled_from(["1", "32", "2400", "true", "false", "2.15", "optimal", "v1", "latest", "-5", "0"])
near_text = st.builds(
    lambda before, core, after: before + core + after,
    st.sampled_from(["", " ", "\t", "\n"]),
    spellings,
    st.sampled_from(["", " ", "\n", "\r", "\x00", "\u2028", "\x85", "0" * 30]),
)
values = json_values | near_text


def with_tail(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``text``, often with what a whole-value check must refuse at its end: a newline, a control character."""
    tails = st.sampled_from(["", "", "\n", "\r\n", "\x00", "\u2028", " "])
    return st.builds(lambda core, tail: core + tail, text, tails)


IMAGE_TAGS = with_tail(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", fullmatch=True))
ENVIRONMENT_NAMES = with_tail(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True))
NUMBERS = st.integers(-2, 10_001) | with_tail(st.integers(0, 300).map(str)) | long_digits


def defaults(mode: str) -> dict[str, Any]:
    stack = {p.name: p.defaults[mode] for p in parameters_for(mode)}
    return runtime_defaults(stack, mode)


def plausible(parameter: Parameter, mode: str) -> st.SearchStrategy[Any]:
    """Values of ``parameter`` near its default, as JSON or as text: some accepted, some not."""
    default = parameter.defaults.get(mode, parameter.defaults[next(iter(parameter.defaults))])
    if parameter.kind == "bool":
        return st.booleans() | st.sampled_from(["true", "false", " TRUE ", "yes"])
    if parameter.kind == "int":
        near = st.integers(max(0, default // 2), default * 2 + 1)
        return near | near.map(str) | near.map(float)
    if parameter.kind == "str_list":
        return st.lists(st.sampled_from(["optimal", "c6i", "m6i.4xlarge", "C6I"]), max_size=3)
    return st.sampled_from([default, "2.12", "2.10", 2.15, 2.12])


@st.composite
def secrets(draw) -> tuple[str, Any]:
    """(mode, the secret's parsed content): any JSON, or the mode's defaults with a few keys changed or added."""
    mode = draw(st.sampled_from(MODES))
    if draw(st.integers(0, 3)) == 0:
        return mode, draw(json_values)
    secret = defaults(mode)
    names = st.sampled_from([p.name for p in parameters_for(mode, runtime=True)])
    for name in draw(
        st.lists(names | st.sampled_from([p.name for p in PARAMETERS]) | st.text(max_size=10), max_size=3)
    ):
        parameter = BY_NAME.get(name)
        plain = parameter is not None and parameter.applies_to(mode) and draw(st.integers(0, 2)) > 0
        secret[name] = draw(plausible(parameter, mode) if plain else values)
    return mode, secret


PLAUSIBLE_INPUTS = {
    "command": st.lists(with_tail(st.text(min_size=1, max_size=20)), min_size=1, max_size=3),
    "environment": st.dictionaries(ENVIRONMENT_NAMES, with_tail(st.text(max_size=20)), max_size=2),
    "vcpus": NUMBERS,
    "memory": NUMBERS | st.integers(0, 20_000_000),
    "imageTag": IMAGE_TAGS,
    "arraySize": NUMBERS,
    "warmComputeCapacity": st.booleans() | with_tail(st.sampled_from(["true", "false", "yes"])),
}


@st.composite
def execution_inputs(draw) -> Any:
    """Any JSON, or a few keys, known or not, with any value or a plausible one."""
    if draw(st.booleans()):
        return draw(json_values)
    keys = draw(st.lists(st.sampled_from(INPUT_KEYS) | st.text(max_size=8), max_size=4, unique=True))
    return {
        key: draw(PLAUSIBLE_INPUTS[key] if key in PLAUSIBLE_INPUTS and draw(st.booleans()) else values) for key in keys
    }


def one_line_refusal(err: ParameterError) -> str:
    message = str(err)
    assert message and len(message.splitlines()) == 1 and not CONTROL.search(message), repr(message)
    return message


def strings(value: Any) -> Iterator[str]:
    """Every string in ``value``, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def assert_typed(typed: dict[str, Any], mode: str) -> None:
    """Accepted secret: exactly the mode's runtime parameters, each of its kind and passing its rule."""
    assert set(typed) == {p.name for p in parameters_for(mode, runtime=True)}
    kinds = {"bool": bool, "int": int, "str": str, "str_list": list}
    for name, value in typed.items():
        parameter = BY_NAME[name]
        assert type(value) is kinds[parameter.kind], (name, value)
        assert parameter.check is None or parameter.check(value), (name, value)
    assert not any(has_control(s) for s in strings(typed))


# --- the secret and the run input: a typed result or one ParameterError line -----------------------------------


@given(secrets())
def test_any_secret_gives_typed_parameters_or_one_refusal_line(generated):
    mode, secret = generated
    try:
        typed = validate_runtime(secret, mode, MAX_VCPUS)
    except ParameterError as err:
        one_line_refusal(err)
        return
    assert_typed(typed, mode)


@given(st.sampled_from(PARAMETERS), values)
def test_any_value_of_any_parameter_is_typed_or_refused_in_one_line(parameter, value):
    try:
        typed = validate_value(parameter, value)
    except ParameterError as err:
        assert one_line_refusal(err).startswith(f"{parameter.name}=")
        return
    assert parameter.check is None or parameter.check(typed)
    assert not any(has_control(s) for s in strings(typed))


@given(st.text(max_size=60) | json_values.map(json.dumps) | long_digits.map(lambda d: f'{{"a": [{d}]}}'))
def test_any_secret_text_parses_to_json_or_is_refused_in_one_line(text):
    try:
        parsed = parse_secret(text)
    except ParameterError as err:
        one_line_refusal(err)
        return
    assert json.loads(json.dumps(parsed)) == parsed or parsed != parsed  # NaN is not equal to itself


@given(execution_inputs())
def test_any_execution_input_gives_typed_overrides_or_one_refusal_line(execution_input):
    for check in (validate_overrides, run_input):  # the workflow's check, and the Automation API's
        try:
            typed = check(execution_input, MAX_VCPUS)
        except ParameterError as err:
            one_line_refusal(err)
            continue
        given = {} if execution_input is None and check is run_input else execution_input  # None: no overrides
        assert isinstance(given, dict) and set(typed) == set(given) <= set(INPUT_KEYS)
        assert not any(has_control(s) for s in strings(typed))


@pytest.mark.parametrize("key", INPUT_KEYS)
def test_each_input_key_accepts_only_values_without_control_characters(key):
    """One key at a time, with values nearly right: a check that lets a newline through at the end shows here."""

    @settings(max_examples=30)
    @given(PLAUSIBLE_INPUTS[key])
    def check(value):
        try:
            typed = validate_overrides({key: value}, MAX_VCPUS)
        except ParameterError as err:
            assert one_line_refusal(err).startswith(f"execution input {key}")
            return
        assert not any(has_control(s) for s in strings(typed)), typed

    check()


@given(
    st.sampled_from(MODES),
    st.sampled_from([p.name for p in PARAMETERS]) | st.text(max_size=12),
    near_text | st.text(max_size=20) | long_digits,
)
def test_any_params_set_assignment_is_typed_or_refused_in_one_line(mode, key, value):
    try:
        parsed_key, parsed_value = parse_assignment(f"{key}={value}")
        typed = check_assignment(mode, parsed_key, parsed_value)
    except ParameterError as err:
        one_line_refusal(err)
        return
    assert BY_NAME[parsed_key].is_runtime(mode)
    assert not any(has_control(s) for s in strings(typed))


@given(
    command=st.none() | st.text(max_size=30),
    env=st.none() | st.lists(st.text(max_size=15), max_size=3),
    vcpus=st.none() | near_text | long_digits | st.text(max_size=5),
    image_tag=st.none() | near_text | st.text(max_size=10),
    warm=st.none() | st.booleans(),
)
def test_any_run_flags_give_an_execution_input_or_one_refusal_line(command, env, vcpus, image_tag, warm):
    """The CLI's per-run flags (``run``, ``demo``) through the Automation API's check, before anything starts."""
    try:
        raw = from_flags(command=command, env=env, vcpus=vcpus, image_tag=image_tag, warm=warm)
        typed = run_input(raw, MAX_VCPUS)
    except ParameterError as err:
        one_line_refusal(err)
        return
    assert not any(has_control(s) for s in strings(typed))


@pytest.mark.parametrize("text", ["1_0", "\u0661\u0660", "+10", "1e1", "10\n", "9" * 5001])
def test_a_run_flag_takes_the_integers_the_workflow_takes(text):
    """Python's int() takes underscores and other scripts' digits; the workflow does not: neither does the flag."""
    with pytest.raises(ParameterError, match="execution input vcpus="):
        run_input(from_flags(vcpus=text), MAX_VCPUS)
    with pytest.raises(ParameterError, match="execution input vcpus="):
        validate_overrides({"vcpus": text}, MAX_VCPUS)


@pytest.fixture(scope="module")
def stack_configs() -> dict[str, dict[str, str]]:
    from batch_lustre.project import project_dir

    return {mode: load_stack_config(mode, project_dir()) for mode in MODES}


@settings(max_examples=40)
@given(
    st.sampled_from(MODES),
    st.dictionaries(
        st.sampled_from([f"batch-lustre:{p.name}" for p in PARAMETERS] + [MODE_KEY, "batch-lustre:nope"]),
        near_text | st.text(max_size=12) | long_digits | json_values.map(json.dumps),
        min_size=1,
        max_size=3,
    ),
)
def test_any_stack_config_gives_settings_or_one_refusal_line(stack_configs, mode, changes):
    config = stack_configs[mode] | changes
    try:
        found = settings_from_config(config)
    except ParameterError as err:
        one_line_refusal(err)
        return
    assert found.mode == config[MODE_KEY]
    assert not any(has_control(s) for s in strings(dict(found.values)))


# The stack config's keys that rules between parameters read (each within its own range, so only those rules
# decide): a stack config `pulumi up` accepts is one whose secret every run accepts, and no other.
CROSS_KEYED = {
    "waitForLustreCreationSeconds": st.integers(1, 3600),
    "lustreCreationTimeoutMinutes": st.integers(1, 10080),
    "waitForJobCompletionSeconds": st.integers(1, 3600),
    "jobRunnableTimeoutMinutes": st.integers(5, 1440),
    "waitForDataRepositoryTaskSeconds": st.integers(1, 3600),
    "waitForCheckMetricsSeconds": st.integers(1, 3600),
    "exportTimeoutMinutes": st.integers(1, 10080),
    "lambdaPeriodSeconds": st.integers(1, 60).map(lambda n: n * 60),
    "lambdaTimeDiffMinutes": st.integers(5, 1440),
    "autoExport": st.booleans(),
}


@settings(max_examples=40)
@given(
    st.sampled_from(MODES),
    st.integers(1, 600),
    st.integers(1, 600),
    st.dictionaries(st.sampled_from(sorted(CROSS_KEYED)), st.just(None), max_size=3).flatmap(
        lambda keys: st.fixed_dictionaries({key: CROSS_KEYED[key] for key in keys})
    ),
)
def test_pulumi_up_refuses_a_stack_config_exactly_when_every_run_would_refuse_its_secret(
    stack_configs, mode, vcpus, max_vcpus, changes
):
    changes = {"jobDefinitionVcpus": vcpus, "computeEnvironmentMaxvCpus": max_vcpus} | {
        name: value for name, value in changes.items() if BY_NAME[name].applies_to(mode)
    }
    config = stack_configs[mode] | {f"batch-lustre:{name}": json.dumps(value) for name, value in changes.items()}
    refusal = None
    try:
        settings_from_config(config)
    except ParameterError as err:
        refusal = one_line_refusal(err)
    # The secret `pulumi up` would write (stack config's text: the secret takes "32" as it takes 32), read by the
    # ExtractParameters Lambda of the deployed stack, whose MAX_VCPUS is computeEnvironmentMaxvCpus.
    secret = {p.name: config[f"batch-lustre:{p.name}"] for p in parameters_for(mode, runtime=True)}
    with mock.patch.dict(os.environ, {"MODE": mode, "MAX_VCPUS": str(max_vcpus), "NAME_PREFIX": "prefix"}):
        answer = extract_parameters.handler({"secretString": json.dumps(secret), "executionName": "run-1"}, None)
    assert answer["ok"] is (refusal is None), (answer["error"], refusal)
    if refusal is not None:  # the run names no problem the stack config did not
        assert set(answer["error"].split("; ")) <= set(refusal.split("; ")), (answer["error"], refusal)


# --- ExtractParameters: ok false, never an exception ------------------------------------------------------------


def handler(mode: str, event: dict[str, Any]) -> dict[str, Any]:
    """The handler's answer to ``event``, run as deployed for a stack in ``mode``."""
    with mock.patch.dict(os.environ, {"MODE": mode, "MAX_VCPUS": str(MAX_VCPUS), "NAME_PREFIX": "prefix"}):
        return extract_parameters.handler(event, None)


names = st.from_regex(r"[A-Za-z0-9_-]{1,80}", fullmatch=True) | st.text(max_size=90)
secret_texts = secrets().map(lambda s: (s[0], json.dumps(s[1]))) | st.tuples(st.sampled_from(MODES), st.text())


@given(secret_texts, names, st.none() | execution_inputs())
def test_extract_parameters_answers_ok_or_one_line_never_raises(secret, name, execution_input):
    mode, text = secret
    event = {"secretString": text, "executionName": name}
    if execution_input is not None:
        event["input"] = execution_input
    result = handler(mode, event)
    assert set(result) == {"ok", "error", "params", "derived"}
    assert json.loads(json.dumps(result)) == result  # what Step Functions receives
    if result["ok"]:
        assert_typed(result["params"], mode)
    else:
        assert result["error"] and len(result["error"].splitlines()) == 1
        assert result["params"] == result["derived"] == {}


# --- what is accepted, AWS accepts ------------------------------------------------------------------------------


def _resolve(template: Any, data: dict[str, Any]) -> Any:
    """A Task's Parameters filled as Step Functions fills them: plain paths, and States.Format of one path."""
    if isinstance(template, list):
        return [_resolve(item, data) for item in template]
    if not isinstance(template, dict):
        return template
    filled = {}
    for key, value in template.items():
        if not key.endswith(".$"):
            filled[key] = _resolve(value, data)
            continue
        formatted = re.fullmatch(r"States\.Format\('([^']*)', (\$[\w.$]+)\)", value)
        if formatted:
            filled[key[:-2]] = formatted.group(1).replace("{}", str(_path(formatted.group(2), data)), 1)
        else:
            filled[key[:-2]] = _path(value, data)
    return filled


def _path(path: str, data: dict[str, Any]) -> Any:
    found: Any = data
    for part in path.removeprefix("$").lstrip(".").split("."):
        found = found[part]
    return found


def _model_names(shape: Any, value: Any) -> Any:
    """Step Functions' PascalCase members -> the model's names (Batch's are camelCase)."""
    if shape.type_name == "structure":
        members = {m[0].upper() + m[1:]: m for m in shape.members}
        return {members[k]: _model_names(shape.members[members[k]], v) for k, v in value.items()}
    if shape.type_name == "list":
        return [_model_names(shape.member, item) for item in value]
    if shape.type_name == "map":
        return {k: _model_names(shape.value, v) for k, v in value.items()}
    return value


ACCEPTED_INPUTS = st.fixed_dictionaries(
    {},
    optional={
        "command": st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=5),
        "environment": st.dictionaries(
            st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True), st.text(max_size=30), max_size=5
        ),
        "vcpus": st.integers(1, MAX_VCPUS),
        "memory": st.integers(4, 10_000_000),
        "imageTag": IMAGE_TAGS,
        "arraySize": st.integers(1, 10_000),
        "warmComputeCapacity": st.booleans(),
    },
)


@settings(max_examples=40)
@given(
    st.sampled_from(MODES),
    ACCEPTED_INPUTS,
    st.from_regex(r"[A-Za-z0-9_-]{1,80}", fullmatch=True),
)
def test_every_accepted_run_makes_job_requests_botocore_accepts(mode, execution_input, name):
    result = handler(
        mode, {"secretString": json.dumps(defaults(mode)), "executionName": name, "input": execution_input}
    )
    if not result["ok"]:  # a control character or an AWS_BATCH name among the generated texts
        assert any(has_control(s) or s.endswith(" ") for s in strings(execution_input)) or "AWS_BATCH" in str(
            execution_input
        ), result["error"]
        return
    refs = sample_refs(mode)
    data = {
        "config": {"params": result["params"], "derived": result["derived"]},
        "polls": {"lane": {"Last": {"Lane": lane_list(refs)[-1]}}},  # the lane the run took (paths.LANE)
        "jobDefinition": {"JobDefinitionArn": "arn:aws:batch:us-east-1:123456789012:job-definition/x:1"},
        "image": {"digest": DIGEST},
        "$": {"Execution": {"Name": name}},
    }
    machine = all_states(build_definition(refs))
    array = result["derived"]["arraySize"] > 1
    for state, operation in (
        ("CreateJobDefinition", "RegisterJobDefinition"),
        ("SubmitArrayJob" if array else "SubmitJob", "SubmitJob"),
    ):
        shape = BATCH.operation_model(operation).input_shape
        request = _model_names(shape, _resolve(machine[state]["Parameters"], data))
        report = ParamValidator().validate(request, shape)
        assert not report.has_errors(), report.generate_report()
        assert not any(CONTROL.search(s) for s in strings(request)), request
    shape = ECR.operation_model("DescribeImages").input_shape
    lookup = _model_names(shape, _resolve(machine["ResolveJobImage"]["Parameters"], data))
    report = ParamValidator().validate(lookup, shape)
    assert not report.has_errors(), report.generate_report()
    assert not any(CONTROL.search(s) for s in strings(lookup)), lookup
    assert lookup["imageIds"] == [{"imageTag": execution_input.get("imageTag", "latest")}]
    image = _resolve(machine["CreateJobDefinition"]["Parameters"], data)["ContainerProperties"]["Image"]
    assert image.endswith("@" + DIGEST)


def test_the_round_trip_would_see_a_control_character():
    """The check above is not vacuous: a request carrying the image tag the old check let through is caught."""
    shape = BATCH.operation_model("RegisterJobDefinition").input_shape
    request = {"jobDefinitionName": "x", "type": "container", "containerProperties": {"image": "repo:v1\n"}}
    assert not ParamValidator().validate(request, shape).has_errors()  # botocore alone does not see it ...
    assert any(CONTROL.search(s) for s in strings(request))  # ... the control character check does


# --- the stack config's job log retention: exactly what CloudWatch Logs accepts -----------------------------


def test_the_accepted_job_log_retentions_are_exactly_cloudwatch_logs_values():
    assert LOG_RETENTION_DAYS == CLOUDWATCH_LOGS_RETENTIONS


@given(value=st.integers(-10, 4000) | st.sampled_from(CLOUDWATCH_LOGS_RETENTIONS) | st.text(max_size=8))
def test_job_log_retention_is_accepted_exactly_when_cloudwatch_logs_takes_it(stack_configs, value):
    config = {**stack_configs[MODES[0]], "batch-lustre:jobLogRetentionDays": str(value)}
    try:
        days = settings_from_config(config).job_log_retention_days
    except ParameterError as err:
        line = one_line_refusal(err)
        assert line.startswith("jobLogRetentionDays=") and "accepted" in line and "3653" in line, line
        assert value not in CLOUDWATCH_LOGS_RETENTIONS
        return
    assert days in CLOUDWATCH_LOGS_RETENTIONS and str(days) == str(value).strip()


# --- the stack config's lanes: as many as Batch's Region quotas allow ------------------------------------------


@given(value=st.integers(-5, 60) | st.sampled_from([1, 50, 51]) | near_text | st.text(max_size=8))
def test_max_concurrent_runs_is_accepted_exactly_from_1_to_batchs_50_per_region(stack_configs, value):
    config = {**stack_configs[MODES[0]], "batch-lustre:maxConcurrentRuns": str(value)}
    try:
        lanes = settings_from_config(config).max_concurrent_runs
    except ParameterError as err:
        line = one_line_refusal(err)
        assert line.startswith("maxConcurrentRuns=") and "an integer from 1 to 50" in line, line
        assert "50 compute environments and 50 job queues per Region" in line, line
        assert not (isinstance(value, int) and 1 <= value <= 50)
        return
    assert type(lanes) is int and 1 <= lanes <= 50 and str(lanes) == str(value).strip()

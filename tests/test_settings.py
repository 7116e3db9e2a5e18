"""Stack config validation: every bad value is refused with one line naming key, value and
what is accepted, and the program stops before declaring any resource."""

import re

import pulumi
import pytest
from offline_stacks import RecordingMocks, load_stack_config, run_program

from batch_lustre.program import settings
from batch_lustre.program.parameters import AUTO_EXPORT, TASK_EXPORT, ParameterError, parameters_for
from batch_lustre.program.settings import load_settings, settings_from_config
from batch_lustre.program.stack import program_config

# pulumi_aws warns about its own deprecated resource classes when the mocks load its modules.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws")

# name -> (mode, config changes, (key, value) pairs the message must show as key=value
# (quoted or not), fragments saying what is accepted)
BAD_CONFIGS = {
    "an untagged image expiry of 0 days (ECR refuses countNumber 0)": (
        TASK_EXPORT,
        {"ecrUntaggedImageExpiryDays": 0},
        [("ecrUntaggedImageExpiryDays", "0")],
        ["an integer from 1 to 3650"],
    ),
    "a negative noncurrent version expiry": (
        AUTO_EXPORT,
        {"bucketNoncurrentVersionExpiryDays": -1},
        [("bucketNoncurrentVersionExpiryDays", "-1")],
        ["0 (keep earlier versions forever)", "1 to 36500"],
    ),
    "capacity not a SCRATCH_2 size": (
        TASK_EXPORT,
        {"lustreStorageCapacity": 1000},
        [("lustreStorageCapacity", "1000")],
        ["1200, 2400 or a multiple of 2400"],
    ),
    "lustre 2.10 has no data repository associations": (
        TASK_EXPORT,
        {"lustreFileSystemTypeVersion": "2.10"},
        [("lustreFileSystemTypeVersion", "2.10")],
        ["2.12", "2.15"],
    ),
    "BEST_FIT refuses launch-template updates": (
        TASK_EXPORT,
        {"computeEnvironmentAllocationStrategy": "BEST_FIT"},
        [("computeEnvironmentAllocationStrategy", "BEST_FIT")],
        ["BEST_FIT_PROGRESSIVE", "SPOT_CAPACITY_OPTIMIZED"],
    ),
    "spot strategy with on-demand instances": (
        TASK_EXPORT,
        {"computeEnvironmentType": "EC2", "computeEnvironmentAllocationStrategy": "SPOT_CAPACITY_OPTIMIZED"},
        [("computeEnvironmentAllocationStrategy", "SPOT_CAPACITY_OPTIMIZED"), ("computeEnvironmentType", "EC2")],
        ["BEST_FIT_PROGRESSIVE"],
    ),
    "a strategy botocore knows but not known to allow launch-template updates": (
        TASK_EXPORT,
        {"computeEnvironmentAllocationStrategy": "BEST_FIT_PROGRESSIVE_ORDERED"},
        [("computeEnvironmentAllocationStrategy", "BEST_FIT_PROGRESSIVE_ORDERED")],
        ["BEST_FIT_PROGRESSIVE, SPOT_CAPACITY_OPTIMIZED, SPOT_PRICE_CAPACITY_OPTIMIZED"],
    ),
    "metric window shorter than two periods": (
        AUTO_EXPORT,
        {"lambdaPeriodSeconds": 600, "lambdaTimeDiffMinutes": 15},
        [("lambdaTimeDiffMinutes", "15"), ("lambdaPeriodSeconds", "600")],
        ["at least two periods"],
    ),
    "fargate cannot mount lustre": (
        TASK_EXPORT,
        {"computeEnvironmentType": "FARGATE"},
        [("computeEnvironmentType", "FARGATE")],
        ["EC2 or SPOT"],
    ),
    "min above desired": (
        TASK_EXPORT,
        {"computeEnvironmentMinvCpus": 8, "computeEnvironmentDesiredvCpus": 4},
        [("computeEnvironmentMinvCpus", "8"), ("computeEnvironmentDesiredvCpus", "4")],
        ["min <= desired <= max"],
    ),
    "desired above max": (
        TASK_EXPORT,
        {"computeEnvironmentDesiredvCpus": 512},
        [("computeEnvironmentDesiredvCpus", "512"), ("computeEnvironmentMaxvCpus", "256")],
        ["min <= desired <= max"],
    ),
    "zero wait": (
        TASK_EXPORT,
        {"waitForJobCompletionSeconds": 0},
        [("waitForJobCompletionSeconds", "0")],
        ["from 1 to 3600"],
    ),
    "no instance types": (
        TASK_EXPORT,
        {"computeEnvironmentInstanceTypes": []},
        [("computeEnvironmentInstanceTypes", "[]")],
        ["non-empty list"],
    ),
    "ecr repository name with capitals": (
        TASK_EXPORT,
        {"ecrRepositoryName": "My_Repo"},
        [("ecrRepositoryName", "My_Repo")],
        ["lowercase"],
    ),
    "an input prefix without its slash": (
        TASK_EXPORT,
        {"dataRepositoryInputPrefix": "input"},
        [("dataRepositoryInputPrefix", "input")],
        ['an S3 key prefix ending in "/"'],
    ),
    "a results prefix with a dot segment": (
        AUTO_EXPORT,
        {"dataRepositoryResultsPrefix": "runs/../"},
        [("dataRepositoryResultsPrefix", "runs/../")],
        ["none . or .."],
    ),
    "results among the inputs": (
        TASK_EXPORT,
        {"dataRepositoryInputPrefix": "data/", "dataRepositoryResultsPrefix": "data/runs/"},
        [("dataRepositoryInputPrefix", "data/"), ("dataRepositoryResultsPrefix", "data/runs/")],
        ["neither of which holds the other"],
    ),
    "autoexport without auto export": (
        AUTO_EXPORT,
        {"autoExport": False},
        [("autoExport", "false")],
        ["accepted true"],
    ),
    "a schedule longer than the history budget allows": (
        TASK_EXPORT,
        {"lustreCreationTimeoutMinutes": 10080, "waitForLustreCreationSeconds": 1},
        [("lustreCreationTimeoutMinutes", "10080"), ("waitForLustreCreationSeconds", "1")],
        [
            "25,000-event history",
            re.compile(r"accepted waitForLustreCreationSeconds >= \d+ or lustreCreationTimeoutMinutes <= \d+$"),
        ],
    ),
    "autoexport metric checks past the history budget": (
        AUTO_EXPORT,
        {"exportTimeoutMinutes": 10080},
        [("exportTimeoutMinutes", "10080"), ("waitForCheckMetricsSeconds", "60")],
        ["25,000-event history", re.compile(r"accepted exportTimeoutMinutes <= \d+$")],
    ),
    "runnable timeout below 5 minutes": (
        TASK_EXPORT,
        {"jobRunnableTimeoutMinutes": 2},
        [("jobRunnableTimeoutMinutes", "2")],
        ["from 5 to 1440"],
    ),
    "warm compute capacity not a boolean": (
        AUTO_EXPORT,
        {"warmComputeCapacity": "sometimes"},
        [("warmComputeCapacity", "sometimes")],
        ["true or false"],
    ),
    "misspelled key": (
        TASK_EXPORT,
        {"lustreStorageCapcity": 2400},
        [],
        ["lustreStorageCapcity", "is not a parameter", "lustreStorageCapacity"],
    ),
    "job log retention CloudWatch Logs does not take": (
        TASK_EXPORT,
        {"jobLogRetentionDays": 100},
        [("jobLogRetentionDays", "100")],
        ["a CloudWatch Logs retention (days)", "90, 120", "3653"],
    ),
    "more lanes than Batch allows in a Region": (
        TASK_EXPORT,
        {"maxConcurrentRuns": 51},
        [("maxConcurrentRuns", "51")],
        ["an integer from 1 to 50", "50 compute environments and 50 job queues per Region", "cannot be raised"],
    ),
    "no lane": (TASK_EXPORT, {"maxConcurrentRuns": 0}, [("maxConcurrentRuns", "0")], ["an integer from 1 to 50"]),
    "parameter of the other mode": (
        TASK_EXPORT,
        {"waitForCheckMetricsSeconds": 60},
        [],
        ["waitForCheckMetricsSeconds", "is not a parameter", "taskexport"],
    ),
}


def _shows(message, key, value):
    """``message`` shows ``key=value``, the value quoted or not, and not as the start of a longer value."""
    return re.search(rf"{key}=['\"]?{re.escape(value)}['\"]?(?![\w.])", message) is not None


def _defaults(mode):
    return {p.name: p.defaults[mode] for p in parameters_for(mode)}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_value_is_refused_with_a_one_line_message_naming_key_value_and_rule(case):
    mode, changes, shown, accepted = BAD_CONFIGS[case]
    with pytest.raises(ParameterError) as caught:
        load_settings(mode, {**_defaults(mode), **changes})
    message = str(caught.value)
    assert "\n" not in message
    assert "accepted" in message
    for key, value in shown:
        assert _shows(message, key, value), (key, value, message)
    for fragment in accepted:
        if isinstance(fragment, re.Pattern):
            assert fragment.search(message), (fragment.pattern, message)
            _suggestions_are_the_nearest_accepted(mode, {**_defaults(mode), **changes}, fragment.search(message)[0])
        else:
            assert fragment in message


def _suggestions_are_the_nearest_accepted(mode: str, config: dict, accepted: str) -> None:
    """Each ``key >= n`` / ``key <= n`` the refusal suggests is accepted (the other values as refused), and the
    next value past it is not: the suggestion is feasible and the nearest."""
    suggestions = re.findall(r"(\w+) (>=|<=) (\d+)", accepted)
    assert suggestions, accepted
    for key, op, bound in suggestions:
        step = 1 if op == ">=" else -1
        load_settings(mode, {**config, key: int(bound)})
        with pytest.raises(ParameterError):
            load_settings(mode, {**config, key: int(bound) - step})


def test_unknown_mode_is_refused_naming_the_accepted_modes():
    with pytest.raises(ParameterError) as caught:
        load_settings("batch", {})
    assert _shows(str(caught.value), "mode", "batch")
    assert "taskexport or autoexport" in str(caught.value)


@pytest.mark.parametrize("mode", [TASK_EXPORT, AUTO_EXPORT])
def test_defaults_are_accepted(mode):
    assert dict(load_settings(mode, _defaults(mode)).values) == _defaults(mode)


def test_numbers_and_booleans_spelled_as_strings_are_accepted():
    settings = load_settings(TASK_EXPORT, {"lustreStorageCapacity": "2400", "deleteLustre": "true"})
    assert settings.values["lustreStorageCapacity"] == 2400
    assert settings.values["deleteLustre"] is True


def test_runtime_defaults_hold_the_runtime_parameters_only():
    settings = load_settings(AUTO_EXPORT, {})
    assert set(settings.runtime_defaults) == {p.name for p in parameters_for(AUTO_EXPORT, runtime=True)}
    assert "envName" not in settings.runtime_defaults
    assert settings.resource_prefix == "autoexport"


def test_the_typed_properties_hold_the_typed_values():
    settings = load_settings(
        TASK_EXPORT,
        {
            "envName": "Batch-1",
            "ecrRepositoryName": "team/sim",
            "computeEnvironmentType": "EC2",
            "computeEnvironmentInstanceTypes": "c6i, m6i.4xlarge",
            "computeEnvironmentMinvCpus": "2",
            "computeEnvironmentDesiredvCpus": "4",
            "computeEnvironmentMaxvCpus": "64",
            "jobDefinitionVcpus": "8",
            "maxConcurrentRuns": "3",
        },
    )
    assert settings.max_concurrent_runs == 3
    assert (settings.env_name, settings.resource_prefix, settings.ecr_repository_name("prod")) == (
        "Batch-1",
        "batch-1",
        "team/sim",
    )
    assert (settings.compute_environment_type, settings.compute_environment_allocation_strategy) == (
        "EC2",
        "BEST_FIT_PROGRESSIVE",
    )
    assert settings.compute_environment_instance_types == ["c6i", "m6i.4xlarge"]
    vcpus = (
        settings.compute_environment_min_vcpus,
        settings.compute_environment_desired_vcpus,
        settings.compute_environment_max_vcpus,
    )
    assert vcpus == (2, 4, 64) and all(type(v) is int for v in vcpus)


# --- reading stack config as Pulumi hands it over (full keys, strings, lists as JSON) ---


def test_settings_from_config_decodes_a_yaml_list_and_takes_other_values_as_strings():
    settings = settings_from_config(
        {
            "aws:region": "us-east-1",
            "batch-lustre:mode": "taskexport",
            "batch-lustre:computeEnvironmentInstanceTypes": '["c6i", "m6i.4xlarge"]',
            "batch-lustre:lustreStorageCapacity": "4800",
        }
    )
    assert settings.mode == "taskexport"
    assert settings.compute_environment_instance_types == ["c6i", "m6i.4xlarge"]
    assert settings.values["lustreStorageCapacity"] == 4800


def test_settings_from_config_passes_a_comma_separated_list_to_the_parameter_check():
    settings = settings_from_config(
        {"batch-lustre:mode": "taskexport", "batch-lustre:computeEnvironmentInstanceTypes": "c6i, m6i"}
    )
    assert settings.compute_environment_instance_types == ["c6i", "m6i"]


def test_settings_from_config_reports_an_unknown_key_so_a_typo_does_not_leave_a_default():
    with pytest.raises(ParameterError) as caught:
        settings_from_config(
            {"batch-lustre:mode": "taskexport", "batch-lustre:lustreStorageCapcity": "4800"},
            source="Pulumi.taskexport.yaml",
        )
    assert "lustreStorageCapcity is not a parameter of Pulumi.taskexport.yaml in mode taskexport" in str(caught.value)


def test_settings_from_config_ignores_other_namespaces():
    settings = settings_from_config(
        {"batch-lustre:mode": "autoexport", "aws:region": "us-east-1", "other:envName": "x"}
    )
    assert settings.env_name == "AutoExport"


def test_settings_from_config_names_where_the_missing_mode_should_be():
    with pytest.raises(ParameterError) as caught:
        settings_from_config({"aws:region": "us-east-1"}, source="Pulumi.dev.yaml")
    assert str(caught.value) == "batch-lustre:mode is missing from Pulumi.dev.yaml: accepted taskexport or autoexport"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("[c6i", '"[c6i"'),  # starts like a JSON list, is not one
        ('["c6i", m6i]', '"[\\"c6i\\", m6i]"'),
        ("[1, 2]", "[1, 2]"),  # a list, not of names
        ('{"c6i": 1}', '"{\\"c6i\\": 1}"'),  # a YAML mapping, as JSON
    ],
)
def test_a_malformed_list_is_refused_in_one_line_naming_key_value_and_what_is_accepted(value, shown):
    with pytest.raises(ParameterError) as caught:
        settings_from_config({"batch-lustre:mode": "taskexport", "batch-lustre:computeEnvironmentInstanceTypes": value})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"computeEnvironmentInstanceTypes={shown} is not accepted: accepted a non-empty list"), (
        message
    )


def test_program_config_is_the_config_the_engine_handed_over():
    config = {"aws:region": "eu-west-1", "batch-lustre:mode": "taskexport", "batch-lustre:deleteLustre": "false"}
    pulumi.runtime.set_all_config(config)
    assert program_config() == config


def test_program_config_hands_over_a_misspelled_key_of_the_stack_file_for_the_settings_to_refuse(tmp_path):
    config = {"aws:region": "us-east-1", "batch-lustre:mode": "taskexport"}
    pulumi.runtime.set_all_config(config)
    stack = pulumi.get_stack()
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(
        "config:\n  batch-lustre:mode: taskexport\n  batch-lustre:lustreStorageCapacty: 1200\n"
    )
    read = program_config(tmp_path)
    assert read["batch-lustre:lustreStorageCapacty"] == "1200"
    with pytest.raises(ParameterError, match="lustreStorageCapacty"):
        settings_from_config(read)


def test_the_program_reads_stack_config_through_pulumis_public_api_only():
    source = settings.__file__.rsplit("/", 1)[0] + "/stack.py"
    text = open(source, encoding="utf-8").read()
    # pulumi.runtime.invoke, the SDK's public invoke, reads the stack's own outputs (stack.deployed_outputs)
    assert set(re.findall(r"pulumi\.runtime\.(\w+)", text)) == {"invoke"} and "runtime_config" not in text


# --- the program stops before any resource ---


def test_bad_config_stops_the_program_with_its_one_line_message_before_any_resource():
    config = {**load_stack_config("taskexport"), "batch-lustre:lustreStorageCapacity": "1000"}
    mocks = RecordingMocks()
    with pytest.raises(pulumi.RunError) as caught:
        run_program("taskexport", config=config, mocks=mocks)
    message = str(caught.value)
    assert "\n" not in message
    assert _shows(message, "lustreStorageCapacity", "1000")
    assert "1200, 2400 or a multiple of 2400" in message
    assert mocks.resources == []


def test_missing_mode_stops_the_program_before_any_resource():
    config = {k: v for k, v in load_stack_config("autoexport").items() if k != "batch-lustre:mode"}
    mocks = RecordingMocks()
    with pytest.raises(pulumi.RunError, match="batch-lustre:mode is missing from stack config: accepted taskexport or"):
        run_program("autoexport", config=config, mocks=mocks)
    assert mocks.resources == []


def test_good_config_declares_resources():
    # The counterpart of the two tests above: the same runner does record resources.
    mocks = RecordingMocks()
    run_program("taskexport", mocks=mocks)
    assert len(mocks.resources) > 20


def test_the_new_runtime_parameters_are_runtime_with_the_contract_defaults():
    for mode in (TASK_EXPORT, AUTO_EXPORT):
        runtime = load_settings(mode, {}).runtime_defaults
        assert runtime["warmComputeCapacity"] is True
        assert runtime["jobRunnableTimeoutMinutes"] == 20


def test_the_checks_need_no_aws_configuration(monkeypatch):
    """A profile this machine lacks (AWS_PROFILE) must not break reading a stack's settings."""
    monkeypatch.setenv("AWS_PROFILE", "a-profile-this-machine-lacks")
    settings.botocore_enum.cache_clear()
    try:
        assert "EC2" in settings.botocore_enum("batch", "CRType")
    finally:
        settings.botocore_enum.cache_clear()

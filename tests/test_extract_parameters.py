"""ExtractParameters Lambda: the secret and the execution input (per-run overrides) are validated at the start of
every run (docs/workflow-v2.md, "ExtractParameters" and "Execution input")."""

from __future__ import annotations

import ast
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import extract_parameters
import pytest
from conftest import find_python_312, python312_scan

from batch_lustre.program import parameters
from batch_lustre.program.asl.naming import LAMBDA_FILES
from batch_lustre.program.parameters import AUTO_EXPORT, TASK_EXPORT

ROOT = Path(__file__).resolve().parent.parent
HANDLER_FILE = ROOT / "lambda" / "extract_parameters.py"
MAX_VCPUS = 256
PREFIX = "taskexport"
EXEC = "run-2024_01"
ABSENT = object()
DERIVED_KEYS = {
    "autoExportEvents",
    "jobVcpus",
    "jobMemory",
    "launchTemplateName",
    "jobDefinitionName",
    "jobName",
    "clientRequestToken",
    "imageTag",
    "containerOverrides",
    "arraySize",
    "warmCapacity",
    "jobTimeoutSeconds",
    "waits",
}
# derived.waits keys per mode (docs/workflow-v2.md, "ExtractParameters"): the metric loop is autoexport's only.
BOTH_LOOPS = {
    "fileSystem",
    "computeEnvironment",
    "associationUpdate",
    "otherTask",
    "export",
    "runnable",
    "jobStop",
    "lane",
}
LOOP_NAMES = {TASK_EXPORT: BOTH_LOOPS, AUTO_EXPORT: BOTH_LOOPS | {"metrics"}}
GROWTH_TO_300 = [5, 8, 11, 17, 25, 38, 57, 85, 128, 192, 288]  # 854 s


def stack_defaults(mode: str) -> dict:
    return {p.name: p.defaults[mode] for p in parameters.parameters_for(mode)}


def default_secret(mode: str) -> dict:
    return parameters.runtime_defaults(stack_defaults(mode), mode)


@pytest.fixture
def env(monkeypatch):
    def set_env(mode: str = TASK_EXPORT, max_vcpus: str = str(MAX_VCPUS), prefix: str = PREFIX) -> None:
        monkeypatch.setenv("MODE", mode)
        monkeypatch.setenv("MAX_VCPUS", max_vcpus)
        monkeypatch.setenv("NAME_PREFIX", prefix)

    set_env()
    return set_env


def run(secret, execution_name: str = EXEC, execution_input=ABSENT) -> dict:
    text = secret if isinstance(secret, str) else json.dumps(secret)
    event = {"secretString": text, "executionName": execution_name}
    if execution_input is not ABSENT:
        event["input"] = execution_input
    result = extract_parameters.handler(event, None)
    # Whatever the outcome, the Lambda's answer must be JSON for Step Functions.
    assert json.loads(json.dumps(result)) == result
    return result


def assert_refused(result: dict, *fragments: str) -> str:
    assert result["ok"] is False, result
    assert set(result) == {"ok", "error", "params", "derived"}
    assert result["params"] == {} and result["derived"] == {}
    error = result["error"]
    assert isinstance(error, str) and error
    assert len(error.splitlines()) == 1, f"error is not one line: {error!r}"
    for fragment in fragments:
        assert fragment in error, f"{fragment!r} not in {error!r}"
    return error


def assert_nearest_accepted(secret: dict, error: str, keys: list[str]) -> None:
    """The refusal suggests ``key >= n`` or ``key <= n`` for each of ``keys``: each suggestion alone is accepted
    (the rest of the secret as refused), and the next value past it is refused: feasible and the nearest."""
    suggested = dict(((key, (op, int(n))) for key, op, n in re.findall(r"(\w+) (>=|<=) (\d+)", error)))
    assert sorted(suggested) == sorted(keys), error
    for key, (op, bound) in suggested.items():
        step = 1 if op == ">=" else -1
        assert run(secret | {key: bound})["ok"] is True, (key, bound)
        assert_refused(run(secret | {key: bound - step}), "25,000-event history")


# --- accepted secrets ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [TASK_EXPORT, AUTO_EXPORT])
def test_defaults_of_each_mode_are_accepted(env, mode):
    env(mode=mode)
    secret = default_secret(mode)
    result = run(secret)
    assert result["ok"] is True, result
    assert set(result) == {"ok", "error", "params", "derived"}
    assert result["error"] == ""
    # params holds every runtime parameter of the mode, no more, typed as the defaults.
    assert result["params"] == secret
    assert set(result["params"]) == {p.name for p in parameters.parameters_for(mode, runtime=True)}
    assert set(result["derived"]) == DERIVED_KEYS
    assert set(result["derived"]["waits"]) == LOOP_NAMES[mode]


def test_derived_values_of_taskexport_defaults(env):
    result = run(default_secret(TASK_EXPORT))
    # Numbers worked out by hand from the defaults (waits: 5 s, then x 1.5 rounded half up, capped at the seed's
    # interval, until the sum covers the bound).
    derived = result["derived"]
    waits = derived.pop("waits")
    assert waits["fileSystem"] == [5, 8, 11, 17, 25] + [30] * 118  # 66 + 3540 = 3606 s >= 60 min
    assert waits["computeEnvironment"] == [5, 8, 11, 17, 25] + [30] * 58  # 66 + 1740 = 1806 s >= 30 min
    assert waits["associationUpdate"] == waits["computeEnvironment"]
    assert waits["export"] == GROWTH_TO_300 + [300] * 142  # 854 + 42600 = 43454 s >= 720 min
    assert waits["otherTask"] == waits["export"]
    assert waits["runnable"] == GROWTH_TO_300 + [300] * 2  # 1454 s >= 20 min
    assert waits["jobStop"] == GROWTH_TO_300  # 854 s >= 10 min (566 s after ten waits is not)
    assert "metrics" not in waits
    assert derived == {
        "autoExportEvents": [],
        "jobVcpus": "32",
        "jobMemory": "30000",
        "imageTag": "latest",
        "containerOverrides": {"Environment": []},
        "arraySize": 1,
        "warmCapacity": {"DesiredvCpus": 32},  # warmComputeCapacity defaults to true; 32 vCPUs <= 256
        "jobTimeoutSeconds": 86400,  # 1440 min
        "launchTemplateName": f"{PREFIX}-{EXEC}",
        "jobDefinitionName": f"{PREFIX}-{EXEC}",
        "jobName": f"{PREFIX}-{EXEC}",
        "clientRequestToken": extract_parameters.client_request_token(f"{PREFIX}-{EXEC}"),
    }


def test_derived_values_of_autoexport_defaults(env):
    env(mode=AUTO_EXPORT, prefix="autoexport")
    derived = run(default_secret(AUTO_EXPORT), execution_name="abc")["derived"]
    assert derived["autoExportEvents"] == ["NEW", "CHANGED", "DELETED"]
    waits = derived["waits"]
    # The metric checks wait at most waitForCheckMetricsSeconds (60 s) for exportTimeoutMinutes (240 min):
    # 5, 8, 11, 17, 25, 38, 57 (161 s), then 60 s each.
    assert waits["metrics"] == [5, 8, 11, 17, 25, 38, 57] + [60] * 238  # 161 + 14280 = 14441 s >= 240 min
    # The fallback export task's checks (and another task's) wait at most the fixed 300 s, not the metric's 60 s.
    assert waits["export"] == GROWTH_TO_300 + [300] * 46  # 854 + 13800 = 14654 s >= 240 min
    assert waits["otherTask"] == waits["export"]
    assert waits["fileSystem"] == [5, 8, 11, 17, 25] + [30] * 118
    assert waits["runnable"] == GROWTH_TO_300 + [300] * 2 and waits["jobStop"] == GROWTH_TO_300
    assert derived["jobName"] == derived["jobDefinitionName"] == derived["launchTemplateName"] == "autoexport-abc"


def test_waits_use_the_right_bound_and_wait(env):
    # Values chosen so that any swapped bound or wrong wait gives another list.
    secret = default_secret(TASK_EXPORT) | {
        "lustreCreationTimeoutMinutes": 7,
        "waitForLustreCreationSeconds": 45,
        "jobRunnableTimeoutMinutes": 6,
        "waitForJobCompletionSeconds": 25,
        "jobTimeoutMinutes": 11,
        "exportTimeoutMinutes": 5,
        "waitForDataRepositoryTaskSeconds": 120,
        "jobDefinitionVcpus": 3,
        "jobDefinitionMemory": 5000,
        "autoExport": True,
    }
    derived = run(secret)["derived"]
    waits = derived["waits"]
    growth_to_45 = [5, 8, 11, 17, 25, 38]  # 104 s
    assert waits["fileSystem"] == growth_to_45 + [45] * 8  # 104 + 360 = 464 s >= 420 s > 419 s
    assert waits["computeEnvironment"] == waits["associationUpdate"] == growth_to_45 + [45] * 38  # 1814 s >= 30 min
    assert waits["export"] == waits["otherTask"] == [5, 8, 11, 17, 25, 38, 57, 85, 120]  # 366 s >= 300 s > 246 s
    growth_to_25 = [5, 8, 11, 17]  # 41 s
    assert waits["runnable"] == growth_to_25 + [25] * 13  # 366 s >= 6 min > 341 s
    assert waits["jobStop"] == growth_to_25 + [25] * 23  # 616 s >= 10 min > 591 s
    assert derived["jobTimeoutSeconds"] == 660
    assert (derived["jobVcpus"], derived["jobMemory"]) == ("3", "5000")
    # autoExport may be turned on in taskexport: the association then exports these events.
    assert derived["autoExportEvents"] == ["NEW", "CHANGED", "DELETED"]


def test_autoexport_metric_checks_use_the_metric_wait_and_export_task_checks_the_fixed_wait(env):
    env(mode=AUTO_EXPORT)
    secret = default_secret(AUTO_EXPORT) | {"exportTimeoutMinutes": 60, "waitForCheckMetricsSeconds": 90}
    waits = run(secret)["derived"]["waits"]
    assert waits["metrics"] == [5, 8, 11, 17, 25, 38, 57, 85] + [90] * 38  # 246 + 3420 = 3666 s >= 60 min
    assert waits["export"] == waits["otherTask"] == GROWTH_TO_300 + [300] * 10  # 854 + 3000 = 3854 s >= 60 min


def test_string_spellings_are_accepted_and_typed(env):
    secret = default_secret(TASK_EXPORT) | {
        "lustreStorageCapacity": "4800",
        "deleteLustre": "true",
        "autoExport": "False",
        "jobDefinitionVcpus": " 16 ",
        "jobDefinitionMemory": 8000.0,
    }
    result = run(secret)
    assert result["ok"] is True, result
    params = result["params"]
    assert params["lustreStorageCapacity"] == 4800 and type(params["lustreStorageCapacity"]) is int
    assert params["deleteLustre"] is True
    assert params["autoExport"] is False
    assert params["jobDefinitionVcpus"] == 16 and type(params["jobDefinitionVcpus"]) is int
    assert params["jobDefinitionMemory"] == 8000 and type(params["jobDefinitionMemory"]) is int
    assert result["derived"]["jobVcpus"] == "16"
    assert result["derived"]["jobMemory"] == "8000"
    assert result["derived"]["autoExportEvents"] == []


def test_vcpus_equal_to_max_vcpus_is_accepted(env):
    env(max_vcpus="16")
    assert run(default_secret(TASK_EXPORT) | {"jobDefinitionVcpus": 16})["ok"] is True


# --- refused secrets: one line naming key, value and what is accepted --------------------------------------------

BAD_VALUES = [
    # (mode, key, value, fragments of the error)
    (TASK_EXPORT, "lustreStorageCapacity", 1000, ["lustreStorageCapacity=1000", "accepted 1200, 2400 or a multiple"]),
    (TASK_EXPORT, "lustreStorageCapacity", "3600", ['lustreStorageCapacity="3600"', "accepted 1200, 2400"]),
    (
        TASK_EXPORT,
        "lustreFileSystemTypeVersion",
        "2.10",
        ['lustreFileSystemTypeVersion="2.10"', 'accepted "2.12" or "2.15"'],
    ),
    (TASK_EXPORT, "lustreFileSystemTypeVersion", 2.1, ["lustreFileSystemTypeVersion=2.1", 'accepted "2.12" or "2.15"']),
    (
        TASK_EXPORT,
        "jobDefinitionVcpus",
        257,
        ["jobDefinitionVcpus=257", "accepted at most computeEnvironmentMaxvCpus=256"],
    ),
    (
        TASK_EXPORT,
        "jobDefinitionRetryAttempts",
        0,
        ["jobDefinitionRetryAttempts=0", "accepted an integer from 1 to 10"],
    ),
    (
        TASK_EXPORT,
        "jobDefinitionRetryAttempts",
        11,
        ["jobDefinitionRetryAttempts=11", "accepted an integer from 1 to 10"],
    ),
    (
        TASK_EXPORT,
        "waitForJobCompletionSeconds",
        0,
        ["waitForJobCompletionSeconds=0", "accepted an integer from 1 to 3600"],
    ),
    (
        TASK_EXPORT,
        "waitForLustreCreationSeconds",
        "soon",
        ['waitForLustreCreationSeconds="soon"', "accepted an integer"],
    ),
    (TASK_EXPORT, "deleteLustre", "yes", ['deleteLustre="yes"', "accepted true or false"]),
    (TASK_EXPORT, "jobTimeoutMinutes", 10081, ["jobTimeoutMinutes=10081", "accepted an integer from 1 to 10080"]),
    (AUTO_EXPORT, "autoExport", False, ["autoExport=false", "mode autoexport", "accepted true"]),
    (AUTO_EXPORT, "autoExport", "false", ["autoExport=false", "accepted true"]),
    (AUTO_EXPORT, "lambdaPeriodSeconds", 90, ["lambdaPeriodSeconds=90", "accepted a multiple of 60 from 60 to 3600"]),
    (AUTO_EXPORT, "lambdaTimeDiffMinutes", 0, ["lambdaTimeDiffMinutes=0", "accepted an integer from 5 to 1440"]),
    (TASK_EXPORT, "warmComputeCapacity", "yes", ['warmComputeCapacity="yes"', "accepted true or false"]),
    (
        AUTO_EXPORT,
        "jobRunnableTimeoutMinutes",
        4,
        ["jobRunnableTimeoutMinutes=4", "accepted an integer from 5 to 1440"],
    ),
    (
        TASK_EXPORT,
        "jobRunnableTimeoutMinutes",
        1441,
        ["jobRunnableTimeoutMinutes=1441", "accepted an integer from 5 to 1440"],
    ),
]


@pytest.mark.parametrize(("mode", "key", "value", "fragments"), BAD_VALUES, ids=lambda x: str(x)[:20])
def test_bad_value_is_refused_naming_key_value_and_accepted(env, mode, key, value, fragments):
    env(mode=mode)
    assert_refused(run(default_secret(mode) | {key: value}), *fragments)


def test_missing_key_is_refused(env):
    secret = default_secret(TASK_EXPORT)
    del secret["deleteLustre"]
    assert_refused(run(secret), "deleteLustre is missing from the secret")


def test_unknown_key_is_refused_with_the_accepted_keys(env):
    error = assert_refused(
        run(default_secret(TASK_EXPORT) | {"lustreCapacity": 2400}),
        "lustreCapacity is not a parameter",
        "accepted keys",
        "lustreStorageCapacity",
    )
    # The accepted keys listed are those of the mode.
    assert "waitForCheckMetricsSeconds" not in error


def test_key_of_the_other_mode_is_refused(env):
    env(mode=AUTO_EXPORT)
    assert_refused(
        run(default_secret(AUTO_EXPORT) | {"waitForDataRepositoryTaskSeconds": 300}),
        "waitForDataRepositoryTaskSeconds is not a parameter of the secret in mode autoexport",
    )


def test_unknown_key_with_a_newline_still_gives_one_line(env):
    assert_refused(run(default_secret(TASK_EXPORT) | {"bad\nkey": 1}), "bad", 'key" is not a parameter')


def test_every_problem_is_reported_at_once(env):
    secret = default_secret(TASK_EXPORT) | {"lustreStorageCapacity": 1000, "jobDefinitionRetryAttempts": 0}
    assert_refused(
        run(secret, execution_name="my run"),
        "execution name=",
        "lustreStorageCapacity=1000",
        "jobDefinitionRetryAttempts=0",
    )


@pytest.mark.parametrize("text", ["[]", "[1, 2]", '"text"', "42", "null", "true"])
def test_secret_that_is_not_an_object_is_refused(env, text):
    assert_refused(
        run(text), f"secret content={json.dumps(json.loads(text))} is not accepted", "accepted a JSON object"
    )


@pytest.mark.parametrize("text", ['{"lustreStorageCapacity": "s3cr3t-value", ', "{'a': 1}", "", '{"a": 1} trailing'])
def test_malformed_json_is_refused_without_echoing_the_secret(env, text):
    error = assert_refused(run(text), "secret content is not valid JSON: ", "line 1 column")
    assert "s3cr3t" not in error and "trailing" not in error and "'a'" not in error


def test_duplicate_key_is_refused(env):
    text = json.dumps(default_secret(TASK_EXPORT))[:-1] + ', "deleteLustre": false}'
    assert_refused(run(text), '"deleteLustre" appears more than once', "accepted each key once")


@pytest.mark.parametrize("name", ["my run", "run:1", "", "x" * 81, "run/1", "é"])
def test_bad_execution_name_is_refused(env, name):
    assert_refused(
        run(default_secret(TASK_EXPORT), execution_name=name),
        f"execution name={json.dumps(name)} is not accepted",
        "accepted 1-80 letters, digits",
    )


def test_longest_execution_name_gives_names_batch_accepts(env):
    env(prefix="p" * 47)
    result = run(default_secret(TASK_EXPORT), execution_name="x" * 80)
    # Batch job, job definition and launch template names: at most 128 characters.
    assert len(result["derived"]["jobName"]) == 128


# --- deployment bugs raise ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["MODE", "MAX_VCPUS", "NAME_PREFIX"])
def test_missing_environment_variable_raises(env, monkeypatch, variable):
    monkeypatch.delenv(variable)
    with pytest.raises(extract_parameters.ConfigurationError, match=variable):
        run(default_secret(TASK_EXPORT))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MODE", "bogus"),
        ("MODE", ""),
        ("MAX_VCPUS", "abc"),
        ("MAX_VCPUS", "0"),
        ("MAX_VCPUS", ""),
        ("NAME_PREFIX", ""),
        ("NAME_PREFIX", "a b"),
        ("NAME_PREFIX", "p" * 48),
    ],
)
def test_bad_environment_raises(env, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(extract_parameters.ConfigurationError, match=variable):
        run(default_secret(TASK_EXPORT))


def test_bad_event_raises(env):
    with pytest.raises(KeyError):
        extract_parameters.handler({"executionName": EXEC}, None)
    with pytest.raises(extract_parameters.ConfigurationError, match="secretString"):
        extract_parameters.handler({"secretString": {"a": 1}, "executionName": EXEC}, None)
    with pytest.raises(extract_parameters.ConfigurationError, match="executionName"):
        extract_parameters.handler({"secretString": "{}", "executionName": None}, None)


# --- runs on the Lambda runtime (Python 3.12) ---------------------------------------------------------------------


ARCHIVE = LAMBDA_FILES["extract_parameters"]


def imports_outside(path: Path) -> set[str]:
    """Top-level modules ``path`` imports absolutely (a relative import stays inside its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    names |= {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
    }
    return names


def test_the_archive_ships_every_module_of_the_parameters_package():
    shipped = {member for member in ARCHIVE if member.startswith("parameters/")}
    assert shipped == {f"parameters/{p.name}" for p in (ROOT / "parameters").glob("*.py")}
    assert all(ARCHIVE[member] == member for member in shipped)


def test_the_archive_needs_the_standard_library_and_itself_only_and_nothing_python_312_removed():
    standard = set(sys.stdlib_module_names) | {"__future__"}
    imported, problems = python312_scan(HANDLER_FILE)
    assert {"os", "re", "parameters"} <= imported  # the scan sees the imports
    for member, path in ARCHIVE.items():
        found, problems = python312_scan(ROOT / path)
        assert not problems, member
        allowed = standard | ({"parameters"} if member == "extract_parameters.py" else set())
        assert imports_outside(ROOT / path) <= allowed, member


PROBE = (
    "import json, sys, warnings\n"
    "sys.path.insert(0, '.')\n"
    "warnings.simplefilter('error')\n"
    "import extract_parameters as e\n"
    "import parameters\n"
    "assert parameters.__file__.startswith(sys.argv[2]), parameters.__file__\n"
    "secret = sys.argv[1]\n"
    "runs = [\n"
    "    e.handler({'secretString': secret, 'executionName': 'r1', 'input': {'arraySize': 3}}, None),\n"
    "    e.handler({'secretString': '{', 'executionName': 'r 1'}, None),\n"
    "    e.handler({'secretString': secret, 'executionName': 'r1', 'input': {'imageTag': 'v1\\n'}}, None),\n"
    "    e.handler({'secretString': secret[:-1] + ', \"x\": 1' + '0' * 5000 + '}', 'executionName': 'r1'}, None),\n"
    "]\n"
    "print(json.dumps([sys.version_info[:2], runs]))\n"
)


@pytest.mark.parametrize("runtime", ["this-python", "python3.12"])
def test_an_archive_built_from_lambda_files_runs_the_handler_in_a_clean_interpreter(tmp_path, runtime):
    """The deployed layout (the archive unpacked, as Lambda does, and nothing else), under -I: no site-packages,
    no PYTHONPATH; under this Python and under the Lambda runtime's 3.12."""
    python = sys.executable if runtime == "this-python" else find_python_312()
    if python is None:
        pytest.skip("no Python 3.12 interpreter on this machine (set PYTHON312 to one)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, path in ARCHIVE.items():
            archive.write(ROOT / path, member)
    task = tmp_path / "task"
    zipfile.ZipFile(buffer).extractall(task)
    environment = {"PATH": os.environ.get("PATH", ""), "MODE": AUTO_EXPORT, "MAX_VCPUS": "256", "NAME_PREFIX": "p"}
    completed = subprocess.run(
        [python, "-I", "-c", PROBE, json.dumps(default_secret(AUTO_EXPORT)), str(task)],
        cwd=task,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    version, (ok, bad, newline, digits) = json.loads(completed.stdout)
    if runtime == "python3.12":
        assert version == [3, 12]
    assert ok["ok"] is True and ok["derived"]["jobName"] == "p-r1"
    assert set(ok["derived"]["waits"]) == LOOP_NAMES[AUTO_EXPORT] and len(ok["derived"]["waits"]["metrics"]) == 245
    assert ok["derived"]["arraySize"] == 3 and ok["derived"]["warmCapacity"] == {"DesiredvCpus": 96}
    assert bad["ok"] is False and "execution name=" in bad["error"] and "not valid JSON" in bad["error"]
    assert newline["ok"] is False and 'imageTag="v1\\n"' in newline["error"]
    assert digits["ok"] is False and "a number in the secret=" in digits["error"]


def test_client_request_token_is_per_run_and_fits_fsx_with_the_workflows_suffixes():
    token = extract_parameters.client_request_token("taskexport-run-1")
    assert token != extract_parameters.client_request_token("taskexport-run-2")
    assert token == extract_parameters.client_request_token("taskexport-run-1")
    # FSx ClientRequestToken: at most 63 of [A-Za-z0-9_.-]; the longest suffix the workflow adds is "-export".
    assert re.fullmatch(r"[A-Za-z0-9_.-]{1,63}", token + "-delete-export")


def test_metric_window_must_hold_two_periods(env):
    env(mode=AUTO_EXPORT)
    secret = default_secret(AUTO_EXPORT) | {"lambdaPeriodSeconds": 600, "lambdaTimeDiffMinutes": 15}
    assert_refused(run(secret), "lambdaTimeDiffMinutes=15", "lambdaPeriodSeconds=600", "at least two periods")


# --- the execution input: per-run overrides (docs/workflow-v2.md, "Execution input") -----------------------------


def test_absent_input_is_no_override(env):
    derived = run(default_secret(TASK_EXPORT))["derived"]
    assert (derived["jobVcpus"], derived["jobMemory"], derived["imageTag"], derived["arraySize"]) == (
        "32",
        "30000",
        "latest",
        1,
    )
    assert derived["containerOverrides"] == {"Environment": []}


def test_empty_input_is_no_override(env):
    assert (
        run(default_secret(TASK_EXPORT), execution_input={})["derived"] == run(default_secret(TASK_EXPORT))["derived"]
    )


def test_every_override_reaches_derived(env):
    overrides = {
        "command": ["python", "train.py", "--epochs", "3"],
        "environment": {"STAGE": "test", "_X1": ""},
        "vcpus": 8,
        "memory": 16000,
        "imageTag": "v1.2.3_rc-1",
        "arraySize": 4,
        "warmComputeCapacity": True,
    }
    derived = run(default_secret(TASK_EXPORT), execution_input=overrides)["derived"]
    assert derived["containerOverrides"] == {
        "Environment": [{"Name": "STAGE", "Value": "test"}, {"Name": "_X1", "Value": ""}],
        "Command": ["python", "train.py", "--epochs", "3"],
    }
    assert (derived["jobVcpus"], derived["jobMemory"], derived["imageTag"], derived["arraySize"]) == (
        "8",
        "16000",
        "v1.2.3_rc-1",
        4,
    )
    assert derived["warmCapacity"] == {"DesiredvCpus": 32}  # 8 vCPUs x 4 children


def test_environment_without_command_has_no_command_key(env):
    derived = run(default_secret(TASK_EXPORT), execution_input={"environment": {"A": "1"}})["derived"]
    assert derived["containerOverrides"] == {"Environment": [{"Name": "A", "Value": "1"}]}


def test_warm_capacity_is_capped_at_max_vcpus_but_the_array_is_not_refused(env):
    # 32 vCPUs x 100 children = 3200 > 256: the children queue, the warm capacity stops at maxvCpus.
    result = run(default_secret(TASK_EXPORT), execution_input={"arraySize": 100})
    assert result["ok"] is True, result
    assert result["derived"]["warmCapacity"] == {"DesiredvCpus": MAX_VCPUS}


def test_warm_compute_capacity_false_in_the_secret_gives_no_warm_capacity(env):
    derived = run(default_secret(TASK_EXPORT) | {"warmComputeCapacity": False})["derived"]
    assert derived["warmCapacity"] == {}


def test_warm_compute_capacity_in_the_input_overrides_the_secret(env):
    cold = run(default_secret(TASK_EXPORT), execution_input={"warmComputeCapacity": False})["derived"]
    assert cold["warmCapacity"] == {}
    warm = run(
        default_secret(TASK_EXPORT) | {"warmComputeCapacity": False},
        execution_input={"warmComputeCapacity": True, "vcpus": 2},
    )["derived"]
    assert warm["warmCapacity"] == {"DesiredvCpus": 2}


def test_job_timeout_seconds_follow_job_timeout_minutes(env):
    assert run(default_secret(TASK_EXPORT) | {"jobTimeoutMinutes": 90})["derived"]["jobTimeoutSeconds"] == 5400


def test_vcpus_override_equal_to_max_vcpus_is_accepted(env):
    assert run(default_secret(TASK_EXPORT), execution_input={"vcpus": MAX_VCPUS})["derived"]["jobVcpus"] == "256"


BAD_INPUTS = [
    # (input, fragments of the error)
    ({"vcpus": 257}, ["execution input vcpus=257 is not accepted", "from 1 to computeEnvironmentMaxvCpus=256"]),
    ({"vcpus": 0}, ["execution input vcpus=0", "accepted an integer from 1"]),
    ({"vcpus": True}, ["execution input vcpus=true", "accepted an integer"]),
    ({"vcpus": "many"}, ['execution input vcpus="many"', "accepted an integer"]),
    ({"memory": 3}, ["execution input memory=3", "accepted an integer from 4 to 10000000"]),
    ({"memory": 10_000_001}, ["execution input memory=10000001", "from 4 to 10000000"]),
    ({"arraySize": 0}, ["execution input arraySize=0", "from 1 to 10000"]),
    ({"arraySize": 10_001}, ["execution input arraySize=10001", "from 1 to 10000"]),
    ({"arraySize": 2.5}, ["execution input arraySize=2.5", "accepted an integer"]),
    ({"warmComputeCapacity": "yes"}, ['execution input warmComputeCapacity="yes"', "accepted true or false"]),
    ({"imageTag": "-latest"}, ['execution input imageTag="-latest"', "accepted an image tag"]),
    ({"imageTag": "a" * 129}, ["execution input imageTag=", "up to 127"]),
    ({"imageTag": "v1:2"}, ['execution input imageTag="v1:2"', "accepted an image tag"]),
    ({"command": []}, ["execution input command=[]", "accepted a list of 1 to 100 strings"]),
    ({"command": "python x.py"}, ['execution input command="python x.py"', "accepted a list of 1 to 100 strings"]),
    ({"command": ["a"] * 101}, ["execution input command=", "1 to 100 strings"]),
    ({"command": ["ok", ""]}, ['execution input command=["ok", ""]', "of 1 to 4096 characters"]),
    ({"command": ["x" * 4097]}, ["execution input command=", "of 1 to 4096 characters"]),
    ({"command": ["a", 1]}, ['execution input command=["a", 1]', "strings"]),
    ({"environment": ["A=1"]}, ['execution input environment=["A=1"]', "accepted a JSON object"]),
    ({"environment": {f"V{i}": "x" for i in range(101)}}, ["execution input environment=", "at most 100"]),
    (
        {"environment": {"AWS_BATCH_JOB_ID": "x"}},
        ['execution input environment name "AWS_BATCH_JOB_ID" is not accepted', "not starting AWS_BATCH"],
    ),
    ({"environment": {"1ABC": "x"}}, ['environment name "1ABC"', "[A-Za-z_][A-Za-z0-9_]*"]),
    ({"environment": {"A-B": "x"}}, ['environment name "A-B"', "accepted names matching"]),
    ({"environment": {"A": 1}}, ["execution input environment.A=1 is not accepted", "accepted a string"]),
    (
        {"vcpu": 4},
        [
            'execution input key "vcpu" is not accepted',
            "accepted keys command, environment, vcpus, memory, imageTag, arraySize, warmComputeCapacity",
        ],
    ),
]


@pytest.mark.parametrize(("execution_input", "fragments"), BAD_INPUTS, ids=lambda x: str(x)[:40])
def test_bad_override_is_refused_naming_key_value_and_accepted(env, execution_input, fragments):
    assert_refused(run(default_secret(TASK_EXPORT), execution_input=execution_input), *fragments)


@pytest.mark.parametrize("execution_input", [[], "text", 42, None, [{"vcpus": 2}]])
def test_input_that_is_not_an_object_is_refused(env, execution_input):
    assert_refused(
        run(default_secret(TASK_EXPORT), execution_input=execution_input),
        f"execution input={json.dumps(execution_input)} is not accepted",
        "accepted a JSON object with any of the keys command, environment",
    )


def test_a_huge_bad_value_is_cut_short_in_the_error(env):
    error = assert_refused(run(default_secret(TASK_EXPORT), execution_input={"command": ["x" * 4097]}))
    assert len(error) < 400 and "..." in error


def test_environment_name_with_a_newline_still_gives_one_line(env):
    assert_refused(
        run(default_secret(TASK_EXPORT), execution_input={"environment": {"A\nB": "1"}}), 'environment name "A\\nB"'
    )


def test_override_problems_join_the_secret_and_execution_name_problems(env):
    result = run(
        default_secret(TASK_EXPORT) | {"lustreStorageCapacity": 1000},
        execution_name="my run",
        execution_input={"vcpus": 999, "colour": "red"},
    )
    assert_refused(
        result,
        "execution name=",
        "lustreStorageCapacity=1000",
        "execution input vcpus=999",
        'execution input key "colour"',
    )


def test_every_bad_override_is_reported_at_once(env):
    assert_refused(
        run(default_secret(TASK_EXPORT), execution_input={"memory": 1, "arraySize": -1}),
        "execution input memory=1",
        "execution input arraySize=-1",
    )


# --- history budget, as the Lambda sees it (the rule itself: tests/test_parameters_history_budget.py) -----------


def test_secret_whose_schedule_outgrows_the_history_budget_is_refused(env):
    secret = default_secret(TASK_EXPORT) | {"lustreCreationTimeoutMinutes": 10080, "waitForLustreCreationSeconds": 60}
    error = assert_refused(
        run(secret),
        "lustreCreationTimeoutMinutes=10080 with waitForLustreCreationSeconds=60 is not accepted",
        "25,000-event history",
        "accepted waitForLustreCreationSeconds >= ",
    )
    assert_nearest_accepted(secret, error, ["waitForLustreCreationSeconds", "lustreCreationTimeoutMinutes"])


def test_autoexport_secret_whose_export_checks_outgrow_the_budget_is_refused_naming_the_longest_accepted_bound(env):
    # The fallback export task waits at most a fixed 300 s: no metric wait is long enough, only the bound helps.
    env(mode=AUTO_EXPORT)
    secret = default_secret(AUTO_EXPORT) | {"exportTimeoutMinutes": 10080, "waitForCheckMetricsSeconds": 3600}
    error = assert_refused(
        run(secret),
        "exportTimeoutMinutes=10080 with waitForCheckMetricsSeconds=3600 is not accepted",
        "accepted exportTimeoutMinutes <= ",
    )
    assert "waitForCheckMetricsSeconds >=" not in error
    assert_nearest_accepted(secret, error, ["exportTimeoutMinutes"])


@pytest.mark.parametrize("mode", [TASK_EXPORT, AUTO_EXPORT])
def test_every_wait_list_covers_its_bound(env, mode):
    env(mode=mode)
    secret = default_secret(mode) | {"jobRunnableTimeoutMinutes": 45, "exportTimeoutMinutes": 30}
    waits = run(secret)["derived"]["waits"]
    bounds = {
        "fileSystem": 60,
        "computeEnvironment": 30,
        "associationUpdate": 30,
        "otherTask": 30,
        "export": 30,
        "runnable": 45,
        "jobStop": 10,
        "lane": 60,
    } | ({"metrics": 30} if mode == AUTO_EXPORT else {})
    assert set(waits) == set(bounds)
    for loop, minutes in bounds.items():
        assert sum(waits[loop]) >= minutes * 60 > sum(waits[loop][:-1]), loop


# --- values past the checks of the past: a trailing newline, 5,001 digits --------------------------------------

HUGE = "1" + "0" * 5000  # past Python's own int-conversion limit (4,300 digits)


@pytest.mark.parametrize(
    ("execution_input", "fragment"),
    [
        ({"imageTag": "v1\n"}, 'execution input imageTag="v1\\n" is not accepted'),
        ({"command": ["echo", "a\nb"]}, "execution input command="),
        ({"environment": {"A": "x\u2028y"}}, "execution input environment.A="),
        ({"environment": {"A\n": "x"}}, 'environment name "A\\n"'),
        ({"vcpus": HUGE}, 'execution input vcpus="10000'),
        ({"vcpus": int(HUGE[:4000])}, "execution input vcpus=1000"),
    ],
    ids=["image-tag-newline", "command-newline", "env-line-separator", "env-name-newline", "text-digits", "int"],
)
def test_input_with_a_trailing_newline_or_thousands_of_digits_is_refused(env, execution_input, fragment):
    error = assert_refused(run(default_secret(TASK_EXPORT), execution_input=execution_input), fragment)
    assert len(error) < 400


def secret_with(key: str, json_text: str) -> str:
    """The taskexport defaults with ``key`` set to ``json_text`` as written (a JSON number of any length)."""
    return json.dumps(default_secret(TASK_EXPORT) | {key: "@"}).replace('"@"', json_text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (secret_with("jobDefinitionVcpus", HUGE), "a number in the secret="),
        ("[" + HUGE + "]", "a number in the secret="),
        (secret_with("jobDefinitionVcpus", json.dumps(HUGE)), 'jobDefinitionVcpus="10000'),
        (secret_with("lustreFileSystemTypeVersion", '"2.15\\n"'), "(no control characters)"),
        (secret_with("jobDefinitionVcpus", '"32\\n"'), 'jobDefinitionVcpus="32\\n"'),
        ("[" * 100_000, "secret content is not"),
    ],
    ids=["json-number", "json-number-in-a-list", "string", "string-newline", "int-newline", "nested-too-deep"],
)
def test_secret_with_thousands_of_digits_or_a_newline_is_refused(env, text, fragment):
    error = assert_refused(run(text), fragment)
    assert len(error) < 400

"""ExtractParameters Lambda: the secret is validated at the start of every run (docs/design.md, Lambda contracts)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import extract_parameters
import pytest
from conftest import find_python_312, python312_scan

import parameters
from parameters import AUTO_EXPORT, TASK_EXPORT

ROOT = Path(__file__).resolve().parent.parent
HANDLER_FILE = ROOT / "lambda" / "extract_parameters.py"
MAX_VCPUS = 256
PREFIX = "taskexport"
EXEC = "run-2024_01"


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


def run(secret, execution_name: str = EXEC) -> dict:
    text = secret if isinstance(secret, str) else json.dumps(secret)
    result = extract_parameters.handler({"secretString": text, "executionName": execution_name}, None)
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
    assert set(result["derived"]) == {
        "autoExportEvents", "jobVcpus", "jobMemory", "launchTemplateName", "jobDefinitionName", "jobName",
        "maxLustrePolls", "maxJobPolls", "maxJobPollsAfterTerminate", "maxExportPolls", "maxAssociationUpdatePolls",
        "clientRequestToken",
    }


def test_derived_values_of_taskexport_defaults(env):
    result = run(default_secret(TASK_EXPORT))
    # Numbers worked out by hand from the defaults (timeout minutes * 60 / wait seconds, rounded up).
    assert result["derived"] == {
        "autoExportEvents": [],
        "jobVcpus": "32",
        "jobMemory": "30000",
        "launchTemplateName": f"{PREFIX}-{EXEC}",
        "jobDefinitionName": f"{PREFIX}-{EXEC}",
        "jobName": f"{PREFIX}-{EXEC}",
        "maxLustrePolls": 120,  # 60 min / 30 s
        "maxJobPolls": 288,  # 1440 min / 300 s
        "maxJobPollsAfterTerminate": 298,  # + JOB_TERMINATION_GRACE_POLLS (10)
        "maxExportPolls": 144,  # 720 min / waitForDataRepositoryTaskSeconds 300 s
        "maxAssociationUpdatePolls": 60,
        "clientRequestToken": extract_parameters.client_request_token(f"{PREFIX}-{EXEC}"),
    }


def test_derived_values_of_autoexport_defaults(env):
    env(mode=AUTO_EXPORT, prefix="autoexport")
    derived = run(default_secret(AUTO_EXPORT), execution_name="abc")["derived"]
    assert derived["autoExportEvents"] == ["NEW", "CHANGED", "DELETED"]
    assert derived["maxExportPolls"] == 720  # 720 min / waitForCheckMetricsSeconds 60 s
    assert derived["jobName"] == derived["jobDefinitionName"] == derived["launchTemplateName"] == "autoexport-abc"


def test_poll_limits_use_the_right_timeout_and_wait(env):
    # Values chosen so that any swapped argument or wrong wait gives another number.
    secret = default_secret(TASK_EXPORT) | {
        "lustreCreationTimeoutMinutes": 7, "waitForLustreCreationSeconds": 45,  # 420/45 = 9.3 -> 10
        "jobTimeoutMinutes": 10, "waitForJobCompletionSeconds": 7,  # 600/7 = 85.7 -> 86
        "exportTimeoutMinutes": 5, "waitForDataRepositoryTaskSeconds": 120,  # 300/120 = 2.5 -> 3
        "jobDefinitionVcpus": 3, "jobDefinitionMemory": 5000, "autoExport": True,
    }
    derived = run(secret)["derived"]
    assert derived["maxLustrePolls"] == 10
    assert derived["maxJobPolls"] == 86
    assert derived["maxJobPollsAfterTerminate"] == 86 + parameters.JOB_TERMINATION_GRACE_POLLS
    assert derived["maxExportPolls"] == 3
    assert derived["maxAssociationUpdatePolls"] == parameters.ASSOCIATION_UPDATE_MAX_POLLS
    assert (derived["jobVcpus"], derived["jobMemory"]) == ("3", "5000")
    # autoExport may be turned on in taskexport: the association then exports these events.
    assert derived["autoExportEvents"] == ["NEW", "CHANGED", "DELETED"]


def test_autoexport_export_polls_use_the_metric_check_wait(env):
    env(mode=AUTO_EXPORT)
    secret = default_secret(AUTO_EXPORT) | {"exportTimeoutMinutes": 5, "waitForCheckMetricsSeconds": 90}
    assert run(secret)["derived"]["maxExportPolls"] == 4  # 300/90 = 3.3 -> 4


def test_string_spellings_are_accepted_and_typed(env):
    secret = default_secret(TASK_EXPORT) | {
        "lustreStorageCapacity": "4800", "deleteLustre": "true", "autoExport": "False",
        "jobDefinitionVcpus": " 16 ", "jobDefinitionMemory": 8000.0,
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
    (TASK_EXPORT, "lustreFileSystemTypeVersion", "2.10", ['lustreFileSystemTypeVersion="2.10"', 'accepted "2.12" or "2.15"']),
    (TASK_EXPORT, "lustreFileSystemTypeVersion", 2.1, ["lustreFileSystemTypeVersion=2.1", 'accepted "2.12" or "2.15"']),
    (TASK_EXPORT, "jobDefinitionVcpus", 257, ["jobDefinitionVcpus=257", "accepted at most computeEnvironmentMaxvCpus=256"]),
    (TASK_EXPORT, "jobDefinitionRetryAttempts", 0, ["jobDefinitionRetryAttempts=0", "accepted an integer from 1 to 10"]),
    (TASK_EXPORT, "jobDefinitionRetryAttempts", 11, ["jobDefinitionRetryAttempts=11", "accepted an integer from 1 to 10"]),
    (TASK_EXPORT, "waitForJobCompletionSeconds", 0, ["waitForJobCompletionSeconds=0", "accepted an integer from 1 to 3600"]),
    (TASK_EXPORT, "waitForLustreCreationSeconds", "soon", ['waitForLustreCreationSeconds="soon"', "accepted an integer"]),
    (TASK_EXPORT, "deleteLustre", "yes", ['deleteLustre="yes"', "accepted true or false"]),
    (TASK_EXPORT, "jobTimeoutMinutes", 10081, ["jobTimeoutMinutes=10081", "accepted an integer from 1 to 10080"]),
    (AUTO_EXPORT, "autoExport", False, ["autoExport=false", "mode autoexport", "accepted true"]),
    (AUTO_EXPORT, "autoExport", "false", ["autoExport=false", "accepted true"]),
    (AUTO_EXPORT, "lambdaPeriodSeconds", 90, ["lambdaPeriodSeconds=90", "accepted a multiple of 60 from 60 to 3600"]),
    (AUTO_EXPORT, "lambdaTimeDiffMinutes", 0, ["lambdaTimeDiffMinutes=0", "accepted an integer from 5 to 1440"]),
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
    error = assert_refused(run(default_secret(TASK_EXPORT) | {"lustreCapacity": 2400}),
                           "lustreCapacity is not a parameter", "accepted keys", "lustreStorageCapacity")
    # The accepted keys listed are those of the mode.
    assert "waitForCheckMetricsSeconds" not in error


def test_key_of_the_other_mode_is_refused(env):
    env(mode=AUTO_EXPORT)
    assert_refused(run(default_secret(AUTO_EXPORT) | {"waitForDataRepositoryTaskSeconds": 300}),
                   "waitForDataRepositoryTaskSeconds is not a parameter of the secret in mode autoexport")


def test_unknown_key_with_a_newline_still_gives_one_line(env):
    assert_refused(run(default_secret(TASK_EXPORT) | {"bad\nkey": 1}), "bad", "key\" is not a parameter")


def test_every_problem_is_reported_at_once(env):
    secret = default_secret(TASK_EXPORT) | {"lustreStorageCapacity": 1000, "jobDefinitionRetryAttempts": 0}
    assert_refused(run(secret, execution_name="my run"),
                   "execution name=", "lustreStorageCapacity=1000", "jobDefinitionRetryAttempts=0")


@pytest.mark.parametrize("text", ["[]", "[1, 2]", '"text"', "42", "null", "true"])
def test_secret_that_is_not_an_object_is_refused(env, text):
    assert_refused(run(text), f"secret content={json.dumps(json.loads(text))} is not accepted", "accepted a JSON object")


@pytest.mark.parametrize("text", ['{"lustreStorageCapacity": "s3cr3t-value", ', "{'a': 1}", "", "{\"a\": 1} trailing"])
def test_malformed_json_is_refused_without_echoing_the_secret(env, text):
    error = assert_refused(run(text), "secret content is not valid JSON: ", "line 1 column")
    assert "s3cr3t" not in error and "trailing" not in error and "'a'" not in error


def test_duplicate_key_is_refused(env):
    text = json.dumps(default_secret(TASK_EXPORT))[:-1] + ', "deleteLustre": false}'
    assert_refused(run(text), '"deleteLustre" appears more than once', "accepted each key once")


@pytest.mark.parametrize("name", ["my run", "run:1", "", "x" * 81, "run/1", "é"])
def test_bad_execution_name_is_refused(env, name):
    assert_refused(run(default_secret(TASK_EXPORT), execution_name=name),
                   f"execution name={json.dumps(name)} is not accepted", "accepted 1-80 letters, digits")


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


@pytest.mark.parametrize(("variable", "value"), [
    ("MODE", "bogus"), ("MODE", ""), ("MAX_VCPUS", "abc"), ("MAX_VCPUS", "0"), ("MAX_VCPUS", ""),
    ("NAME_PREFIX", ""), ("NAME_PREFIX", "a b"), ("NAME_PREFIX", "p" * 48),
])
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

def test_handler_uses_nothing_removed_or_deprecated_in_python_312():
    imported, problems = python312_scan(HANDLER_FILE)
    assert {"json", "os", "re", "parameters"} <= imported  # the scan sees the imports
    assert not problems
    # Deployed, parameters.py sits next to the handler: the handler needs nothing else from the repository.
    assert imported <= {"__future__", "hashlib", "json", "os", "re", "collections", "typing", "parameters"}


def test_handler_runs_under_python_312(tmp_path):
    python = find_python_312()
    if python is None:
        pytest.skip("no Python 3.12 interpreter on this machine (set PYTHON312 to one)")
    # The deployed layout: handler and parameters.py side by side, nothing else.
    shutil.copy(HANDLER_FILE, tmp_path / "extract_parameters.py")
    shutil.copy(ROOT / "parameters.py", tmp_path / "parameters.py")
    script = (
        "import json, sys, warnings\n"
        "sys.path.insert(0, '.')\n"
        "warnings.simplefilter('error')\n"
        "import extract_parameters as e\n"
        "assert sys.version_info[:2] == (3, 12), sys.version\n"
        "ok = e.handler({'secretString': sys.argv[1], 'executionName': 'r1'}, None)\n"
        "bad = e.handler({'secretString': '{', 'executionName': 'r 1'}, None)\n"
        "print(json.dumps([ok, bad]))\n"
    )
    environment = {"PATH": os.environ.get("PATH", ""), "MODE": AUTO_EXPORT, "MAX_VCPUS": "256", "NAME_PREFIX": "p"}
    completed = subprocess.run(
        [python, "-I", "-c", script, json.dumps(default_secret(AUTO_EXPORT))],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    ok, bad = json.loads(completed.stdout)
    assert ok["ok"] is True and ok["derived"]["jobName"] == "p-r1" and ok["derived"]["maxExportPolls"] == 720
    assert bad["ok"] is False and "execution name=" in bad["error"] and "not valid JSON" in bad["error"]


def test_client_request_token_is_per_run_and_fits_fsx_with_the_workflows_suffixes():
    token = extract_parameters.client_request_token("taskexport-run-1")
    assert token != extract_parameters.client_request_token("taskexport-run-2")
    assert token == extract_parameters.client_request_token("taskexport-run-1")
    # FSx ClientRequestToken: at most 63 of [A-Za-z0-9_.-]; the longest suffix the workflow adds is "-export".
    assert re.fullmatch(r"[A-Za-z0-9_.-]{1,63}", token + "-delete-export")


def test_metric_window_must_hold_two_periods(env):
    env(mode=AUTO_EXPORT)
    secret = default_secret(AUTO_EXPORT) | {"lambdaPeriodSeconds": 600, "lambdaTimeDiffMinutes": 15}
    assert_refused(run(secret), "lambdaTimeDiffMinutes=15", "lambdaPeriodSeconds=600",
                   "at least two periods")

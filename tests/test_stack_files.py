"""The project and stack files: each stack file sets exactly its mode's parameters, with
their defaults, so ``pulumi config`` shows every one."""

import runpy
from pathlib import Path

import pulumi
import pytest
import yaml
from offline_stacks import load_stack_config, run_program

from parameters import LOOP_CHECK_LIMITS, MODES, cross_field_problems, loop_schedules, parameters_for
from settings import load_settings
from stack import read_stack_config

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "batch-lustre"


def _stack_file(mode):
    return yaml.safe_load((ROOT / f"Pulumi.{mode}.yaml").read_text())["config"]


def test_project_file_names_the_project_and_the_pip_virtualenv():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == NAMESPACE
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}


@pytest.mark.parametrize("mode", MODES)
def test_stack_file_sets_region_mode_and_exactly_the_parameters_of_its_mode(mode):
    config = _stack_file(mode)
    expected = {"aws:region", f"{NAMESPACE}:mode"} | {f"{NAMESPACE}:{p.name}" for p in parameters_for(mode)}
    assert set(config) == expected
    assert config["aws:region"] == "us-east-1"
    assert config[f"{NAMESPACE}:mode"] == mode


@pytest.mark.parametrize("mode", MODES)
def test_stack_file_values_are_the_defaults_with_their_yaml_types(mode):
    config = _stack_file(mode)
    for parameter in parameters_for(mode):
        value = config[f"{NAMESPACE}:{parameter.name}"]
        default = parameter.defaults[mode]
        # Same type too: "2.15" must stay a string (unquoted 2.10 would read as 2.1).
        assert (type(value), value) == (type(default), default), parameter.name


@pytest.mark.parametrize("mode", MODES)
def test_stack_file_as_pulumi_hands_it_over_validates_to_the_defaults(mode):
    config = load_stack_config(mode)  # scalars as strings, lists as JSON: what the engine passes
    assert all(isinstance(value, str) for value in config.values())
    pulumi.runtime.set_all_config(config)
    mode_value, raw = read_stack_config(pulumi.Config(NAMESPACE))
    assert mode_value == mode
    settings = load_settings(mode_value, raw)
    assert dict(settings.values) == {p.name: p.defaults[mode] for p in parameters_for(mode)}


@pytest.mark.parametrize("mode", MODES)
def test_stack_file_sets_the_workflow_v2_parameters(mode):
    config = _stack_file(mode)
    assert config[f"{NAMESPACE}:warmComputeCapacity"] is True
    assert config[f"{NAMESPACE}:jobRunnableTimeoutMinutes"] == 20


def test_autoexport_stack_file_export_timeout_fits_the_history_budget():
    # autoexport checks the export queue metric every 60 s: 720 minutes (taskexport's default) would be about 725
    # checks, past LOOP_CHECK_LIMITS["metrics"]; 240 minutes is 245.
    auto = {p.name: p.defaults["autoexport"] for p in parameters_for("autoexport", runtime=True)}
    auto |= {name: _stack_file("autoexport")[f"{NAMESPACE}:{name}"] for name in auto}
    assert auto["exportTimeoutMinutes"] == 240 and auto["waitForCheckMetricsSeconds"] == 60
    metric_checks = len(loop_schedules(auto, "autoexport")["metrics"])
    assert metric_checks == 245 <= LOOP_CHECK_LIMITS["metrics"]
    assert not cross_field_problems(auto, "autoexport")
    refused = cross_field_problems(auto | {"exportTimeoutMinutes": 720}, "autoexport")
    assert any("exportTimeoutMinutes=720 with waitForCheckMetricsSeconds=60" in p for p in refused), refused
    assert _stack_file("taskexport")[f"{NAMESPACE}:exportTimeoutMinutes"] == 720


@pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws")
def test_main_module_runs_the_whole_program():
    # What the Python language host does: run __main__.py as a script, inside the stack.
    run = run_program("autoexport", program=lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"))
    assert run.outputs["mode"] == "autoexport"
    assert (
        run.one("aws:sfn/stateMachine:StateMachine", "autoexport-state-machine").inputs["name"]
        == "autoexport-autoexport-workflow"
    )

"""The project and stack files: each stack file sets exactly its mode's parameters, with
their defaults, so ``pulumi config`` shows every one; their comments are generated from the parameters table
(``batch_lustre.stack_files``); and a stack config every run would refuse is refused at ``pulumi up``."""

import json
import runpy
import shutil
from pathlib import Path

import pulumi
import pytest
import yaml
from offline_stacks import load_stack_config, run_program
from typer.testing import CliRunner

from batch_lustre import automation, stack_files
from batch_lustre.program import settings
from batch_lustre.program.parameters import (
    MODES,
    ParameterError,
    cross_field_problems,
    loop_schedules,
    parameters_for,
)
from batch_lustre.project import ENV_VAR

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
        default = stack_files.DEPLOYED_VALUES[mode].get(parameter.name, parameter.defaults[mode])
        # Same type too: "2.15" must stay a string (unquoted 2.10 would read as 2.1).
        assert (type(value), value) == (type(default), default), parameter.name


@pytest.mark.parametrize("mode", MODES)
def test_stack_file_as_pulumi_hands_it_over_validates_to_the_defaults(mode):
    config = load_stack_config(mode)  # scalars as strings, lists as JSON: what the engine passes
    assert all(isinstance(value, str) for value in config.values())
    found = settings.settings_from_config(config)
    assert found.mode == mode
    assert (
        dict(found.values)
        == {p.name: p.defaults[mode] for p in parameters_for(mode)} | stack_files.DEPLOYED_VALUES[mode]
    )
    assert automation.stack_settings(mode) == found  # the tools read the file as the program does


@pytest.mark.parametrize("mode", MODES)
def test_stack_file_sets_the_workflow_v2_parameters(mode):
    config = _stack_file(mode)
    assert config[f"{NAMESPACE}:warmComputeCapacity"] is True
    assert config[f"{NAMESPACE}:jobRunnableTimeoutMinutes"] == 20


def test_autoexport_stack_file_export_timeout_fits_the_history_budget():
    # CheckMetrics reads the export queue metric every 60 s inside one invocation of up to 14 minutes: 240 minutes
    # are 245 reads in about 35 invocations, far within the history; 10080 minutes would outgrow it.
    auto = {p.name: p.defaults["autoexport"] for p in parameters_for("autoexport", runtime=True)}
    auto |= {name: _stack_file("autoexport")[f"{NAMESPACE}:{name}"] for name in auto}
    assert auto["exportTimeoutMinutes"] == 240 and auto["waitForCheckMetricsSeconds"] == 60
    assert len(loop_schedules(auto, "autoexport")["metrics"]) == 245
    assert not cross_field_problems(auto, "autoexport")
    refused = cross_field_problems(auto | {"exportTimeoutMinutes": 10080}, "autoexport")
    assert any("exportTimeoutMinutes=10080 with waitForCheckMetricsSeconds=60" in p for p in refused), refused
    assert _stack_file("taskexport")[f"{NAMESPACE}:exportTimeoutMinutes"] == 720


@pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws")
def test_main_module_runs_the_whole_program():
    # What the Python language host does: run __main__.py as a script, inside the stack.
    run = run_program("autoexport", program=lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__"))
    assert run.outputs["mode"] == "autoexport"
    assert (
        run.one("aws:sfn/stateMachine:StateMachine", "batch-lustre-state-machine").inputs["name"]
        == "autoexport-autoexport-workflow"
    )


# --- a bad stack file: one line through the program, the Automation API and the CLI ---

# (line of Pulumi.taskexport.yaml replaced, by this line)
BAD_STACK_FILES = {
    "list-typed key holding a broken JSON list": (
        "batch-lustre:computeEnvironmentInstanceTypes:",
        'batch-lustre:computeEnvironmentInstanceTypes: "[c6i"',
    ),
    "list-typed key holding JSON that is not a list of names": (
        "batch-lustre:computeEnvironmentInstanceTypes:",
        "batch-lustre:computeEnvironmentInstanceTypes: [1, 2]",
    ),
    "number-typed key holding a list": (
        "batch-lustre:lustreStorageCapacity:",
        "batch-lustre:lustreStorageCapacity: [1200]",
    ),
    # The secret's initial jobDefinitionVcpus (32) above the compute environment's maxvCpus: every run's
    # ExtractParameters would refuse it, so `pulumi up` does, naming both keys.
    "the secret's job vCPUs above the compute environment's maxvCpus": (
        "batch-lustre:computeEnvironmentMaxvCpus:",
        "batch-lustre:computeEnvironmentMaxvCpus: 16",
    ),
}


def _bad_project(tmp_path: Path, case: str) -> Path:
    """A copy of the project's Pulumi.yaml and Pulumi.taskexport.yaml, one config line replaced."""
    starts, line = BAD_STACK_FILES[case]
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    lines = (ROOT / "Pulumi.taskexport.yaml").read_text().splitlines()
    at = next(i for i, text in enumerate(lines) if text.strip().startswith(starts))
    # A YAML list set in block style spans the lines indented under its key.
    end = next((i for i in range(at + 1, len(lines)) if not lines[i].startswith(" " * 4 + "-")), len(lines))
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    (tmp_path / "Pulumi.taskexport.yaml").write_text("\n".join([*lines[:at], indent + line, *lines[end:]]) + "\n")
    return tmp_path


@pytest.mark.parametrize("case", list(BAD_STACK_FILES))
def test_a_bad_value_in_a_stack_file_is_the_same_one_line_error_for_the_tools_and_for_pulumi_up(case, tmp_path):
    project = _bad_project(tmp_path, case)
    with pytest.raises(ParameterError) as from_tools:
        automation.stack_settings("taskexport", work_dir=project)
    message = str(from_tools.value)
    assert "\n" not in message and " is not accepted: accepted " in message, message

    with pytest.raises(pulumi.RunError) as from_program:
        run_program("taskexport", config=settings.load_stack_config("taskexport", project))
    assert str(from_program.value) == f"stack taskexport: {message}"


@pytest.mark.parametrize("case", list(BAD_STACK_FILES))
def test_params_show_of_a_stack_with_a_bad_value_prints_one_line_and_exits_2(case, tmp_path):
    from batch_lustre.cli.app import app

    project = _bad_project(tmp_path, case)
    result = CliRunner().invoke(
        app, ["params", "show", "taskexport", "--secret-id", "unused"], env={ENV_VAR: str(project)}
    )
    assert result.exit_code == 2, result.output
    with pytest.raises(ParameterError) as expected:
        automation.stack_settings("taskexport", work_dir=project)
    assert result.stderr == f"error: {expected.value}\n"


def test_a_stack_file_that_is_not_yaml_is_refused_in_one_line(tmp_path):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.taskexport.yaml").write_text("config:\n  batch-lustre:computeEnvironmentInstanceTypes: [c6i\n")
    with pytest.raises(ParameterError) as caught:
        automation.stack_settings("taskexport", work_dir=tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("Pulumi.taskexport.yaml is not accepted (") and message.endswith(
        "): accepted a YAML stack file"
    ), message


def test_a_stack_file_every_run_would_refuse_is_refused_in_one_line_naming_both_keys(tmp_path):
    project = _bad_project(tmp_path, "the secret's job vCPUs above the compute environment's maxvCpus")
    with pytest.raises(ParameterError) as caught:
        automation.stack_settings("taskexport", work_dir=project)
    assert str(caught.value) == (
        "jobDefinitionVcpus=32 is not accepted: accepted at most computeEnvironmentMaxvCpus=16, "
        "or the job would wait forever in RUNNABLE"
    )


@pytest.mark.parametrize("command", [["demo"], ["deploy", "-s", "taskexport", "--yes"]])
def test_the_demo_and_deploy_refuse_such_a_stack_file_in_one_line_with_exit_2_before_anything_runs(command, tmp_path):
    from batch_lustre.cli.app import app

    project = _bad_project(tmp_path, "the secret's job vCPUs above the compute environment's maxvCpus")
    # No Pulumi CLI on PATH: the deploy must refuse before it needs one.
    result = CliRunner().invoke(app, command, env={ENV_VAR: str(project), "PATH": str(tmp_path)})
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: jobDefinitionVcpus=32 is not accepted: accepted at most ")
    assert "computeEnvironmentMaxvCpus=16" in result.stderr


# --- the stack files' comments: generated from the parameters table --------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_the_stack_files_comments_are_those_generated_from_the_parameters_table(mode):
    text = (ROOT / f"Pulumi.{mode}.yaml").read_text()
    assert stack_files.render(mode, text) == text, f"Pulumi.{mode}.yaml is stale: run `{stack_files.COMMAND}`"


def _comment_above(text: str, key: str) -> str:
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"  {key}:"))
    start = at
    while lines[start - 1].lstrip().startswith("#"):
        start -= 1
    return " ".join(line.strip().removeprefix("# ") for line in lines[start:at])


@pytest.mark.parametrize("mode", MODES)
def test_each_parameter_comment_says_what_it_means_accepts_and_defaults_to(mode):
    text = (ROOT / f"Pulumi.{mode}.yaml").read_text()
    for parameter in parameters_for(mode):
        comment = _comment_above(text, f"{NAMESPACE}:{parameter.name}")
        assert parameter.description.split(" (")[0][1:] in comment, parameter.name
        assert f"Accepted: {settings.accepted_words(parameter.name)}" in comment, parameter.name
        assert comment.endswith(f"Default: {json.dumps(parameter.defaults[mode])}."), parameter.name
        assert ("[runtime]" in comment) == parameter.is_runtime(mode), parameter.name
    # What the code does now, not what the seed's name says.
    assert "No longer a job poll" in _comment_above(text, f"{NAMESPACE}:waitForJobCompletionSeconds")
    assert "jobDefinitionVcpus <= computeEnvironmentMaxvCpus" in _comment_above(
        text, f"{NAMESPACE}:computeEnvironmentMaxvCpus"
    )


def _stripped(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")) + "\n"


def test_the_generator_keeps_every_value_and_the_key_order_and_adds_a_new_parameter_with_its_default():
    original = (ROOT / "Pulumi.taskexport.yaml").read_text()
    # An edited file: no comments, a value changed, another namespace's key with its owner's comment, and one
    # parameter missing, as a new row of the table is missing from the files until the generator runs.
    edited = _stripped(original).replace("jobDefinitionVcpus: 32", "jobDefinitionVcpus: 64")
    edited = edited.replace("  aws:region: us-east-1\n", "  aws:region: us-east-1\n  # mine\n  aws:profile: work\n")
    edited = "\n".join(line for line in edited.splitlines() if "waitForJobCompletionSeconds" not in line) + "\n"

    rendered = stack_files.render("taskexport", edited)

    config = settings.stack_file_config("t.yaml", rendered)
    before = settings.stack_file_config("t.yaml", edited)
    assert [key for key in config if key != f"{NAMESPACE}:waitForJobCompletionSeconds"] == list(before)
    assert {k: v for k, v in config.items() if k in before} == before  # every value as it was
    keys = list(config)
    at = keys.index(f"{NAMESPACE}:waitForJobCompletionSeconds")
    assert keys[at - 1] == f"{NAMESPACE}:waitForLustreCreationSeconds"  # where the table puts it
    assert config[f"{NAMESPACE}:waitForJobCompletionSeconds"] == "300"
    assert "  # mine\n  aws:profile: work\n" in rendered  # not ours: left as written
    assert stack_files.render("taskexport", rendered) == rendered
    assert _stripped(stack_files.render("taskexport", _stripped(original))) == _stripped(original)


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("config: {aws:region: us-east-1, batch-lustre:mode: taskexport}\n", "accepted a stack file with a block"),
        ("config:\n    aws:region: us-east-1\n    batch-lustre:mode: taskexport\n", "indented by two spaces"),
        ("config:\n  batch-lustre:mode: taskexport\n  batch-lustre:nope: 1\n", "nope is not a parameter"),
    ],
)
def test_the_generator_refuses_in_one_line_a_file_it_cannot_comment_as_it_is(text, refusal):
    with pytest.raises(ParameterError) as caught:
        stack_files.render("taskexport", text)
    assert "\n" not in str(caught.value) and refusal in str(caught.value), caught.value


def test_the_command_checks_and_rewrites_the_stack_files_of_the_project(tmp_path, monkeypatch, capsys):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    for mode in MODES:
        (tmp_path / f"Pulumi.{mode}.yaml").write_text(_stripped((ROOT / f"Pulumi.{mode}.yaml").read_text()))
    monkeypatch.setenv(ENV_VAR, str(tmp_path))

    assert stack_files.main(["--check"]) == 1
    assert capsys.readouterr().err == "".join(
        f"Pulumi.{mode}.yaml is stale: run `{stack_files.COMMAND}`\n" for mode in sorted(MODES)
    )
    assert stack_files.main([]) == 0
    for mode in MODES:
        assert (tmp_path / f"Pulumi.{mode}.yaml").read_text() == (ROOT / f"Pulumi.{mode}.yaml").read_text()
    assert stack_files.main(["--check"]) == 0

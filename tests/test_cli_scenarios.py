"""``batch-lustre scenarios``: the catalogue's listing, one scenario's timeline and figures, JSON, one-line errors.

Every scenario itself runs in tests/test_scenarios.py. Here the command's formatting is checked on a constructed
result (``run_scenario`` replaced), and one cheap scenario runs end to end.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys

import pytest
from rich.console import Console
from typer.testing import CliRunner

from batch_lustre.cli.app import app
from batch_lustre.cli.scenario_commands import JSON_KEYS, fold_timeline, result_json, show_result
from batch_lustre.emulation import catalogue_run
from batch_lustre.emulation.catalogue import SCENARIOS, Expected
from batch_lustre.emulation.catalogue_run import ExecutionReport, ScenarioResult
from batch_lustre.emulation.figures import FIGURE_KEYS
from batch_lustre.emulation.runner import LustreLifetime, RunResult, StateVisit

runner = CliRunner()
NO_AWS = {
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_PROFILE": "no-such-profile",
    "COLUMNS": "80",
}
JOB = {
    "jobId": "5a0f-1",
    "status": "FAILED",
    "statusReason": "Essential container in task exited",
    "attempts": [{"container": {"exitCode": 3, "logStreamName": "taskexport/default/bbb"}}],
    "container": {"image": "job:latest", "command": ["python", "sim.py"] * 40},
}


def scenarios(*args: str, env: dict | None = None):
    return runner.invoke(app, ["scenarios", *args], env={**NO_AWS, **(env or {})})


def run_result(name: str, status: str, timeline: list[StateVisit], **kwargs) -> RunResult:
    return RunResult(
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:m:{name}",
        status=status,
        error=kwargs.get("error"),
        cause=kwargs.get("cause"),
        output=kwargs.get("output"),
        timeline=timeline,
        calls={"fsx:describeFileSystems": 3},
        call_errors=[],
        leftovers=None,
        lustre=None,
        emulated_seconds=kwargs.get("seconds", 1500.0),
        real_seconds=0.1,
    )


def constructed(name: str = "export-fails", mode: str = "taskexport", passed: bool = True) -> ScenarioResult:
    """A result as ``run_scenario`` makes one: a failed run whose raw job description is its Cause, a polling
    loop in its timeline, and the run-cleanup execution EventBridge started after it."""
    names = ["CreateLustreFileSystem", *["WaitForFileSystem", "CheckFileSystemStatus", "IsAvailable"] * 3, "RunFailed"]
    visits = [StateVisit(n, "Task", 100.0 * i, 100.0 * (i + 1)) for i, n in enumerate(names)]
    cause = "Job FAILED: " + json.dumps(JOB)
    run = run_result("run-1", "FAILED", visits, error="JobFailed", cause=cause)
    cleanup = run_result(
        "cleanup-1",
        "SUCCEEDED",
        [],
        output={"fileSystem": {"FileSystemDeleted": False, "Reason": "batch-lustre:kept"}, "actions": []},
        seconds=60.0,
    )
    result = ScenarioResult(
        name=name,
        mode=mode,
        description=SCENARIOS[name].description,
        expected=Expected("FAILED", "JobFailed", keeps_file_system=True),
        expected_label="FAILED: JobFailed",
        got="FAILED: JobFailed",
        status="FAILED",
        error="JobFailed",
        cause=cause,
        executions=[ExecutionReport("run-1", run, "fs-1", None, 1)],  # type: ignore[arg-type]
        leftovers=["file system fs-1 (AVAILABLE)"],
        transitions=123,
        calls={"fsx:describeFileSystems": 3, "fsx:createFileSystem": 1},
        lustre=LustreLifetime("fs-1", 420.0, 60.0, 600.0, 30.0, None, None),
        timeline=visits,
        emulated_seconds=1500.0,
        run_cleanups=[cleanup],
        figures={key: 1.0 for key in JSON_KEYS[4:9]} | {"transitions": 123, "history_events": 400, "status": "FAILED"},
    )
    if not passed:
        result.mismatches = ["expected FAILED: JobFailed, got SUCCEEDED"]
    return result


@pytest.fixture
def recorded(monkeypatch):
    """``run_scenario`` answers a constructed result at once; returns the (name, mode) it was asked for."""
    asked = []

    def fake(name, mode, **_):
        asked.append((name, mode))
        return constructed(name, mode, passed=name != "success")

    monkeypatch.setattr(catalogue_run, "run_scenario", fake)
    return asked


def test_one_scenario_prints_its_verdict_summary_timeline_run_cleanup_and_figures(recorded):
    result = scenarios("export-fails")
    assert result.exit_code == 0, result.output
    out = result.output
    assert recorded == [("export-fails", "taskexport")]
    assert "export-fails (taskexport)" in out
    assert "expected FAILED: JobFailed, file system kept; got FAILED: JobFailed  pass" in out
    # The raw job description of the Cause in one line; --verbose shows it whole.
    assert (
        "Cause: Job FAILED: job 5a0f-1 FAILED after 1 attempt(s): exit code 3, Essential container in task "
        "exited, log stream taskexport/default/bbb\n"
    ) in out
    assert "left behind: file system fs-1 (AVAILABLE)" in out
    assert "timeline of execution run-1 (emulated time since its start)" in out
    # A polling loop's turns folded into one line, on the timeline's one clock.
    assert (
        "+1:40 | state(s): WaitForFileSystem > CheckFileSystemStatus > IsAvailable | until: +16:40 | turns: x3"
    ) in out
    assert "run-cleanup executions (started by EventBridge after the run ended without success)" in out
    assert "cleanup-1 | status: SUCCEEDED | emulated duration: 0:01:00 | what it did: file system not deleted" in out
    for figure in (
        "file system lifetime (create accepted -> delete accepted): 0:00:01",
        "history events (of the run that went ahead): 400",
        "state transitions: 123",
        "AWS calls: 4",
        "  fsx:describeFileSystems: 3",
        "file system fs-1: creating: 0:07:00",
        "  lifetime until delete requested: -",
    ):
        assert figure in out, figure
    verbose = scenarios("export-fails", "--verbose")
    assert "Cause: Job FAILED: " + json.dumps(JOB) in verbose.output


def test_all_scenarios_make_one_line_each_and_piped_each_line_comes_as_soon_as_its_run_ends(monkeypatch):
    from batch_lustre.emulation import catalogue

    monkeypatch.setattr(catalogue, "cases", lambda: [("job-fails", "taskexport"), ("invalid-type", "autoexport")])
    written_before_each_run = []

    def fake(name, mode, **_):
        sys.stdout.flush()
        written_before_each_run.append(sys.stdout.buffer.getvalue().decode())
        return constructed(name, mode)

    monkeypatch.setattr(catalogue_run, "run_scenario", fake)
    result = scenarios()
    assert result.exit_code == 0, result.output
    first = (
        "pass job-fails (taskexport) | expected: FAILED: JobFailed, file system kept | got: FAILED: JobFailed | "
        "leftovers: file system fs-1 (AVAILABLE) | transitions: 123"
    )
    assert result.stdout.splitlines() == [
        first,
        first.replace("job-fails (taskexport)", "invalid-type (autoexport)"),
        "2 of 2 scenario runs passed",
    ]
    assert written_before_each_run == ["", first + "\n"]


def test_on_a_terminal_the_runs_are_one_table_at_the_end_whole_at_80_columns(recorded, monkeypatch):
    from batch_lustre.emulation import catalogue

    monkeypatch.setattr(
        catalogue, "cases", lambda: [("job-fails", "taskexport"), ("invalid-vcpus-over-max", "autoexport")]
    )
    result = scenarios(env={"TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": "80"})
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip() for line in result.stdout.splitlines()]
    assert max(len(line) for line in lines) <= 80
    assert "invalid-vcpus-over-max" in " ".join(lines).split()
    assert any(line.split()[-1:] == ["123"] or "123" in line.split() for line in lines)  # transitions, not "1…"
    assert "…" not in result.stdout


def test_a_failing_scenario_is_marked_and_exits_1(recorded, monkeypatch):
    from batch_lustre.emulation import catalogue

    monkeypatch.setattr(catalogue, "cases", lambda: [("success", "autoexport")])
    result = scenarios()
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("FAIL success (autoexport) | ")
    assert "success (autoexport): expected FAILED: JobFailed, got SUCCEEDED" in result.output
    assert "0 of 1 scenario runs passed; 1 failed" in result.output


def test_the_catalogue_as_json_is_a_list_of_objects_with_the_stable_keys_and_a_failure_exits_1(recorded, monkeypatch):
    from batch_lustre.emulation import catalogue

    monkeypatch.setattr(
        catalogue,
        "cases",
        lambda: [("job-fails", "autoexport"), ("job-fails", "taskexport"), ("success", "autoexport")],
    )
    result = scenarios("--mode", "autoexport", "--json")
    assert result.exit_code == 1, result.output
    found = json.loads(result.stdout)
    assert [(f["scenario"], f["mode"], f["passed"]) for f in found] == [
        ("job-fails", "autoexport", True),
        ("success", "autoexport", False),
    ]
    assert all(list(f) == EXACT_KEYS for f in found)
    assert found[1]["problems"] == ["expected FAILED: JobFailed, got SUCCEEDED"]


def test_list_names_every_scenario():
    result = scenarios("--list")
    assert result.exit_code == 0, result.output
    names = [line.split(" | ")[0] for line in result.output.splitlines()[1:]]
    assert names == list(SCENARIOS)


def test_an_unknown_scenario_or_mode_is_one_line_exit_2():
    result = scenarios("meteor-strike")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: scenario='meteor-strike' is not accepted: accepted success, ")
    assert result.stderr.count("\n") == 1
    result = scenarios("export-fails", "--mode", "autoexport")
    assert result.exit_code == 2
    assert (
        result.stderr == "error: scenario='export-fails' is not accepted with --mode=autoexport: it applies to "
        "taskexport\n"
    )
    result = scenarios("--mode", "nightly")
    assert result.exit_code == 2
    assert result.stderr == "error: mode='nightly' is not accepted: accepted taskexport or autoexport\n"


def test_fold_timeline_folds_the_turns_of_a_polling_loop():
    names = ["Start", *["Wait", "Check", "Is"] * 3, "Wait", "Check", "Done"]
    visits = [StateVisit(n, "Task", float(i), float(i + 1)) for i, n in enumerate(names)]
    rows = fold_timeline(visits)
    assert [(r.states, r.turns, r.entered, r.exited) for r in rows] == [
        (("Start",), 1, 0.0, 1.0),
        (("Wait", "Check", "Is"), 3, 1.0, 10.0),
        (("Wait",), 1, 10.0, 11.0),
        (("Check",), 1, 11.0, 12.0),
        (("Done",), 1, 12.0, 13.0),
    ]


def test_a_narrow_terminal_shows_one_scenario_without_breaking_a_word():
    console = Console(width=60, force_terminal=True, color_system=None)
    with console.capture() as captured:
        show_result(console, constructed())
    lines = [line.rstrip() for line in captured.get().splitlines()]
    assert max(len(line) for line in lines) <= 60
    words = set(" ".join(lines).split())
    assert {"WaitForFileSystem", "CheckFileSystemStatus", "taskexport/default/bbb", "x3"} <= words


# --- --json ----------------------------------------------------------------------------------------------

EXACT_KEYS = ["scenario", "mode", "passed", "problems", *FIGURE_KEYS, "fs_cost_usd"]


def test_one_real_scenario_in_one_mode_as_json_is_one_object_with_exactly_the_stable_keys():
    # The one scenario this module really runs: refused at once (no file system), the cheapest.
    result = scenarios("invalid-type", "--mode", "autoexport", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)  # stdout is the JSON document and nothing else
    assert list(found) == EXACT_KEYS == list(JSON_KEYS)
    assert (found["scenario"], found["mode"], found["passed"], found["problems"]) == (
        "invalid-type",
        "autoexport",
        True,
        [],
    )
    assert (found["status"], found["error"], found["fs_lifetime_s"]) == ("FAILED", "InvalidParameters", None)
    assert found["fs_cost_usd"] is None  # no file system
    assert isinstance(found["transitions"], int) and isinstance(found["history_events"], int)
    assert found["history_events"] > found["transitions"] > 0


def test_list_as_json_names_every_scenario_with_its_modes_and_description():
    result = scenarios("--list", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert [f["name"] for f in found] == list(SCENARIOS)
    assert all(list(f) == ["name", "modes", "description"] for f in found)
    export_fails = next(f for f in found if f["name"] == "export-fails")
    assert export_fails == {
        "name": "export-fails",
        "modes": ["taskexport"],
        "description": SCENARIOS["export-fails"].description,
    }


def test_json_errors_are_one_json_object_on_stdout_exit_2():
    result = scenarios("meteor-strike", "--json")
    assert result.exit_code == 2
    assert result.stderr == ""
    found = json.loads(result.stdout)
    assert found["code"] == 2
    assert found["error"].startswith("scenario='meteor-strike' is not accepted: accepted success, ")


# --- the file system's cost in dollars ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["taskexport", "autoexport"])
def test_the_cost_of_a_scenario_is_its_lifetime_at_the_secrets_capacity_and_the_stacks_price(mode):
    result = constructed("success", mode, passed=True)
    result.figures["fs_lifetime_s"] = 1462.0
    # 2400 GiB (the stack file's capacity) for 1462 s at 0.140 USD per GiB-month of 730 hours.
    assert result_json(result)["fs_cost_usd"] == pytest.approx(2400 * 1462 / 3600 * 0.140 / 730, abs=1e-4)
    result.figures["fs_lifetime_s"] = None
    assert result_json(result)["fs_cost_usd"] is None


def test_the_price_in_stack_config_overrides_the_table(tmp_path, monkeypatch):
    from batch_lustre.automation import project_root

    root = project_root()
    for name in ("Pulumi.yaml", "Pulumi.taskexport.yaml"):
        (tmp_path / name).write_text((root / name).read_text())
    stack_file = tmp_path / "Pulumi.taskexport.yaml"
    stack_file.write_text(
        stack_file.read_text().replace('lustrePricePerGibMonthUsd: ""', 'lustrePricePerGibMonthUsd: "0.5"')
    )
    monkeypatch.setenv("BATCH_LUSTRE_PROJECT_DIR", str(tmp_path))
    result = constructed("success", "taskexport", passed=True)
    result.figures["fs_lifetime_s"] = 3600.0
    assert result_json(result)["fs_cost_usd"] == pytest.approx(2400 * 0.5 / 730, abs=1e-4)


def test_a_scenario_with_a_larger_file_system_costs_in_proportion(monkeypatch):
    monkeypatch.setitem(
        SCENARIOS, "success", dataclasses.replace(SCENARIOS["success"], runtime_params={"lustreStorageCapacity": 4800})
    )
    result = constructed("success", "taskexport", passed=True)
    result.figures["fs_lifetime_s"] = 3600.0
    assert result_json(result)["fs_cost_usd"] == pytest.approx(4800 * 0.140 / 730, abs=1e-4)


def test_scenarios_success_as_json_includes_its_cost_in_dollars():
    result = scenarios("success", "--mode", "taskexport", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["fs_lifetime_s"] > 0
    assert found["fs_cost_usd"] == pytest.approx(2400 * found["fs_lifetime_s"] / 3600 * 0.140 / 730, abs=1e-4)

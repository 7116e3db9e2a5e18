"""``batch-lustre scenarios``: the catalogue's table, one scenario's timeline and figures, one-line errors.

Every scenario itself runs in tests/test_scenarios.py; these check the command around it with a few runs.
"""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from batch_lustre.cli.app import app
from batch_lustre.cli.scenario_commands import JSON_KEYS, fold_timeline
from batch_lustre.emulation.catalogue import SCENARIOS
from batch_lustre.emulation.runner import StateVisit

runner = CliRunner()
NO_AWS = {
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_PROFILE": "no-such-profile",
    "COLUMNS": "220",
}


def scenarios(*args: str):
    return runner.invoke(app, ["scenarios", *args], env=NO_AWS)


def test_one_scenario_prints_its_timeline_of_states_its_run_cleanup_and_its_figures():
    result = scenarios("export-fails")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "export-fails (taskexport)" in out
    assert "expected FAILED: ExportNotConfirmed, file system kept; got FAILED: ExportNotConfirmed  pass" in out
    assert "left behind: file system fs-" in out
    assert "timeline of execution run-1 (emulated time since its start)" in out
    # A polling loop's turns folded into one row: its states joined by ">", and how many turns.
    folded = [line for line in out.splitlines() if "WaitForFileSystem" in line and " > " in line]
    assert folded and re.search(r"│\s+x\d+\s+│", folded[0]), folded
    assert "ExportTaskFailed" in out and "KeepFileSystemDataNotSafe" in out
    # The run failed: EventBridge started the run-cleanup state machine, which left the kept file system alone.
    assert "run-cleanup executions (started by EventBridge after the run ended without success)" in out
    cleanup = [line for line in out.splitlines() if "SUCCEEDED" in line and "file system not deleted" in line]
    assert cleanup and "batch-lustre:kept" in cleanup[0], cleanup
    for figure in (
        "file system lifetime (create accepted -> delete accepted)",
        "file system AVAILABLE before the job ran",
        "association AVAILABLE before the job ran",
        "after the job until the export was requested",
        "after the export was done until delete requested",
        "history events",
        "state transitions",
        "AWS calls",
        "fsx:describeFileSystems",
        "creating",
        "waiting before the job",
        "after the job until export done",
        "after export until delete requested",
    ):
        assert figure in out, figure


def test_a_two_run_scenario_shows_both_timelines():
    result = scenarios("second-run-refused", "--mode", "autoexport")
    assert result.exit_code == 0, result.output
    assert "timeline of execution first" in result.output and "timeline of execution second" in result.output
    assert "got first SUCCEEDED; second FAILED: ConcurrentRunRefused" in result.output


def test_all_scenarios_of_a_selection_make_one_table_row_each(monkeypatch):
    from batch_lustre.emulation import catalogue

    monkeypatch.setattr(catalogue, "cases", lambda: [("success", "taskexport"), ("invalid-type", "autoexport")])
    result = scenarios()
    assert result.exit_code == 0, result.output
    out = result.output
    for column in ("scenario", "mode", "expected", "got", "leftovers", "transitions", "result"):
        assert column in out
    assert "success" in out and "invalid-type" in out and "InvalidParameters" in out
    assert "2 of 2 scenario runs passed" in out


def test_a_failing_scenario_is_marked_and_exits_1(monkeypatch):
    from batch_lustre.emulation import catalogue

    wrong = catalogue.Expected("FAILED", "JobFailed")
    monkeypatch.setitem(
        catalogue.SCENARIOS,
        "success",
        catalogue.NamedScenario("expects the wrong thing", catalogue.Scenario, expected=wrong),
    )
    monkeypatch.setattr(catalogue, "cases", lambda: [("success", "autoexport")])
    result = scenarios()
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and "expected FAILED: JobFailed, got SUCCEEDED" in result.output
    assert "0 of 1 scenario runs passed; 1 failed" in result.output


def test_list_names_every_scenario():
    result = scenarios("--list")
    assert result.exit_code == 0, result.output
    for name in SCENARIOS:
        assert name in result.output


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


# --- --json ----------------------------------------------------------------------------------------------

FIGURE_KEYS = [
    "fs_lifetime_s",
    "fs_available_before_job_s",
    "association_available_before_job_s",
    "after_job_until_export_requested_s",
    "after_export_done_until_delete_requested_s",
    "transitions",
    "history_events",
    "status",
    "error",
]
EXACT_KEYS = ["scenario", "mode", "passed", "problems", *FIGURE_KEYS]


def test_one_scenario_in_one_mode_as_json_is_one_object_with_exactly_the_stable_keys():
    result = scenarios("job-fails", "--mode", "taskexport", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)  # stdout is the JSON document and nothing else
    assert list(found) == EXACT_KEYS == list(JSON_KEYS)
    assert (found["scenario"], found["mode"], found["passed"], found["problems"]) == (
        "job-fails",
        "taskexport",
        True,
        [],
    )
    assert (found["status"], found["error"]) == ("FAILED", "JobFailed")
    for key in FIGURE_KEYS[:5]:  # the job ran, was exported, the file system deleted: every phase happened
        assert isinstance(found[key], float) and found[key] >= 0, key
    assert found["fs_lifetime_s"] > found["fs_available_before_job_s"] > 0
    assert isinstance(found["transitions"], int) and isinstance(found["history_events"], int)
    assert found["history_events"] > found["transitions"] > 0


def test_the_catalogue_as_json_is_a_list_of_those_objects_and_a_failure_exits_1(monkeypatch):
    from batch_lustre.emulation import catalogue

    wrong = catalogue.Expected("FAILED", "JobFailed")
    monkeypatch.setitem(
        catalogue.SCENARIOS,
        "success",
        catalogue.NamedScenario("expects the wrong thing", catalogue.Scenario, expected=wrong),
    )
    monkeypatch.setattr(
        catalogue,
        "cases",
        lambda: [("invalid-type", "autoexport"), ("invalid-type", "taskexport"), ("success", "autoexport")],
    )
    result = scenarios("--mode", "autoexport", "--json")
    assert result.exit_code == 1, result.output
    found = json.loads(result.stdout)
    assert [(f["scenario"], f["mode"], f["passed"]) for f in found] == [
        ("invalid-type", "autoexport", True),
        ("success", "autoexport", False),
    ]
    assert all(list(f) == EXACT_KEYS for f in found)
    refused, wrong_run = found
    assert (refused["status"], refused["error"], refused["fs_lifetime_s"]) == ("FAILED", "InvalidParameters", None)
    assert refused["problems"] == []
    assert wrong_run["problems"] and "expected FAILED: JobFailed, got SUCCEEDED" in wrong_run["problems"][0]


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


def test_json_errors_stay_one_line_exit_2():
    result = scenarios("meteor-strike", "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: scenario='meteor-strike' is not accepted: accepted success, ")

"""``batch-lustre scenarios``: the catalogue's table, one scenario's timeline and figures, one-line errors.

Every scenario itself runs in tests/test_scenarios.py; these check the command around it with a few runs.
"""

from __future__ import annotations

from typer.testing import CliRunner

from cli.app import app
from cli.scenario_commands import fold_timeline
from emulation.catalogue import SCENARIOS
from emulation.runner import StateVisit

runner = CliRunner()
NO_AWS = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None,
          "AWS_PROFILE": "no-such-profile", "COLUMNS": "220"}


def scenarios(*args: str):
    return runner.invoke(app, ["scenarios", *args], env=NO_AWS)


def test_one_scenario_prints_its_timeline_of_states_and_its_figures():
    result = scenarios("export-fails")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "export-fails (taskexport)" in out
    assert "expected FAILED: ExportNotConfirmed, file system kept; got FAILED: ExportNotConfirmed  pass" in out
    assert "left behind: file system fs-" in out
    assert "timeline of execution run-1 (emulated time since its start)" in out
    assert "WaitForFileSystem > CheckFileSystemStatus > IsFileSystemAvailable > CountLustrePoll > IsLustreWaitOver" in out
    assert "ExportTaskFailed" in out and "KeepFileSystemDataNotSafe" in out
    for figure in ("state transitions", "AWS calls", "fsx:describeFileSystems", "creating", "waiting before the job",
                   "after the job until export done", "after export until delete requested"):
        assert figure in out, figure


def test_a_two_run_scenario_shows_both_timelines():
    result = scenarios("second-run-refused", "--mode", "autoexport")
    assert result.exit_code == 0, result.output
    assert "timeline of execution first" in result.output and "timeline of execution second" in result.output
    assert "got first SUCCEEDED; second FAILED: ConcurrentRunRefused" in result.output


def test_all_scenarios_of_a_selection_make_one_table_row_each(monkeypatch):
    from emulation import catalogue

    monkeypatch.setattr(catalogue, "cases", lambda: [("success", "taskexport"), ("invalid-type", "autoexport")])
    result = scenarios()
    assert result.exit_code == 0, result.output
    out = result.output
    for column in ("scenario", "mode", "expected", "got", "leftovers", "transitions", "result"):
        assert column in out
    assert "success" in out and "invalid-type" in out and "InvalidParameters" in out
    assert "2 of 2 scenario runs passed" in out


def test_a_failing_scenario_is_marked_and_exits_1(monkeypatch):
    from emulation import catalogue

    wrong = catalogue.Expected("FAILED", "JobFailed")
    monkeypatch.setitem(catalogue.SCENARIOS, "success",
                        catalogue.NamedScenario("expects the wrong thing", catalogue.Scenario, expected=wrong))
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
    assert result.stderr == "error: scenario='export-fails' is not accepted with --mode=autoexport: it applies to " \
                            "taskexport\n"
    result = scenarios("--mode", "nightly")
    assert result.exit_code == 2
    assert result.stderr == "error: mode='nightly' is not accepted: accepted taskexport or autoexport\n"


def test_fold_timeline_folds_the_turns_of_a_polling_loop():
    names = ["Start", *["Wait", "Check", "Is"] * 3, "Wait", "Check", "Done"]
    visits = [StateVisit(n, "Task", float(i), float(i + 1)) for i, n in enumerate(names)]
    rows = fold_timeline(visits)
    assert [(r.states, r.turns, r.entered, r.exited) for r in rows] == [
        (("Start",), 1, 0.0, 1.0), (("Wait", "Check", "Is"), 3, 1.0, 10.0),
        (("Wait",), 1, 10.0, 11.0), (("Check",), 1, 11.0, 12.0), (("Done",), 1, 12.0, 13.0)]

"""The console reads well anywhere: tables at 80 and 60 columns, plain lines when piped, --version, the one-line
summary of a failed job, and the export queue's observations once each on the run's one clock.

Pure formatting on constructed data, and the cheap ``--list`` commands; no scenario runs here.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from check_metrics import decide
from rich.console import Console
from typer.testing import CliRunner

from batch_lustre import __version__
from batch_lustre.automation import RunEvent, RunHandle, RunOutcome
from batch_lustre.cli.app import app
from batch_lustre.cli.common import elapsed
from batch_lustre.cli.export_queue import ObservationLog, observation
from batch_lustre.cli.job_summary import summarize_cause
from batch_lustre.cli.listing import Column, Listing, render, show
from batch_lustre.cli.progress import RunProgress, cause_line, outcome_report
from batch_lustre.emulation.catalogue import SCENARIOS, scenario_names

runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;]*m")
BOX = set("│┃━─┏┓┗┛┡┩└┘╇┳┻")


def terminal(columns: int) -> dict[str, str]:
    """The environment of a terminal ``columns`` wide (rich's TTY_COMPATIBLE: CliRunner's stdout is no TTY)."""
    return {"COLUMNS": str(columns), "TTY_COMPATIBLE": "1", "NO_COLOR": "1"}


def visible(text: str) -> list[str]:
    return [line.rstrip() for line in ANSI.sub("", text).splitlines()]


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"batch-lustre {__version__}\n"


# --- --list at 80 and 60 columns, and piped ------------------------------------------------------------


@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize(
    ("command", "names"),
    [(["scenarios", "--list"], list(SCENARIOS)), (["demo", "--list"], scenario_names(single_run_only=True))],
    ids=["scenarios", "demo"],
)
def test_every_scenario_name_is_whole_on_a_line_of_a_narrow_terminal(command, names, columns):
    result = runner.invoke(app, command, env=terminal(columns))
    assert result.exit_code == 0, result.output
    lines = visible(result.stdout)
    assert max(len(line) for line in lines) <= columns
    words = {word.strip("│┃") for line in lines for word in line.split()}
    for name in names:
        assert name in words, name
    # No cell is cut or broken: every description's words are all there, in order.
    flat = " ".join(" ".join(line.replace("│", " ").split()) for line in lines)
    for name in names:
        assert " ".join(SCENARIOS[name].description.split()[:6]) in flat, name


def test_a_wide_terminal_gets_a_table_with_whole_names():
    result = runner.invoke(app, ["scenarios", "--list"], env=terminal(250))
    lines = visible(result.stdout)
    assert any(line.startswith("┏") for line in lines)
    for name in SCENARIOS:
        assert any(line.startswith(f"│ {name} ") for line in lines), name


@pytest.mark.parametrize("command", [["scenarios", "--list"], ["demo", "--list"]], ids=["scenarios", "demo"])
def test_piped_lists_are_plain_lines_one_per_scenario(command):
    result = runner.invoke(app, command, env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert not BOX & set(result.stdout) and "\x1b" not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[1] == (
        "success | modes: taskexport, autoexport | expected: SUCCEEDED | what happens: "
        + SCENARIOS["success"].description
    )
    assert len(lines) == 1 + len(
        SCENARIOS if command[0] == "scenarios" else scenario_names(single_run_only=True)
    )  # the title, then a line each


def test_demo_list_as_json():
    result = runner.invoke(app, ["demo", "--list", "--json"])
    found = json.loads(result.stdout)
    assert [f["name"] for f in found] == scenario_names(single_run_only=True)
    assert all(list(f) == ["name", "modes", "description"] for f in found)


# --- the layouts of a Listing ------------------------------------------------------------------------


def sample() -> Listing:
    listing = Listing([Column("run", key=True), Column("status"), Column("error")], title="recent runs")
    listing.add_row("run-20260101-000000-abcd", "FAILED", "JobFailed: the job failed after five attempts")
    listing.add_row("run-20260102-000000-beef", "SUCCEEDED", "")
    return listing


def rendered(listing: Listing, console: Console) -> list[str]:
    with console.capture() as captured:
        show(listing, console)
    return visible(captured.get())


def test_piped_listing_is_one_line_per_row_and_leaves_empty_cells_out():
    console = Console(width=40, color_system=None, force_terminal=False, soft_wrap=True)
    assert rendered(sample(), console) == [
        "recent runs",
        "run-20260101-000000-abcd | status: FAILED | error: JobFailed: the job failed after five attempts",
        "run-20260102-000000-beef | status: SUCCEEDED",
    ]


def test_a_narrow_terminal_gets_blocks_wrapped_at_word_boundaries():
    console = Console(width=40, force_terminal=True, color_system=None)
    lines = rendered(sample(), console)
    assert not BOX & set("".join(lines))
    assert "run-20260101-000000-abcd" in lines and "run-20260102-000000-beef" in lines
    assert all(len(line) <= 40 for line in lines)
    words = " ".join(lines).split()
    assert "JobFailed:" in words and "attempts" in words  # wrapped between words, none broken


def test_a_wide_terminal_gets_a_table():
    console = Console(width=120, force_terminal=True, color_system=None)
    assert rendered(sample(), console)[1].startswith("┏")
    assert render(sample(), Console(width=50, force_terminal=True)).__class__.__name__ == "Group"


def test_a_row_must_have_a_cell_per_column():
    with pytest.raises(ValueError, match="cells=1 is not accepted: accepted 3"):
        sample().add_row("run-x")


# --- a failed job's Cause in one line ----------------------------------------------------------------

JOB = {
    "jobArn": "arn:aws:batch:us-east-1:123456789012:job/5a0f",
    "jobName": "taskexport-run-1",
    "jobId": "5a0f4c1e-0000-4000-8000-000000000001",
    "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/taskexport-queue",
    "status": "FAILED",
    "statusReason": "Essential container in task exited",
    "attempts": [
        {"container": {"exitCode": 1, "logStreamName": "taskexport/default/aaa"}, "statusReason": "x"},
        {"container": {"exitCode": 3, "logStreamName": "taskexport/default/bbb"}, "statusReason": "y"},
    ],
    "container": {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/job:latest", "vcpus": 32},
    "parameters": {},
    "tags": {"batch-lustre:run": "run-1"},
}


def test_a_raw_job_description_becomes_one_line_with_exit_code_reason_log_stream_and_attempts():
    cause = "Job FAILED: " + json.dumps(JOB, indent=2)
    assert len(cause) > 700
    assert summarize_cause(cause) == (
        "Job FAILED: job 5a0f4c1e-0000-4000-8000-000000000001 FAILED after 2 attempt(s): exit code 3, Essential "
        "container in task exited, log stream taskexport/default/bbb"
    )


def test_pascal_case_and_the_parallel_states_prefix_are_read_too():
    pascal = {"JobId": "j-1", "Status": "FAILED", "Attempts": [{"Container": {"ExitCode": 137}}]}
    assert summarize_cause("States.TaskFailed: " + json.dumps(pascal)) == (
        "States.TaskFailed: job j-1 FAILED after 1 attempt(s): exit code 137, no log stream"
    )


def test_an_array_job_gives_its_children_counts():
    array = {
        "jobId": "arr-1",
        "status": "FAILED",
        "statusReason": "Array Child Job failed",
        "arrayProperties": {"size": 10, "statusSummary": {"SUCCEEDED": 7, "FAILED": 3}},
    }
    assert (
        summarize_cause(json.dumps(array)) == "array job arr-1 FAILED: 3 of 10 children FAILED, Array Child Job failed"
    )


def test_a_cause_without_a_job_description_is_kept_on_one_line():
    assert summarize_cause("job j-1 FAILED after 1 attempt(s): exit code 3,\n log stream s") == (
        "job j-1 FAILED after 1 attempt(s): exit code 3, log stream s"
    )
    assert summarize_cause('{"not": "a job"} and text') == '{"not": "a job"} and text'
    assert summarize_cause(None) == "-"
    assert cause_line("x" * 700).endswith("(100 more characters: --verbose shows the whole Cause)")


def test_the_run_report_shows_the_summary_and_verbose_the_whole_cause():
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cause = "Job FAILED: " + json.dumps(JOB)
    outcome = RunOutcome("run-1", "arn:run-1", "FAILED", now, now + dt.timedelta(minutes=3), "JobFailed", cause)
    console = Console(width=80, color_system=None, force_terminal=False, soft_wrap=True)
    with console.capture() as short:
        console.print(outcome_report(outcome, "bucket", [], console))
    with console.capture() as full:
        console.print(outcome_report(outcome, "bucket", [], console, verbose=True))
    (line,) = [line for line in short.get().splitlines() if line.startswith("Cause: ")]
    assert line == "Cause: " + summarize_cause(cause)
    assert cause in full.get()


# --- the export queue's observations on the run's clock -----------------------------------------------

STARTED = dt.datetime(2026, 1, 1, 3, 0, tzinfo=dt.UTC)
JOB_ENDED = STARTED + dt.timedelta(minutes=25)


def reason(at_minute: float, points: list[tuple[float, float]]) -> str:
    """CheckMetrics' reason at ``at_minute`` after the run started, for datapoints (minute, value)."""
    stamps = [STARTED + dt.timedelta(minutes=m) for m, _ in points]
    return decide(
        stamps,
        [v for _, v in points],
        job_ended_at=JOB_ENDED,
        now=STARTED + dt.timedelta(minutes=at_minute),
        period_seconds=60,
        time_diff_minutes=15,
    )["reason"]


def test_elapsed_is_the_timelines_one_clock():
    assert [elapsed(s) for s in (0, 59, 754, 3600 + 61)] == ["+0:00", "+0:59", "+12:34", "+1:01:01"]
    assert elapsed(dt.timedelta(minutes=2)) == "+2:00" and elapsed(None) == "-"


def test_observations_name_times_on_the_runs_clock():
    before = [(m, 30.0) for m in range(18, 25)]  # 7 datapoints of periods before the job ended
    assert observation(reason(26.5, before), STARTED) == (
        "no datapoint yet of a period after the job ended (+25:00): not proven drained"
    )
    assert observation(reason(28, [*before, (26, 120.0)]), STARTED) == (
        "not drained: oldest queued message 120 s old in the period starting +26:00"
    )
    assert observation(reason(29, [*before, (26, 120.0), (27, 0.0)]), STARTED) == (
        "drained: 0 in the period starting +27:00"
    )
    assert observation("something else at 2026-01-01T03:05:00+00:00", STARTED) == "something else at +5:00"


def test_each_distinct_observation_is_shown_once():
    before = [(m, 30.0) for m in range(18, 25)]
    polls = [reason(25 + i / 2, before) for i in range(1, 16)]  # 15 polls that saw nothing new
    polls += [reason(28, [*before, (26, 120.0)]), reason(28.5, [*before, (26, 120.0)])]
    log = ObservationLog()
    shown = [text for text in (log.new(r, STARTED) for r in polls) if text is not None]
    assert shown == [
        "no datapoint yet of a period after the job ended (+25:00): not proven drained",
        "not drained: oldest queued message 120 s old in the period starting +26:00",
    ]


def test_the_progress_timeline_prints_each_observation_once_without_a_live_display_when_piped():
    console = Console(width=80, color_system=None, force_terminal=False, soft_wrap=True)
    progress = RunProgress(console, RunHandle("run-1", "arn:run-1", "arn:machine"), now=None)
    outcome = RunOutcome("run-1", "arn:run-1", "RUNNING", STARTED, None)
    before = [(m, 30.0) for m in range(18, 25)]
    events = [RunEvent(1, "ExecutionStarted", STARTED, None, 0, {})]
    for i in range(15):
        moment = STARTED + dt.timedelta(minutes=25 + i / 2)
        events.append(RunEvent(2 + 2 * i, "TaskStateEntered", moment, "CheckMetrics", i + 1, {}))
        facts = {"exportQueue": reason(25 + i / 2, before)}
        events.append(RunEvent(3 + 2 * i, "TaskStateExited", moment, "CheckMetrics", i + 1, facts))
    with console.capture() as captured, progress:
        for event in events:
            progress.on_event(event, outcome)
    assert captured.get().splitlines() == [
        "  +25:00  CheckMetrics",
        "  +25:00    export queue: no datapoint yet of a period after the job ended (+25:00): not proven drained",
    ]

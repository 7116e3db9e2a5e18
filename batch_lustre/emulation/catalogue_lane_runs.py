"""Scenarios of runs in line for the stack's lanes (``emulation.catalogue``'s ``LANE_RUNS``), run on one emulated
stack and judged as ``emulation.catalogue_run`` judges any run, plus the lanes' own rules.

- ``MANY_AT_ONCE``: ``MANY_RUNS`` runs start in the same emulated second; all must succeed.
- ``HOLDER_ABORTED``: run-1 and run-2 start on one lane; run-1 (first in line) is stopped during its job; the run
  cleanup cleans up after it and run-2 takes the lane.
- ``OWNER_ENDED``: run-1 runs to its end; its lane item is then written back as if its release had been lost (no
  event follows a SUCCEEDED run); run-2 must take the lane over from it.
- ``LANE_HELD_TOO_LONG``: run-1 and run-2 start on one lane; run-2 waits longer than its laneWaitTimeoutMinutes.

The lanes' rules are judged from what the emulated Batch recorded, not from the runs' own records
(``lane_violations``): each lane's compute environment goes from its baseline launch template to one run's and back
before another run's (no two runs on one lane at once); each run's job went to the queue of the lane whose compute
environment was on that run's launch template for the job's whole life, and carries that lane's tag.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3

from batch_lustre.emulation import catalogue_run as judged
from batch_lustre.emulation.catalogue_base import (
    HOLDER_ABORTED,
    LANE_HELD_TOO_LONG,
    MANY_AT_ONCE,
    OWNER_ENDED,
    Expected,
    NamedScenario,
)
from batch_lustre.emulation.catalogue_lanes import MANY_RUNS, SUCCEEDS
from batch_lustre.emulation.core import Emulation
from batch_lustre.emulation.environment import offline_environment
from batch_lustre.emulation.figures import LINE_KEYS
from batch_lustre.emulation.runner import (
    RunResult,
    StartedRun,
    figures,
    finish_workflow,
    lustre_lifetime,
    run_jobs,
    start_workflow,
    transitions,
    wait_for_executions,
)
from batch_lustre.emulation.stack import EmulatedStack, attach_workflow_policy, setup_run_cleanup, setup_stack
from batch_lustre.program.asl import build_definition
from batch_lustre.program.asl.naming import TAG_LANE

REGION = judged.REGION
ABORTED = Expected("ABORTED", "StoppedByOperator", run_cleanup="SUCCEEDED")
# Run-1 of LANE_HELD_TOO_LONG: it holds the lane and succeeds; run-2's run cleanup (it FAILED) may follow.
HOLDER_CLEANUP_LATENCY_SECONDS = 300.0  # less than lane_queue.TAKEOVER_GRACE_SECONDS: the run cleanup comes first
HOLDER_SUCCEEDS = dataclasses.replace(SUCCEEDS, run_cleanup="")
TAKE_LANE = "TakeLane"
FIND_LANE = "FindLane"
PUT_ITEM = "arn:aws:states:::dynamodb:putItem"


@dataclasses.dataclass
class Started:
    """The runs the scenario started, each with what it must end with."""

    runs: list[tuple[StartedRun, Expected]]
    ended_owner: str | None = None  # OWNER_ENDED: the ended run whose lane item was written back


def run_lanes(
    name: str,
    mode: str,
    entry: NamedScenario,
    *,
    timeout_seconds: float = 180.0,
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    stack_config: Mapping[str, Any] | None = None,
) -> judged.ScenarioResult:
    """Run scenario ``name`` (runs in line for lanes) in ``mode``; judge every run, the lanes and the line.
    ``transform`` changes the generated definition before it runs (to show that the rules catch a defect);
    ``stack_config``: the stack config instead of the scenario's own (e.g. as many lanes as runs)."""
    real_start = time.monotonic()
    with offline_environment(REGION), Emulation(entry.scenario(), region=REGION) as emu:
        stack = setup_stack(
            emu,
            mode,
            runtime_params=dict(entry.runtime_params),
            config_changes=entry.stack_config if stack_config is None else stack_config,
            job_image_tags=entry.job_image_tags,
        )
        definition = build_definition(stack.refs)
        attach_workflow_policy(emu, stack, definition)
        if transform is not None:
            definition = transform(definition)
        cleanup = setup_run_cleanup(emu, stack)
        started_at = emu.now()
        started = RUNS[entry.runs](emu, stack, definition, entry, timeout_seconds)
        results = [finish_workflow(s, stack=stack, timeout_seconds=timeout_seconds) for s, _ in started.runs]
        cleanups = wait_for_executions(emu, cleanup.state_machine_arn, timeout_seconds=timeout_seconds, stack=stack)
        reports = [judged.execution_report(emu, stack, r) for r in results]
        expectations = [expected for _, expected in started.runs]
        main = reports[-1]
        result = judged.ScenarioResult(
            name=name,
            mode=mode,
            description=entry.description,
            expected=entry.expectation(mode),
            expected_label=entry.expected_label(mode),
            got="; ".join(f"{r.name} {r.got}" for r in reports),
            status=main.result.status,
            error=main.result.error,
            cause=main.result.cause,
            executions=reports,
            leftovers=judged.leftover_lines(emu, stack, reports),
            transitions=sum(transitions(r.result.events) for r in reports),
            calls=judged.merged_calls(reports),
            lustre=lustre_lifetime(emu, started_at) if main.file_system_id else None,
            timeline=main.result.timeline,
            emulated_seconds=emu.now() - started_at,
            run_cleanups=cleanups,
            figures={**figures(main.result, emu), **line_figures(results)},
            function_calls=[(at - started_at, fn, call) for at, fn, call in emu.iam.function_calls],
        )
        # The rules every run keeps, with the status each run may end in (an aborted one: ABORTED).
        worst = next((e for e in expectations if e.status not in ("SUCCEEDED", "FAILED")), expectations[-1])
        ruled = dataclasses.replace(entry, expected=worst, expected_by_mode={})
        result.violations = judged.rule_violations(emu, stack, ruled, mode, reports, cleanups, cleanup)
        result.violations += lane_violations(emu, stack, reports)
        for report, expected in zip(reports, expectations, strict=True):
            one = dataclasses.replace(entry, expected=expected, expected_by_mode={}, runs=MANY_AT_ONCE)
            who = f"{report.name}: "
            after = _cleanups_of(report.name, cleanups)
            result.mismatches += [who + p for p in judged.expectation_mismatches(emu, one, mode, [report], after)]
            result.mismatches += [
                who + p for p in judged.bucket_mismatches(emu, stack.refs.bucket_name, expected, report)
            ]
        result.mismatches += _line_mismatches(entry, reports, started, cleanups)
    result.real_seconds = time.monotonic() - real_start
    return result


def _cleanups_of(run: str, cleanups: list[RunResult]) -> list[RunResult]:
    """The run-cleanup executions started after run ``run`` (their input, the status change event, names it)."""
    found = []
    for cleanup in cleanups:
        started = next((e for e in cleanup.events if e["type"] == "ExecutionStarted"), {})
        text = started.get("executionStartedEventDetails", {}).get("input") or "{}"
        if json.loads(text).get("detail", {}).get("name") == run:
            found.append(cleanup)
    return found


# --- starting the runs ----------------------------------------------------------------------------------------


def _start(emu: Emulation, stack: EmulatedStack, definition: dict[str, Any], name: str) -> StartedRun:
    return start_workflow(
        definition, role_arn=stack.role_arn, name=stack.refs.state_machine_name, execution_name=name, emulation=emu
    )


def _many(
    emu: Emulation, stack: EmulatedStack, definition: dict[str, Any], entry: NamedScenario, _timeout: float
) -> Started:
    names = [f"run-{i:02d}" for i in range(1, MANY_RUNS + 1)]
    return Started([(_start(emu, stack, definition, name), entry.expected) for name in names])


def _holder_aborted(
    emu: Emulation, stack: EmulatedStack, definition: dict[str, Any], entry: NamedScenario, _timeout: float
) -> Started:
    # EventBridge starts the run cleanup HOLDER_CLEANUP_LATENCY_SECONDS after run-1 stops, well past a lane check
    # of run-2 (one a minute): a run in line must not take the lane of a run whose cleanup is still to come.
    emu.events.latency_seconds = HOLDER_CLEANUP_LATENCY_SECONDS
    first, second = (_start(emu, stack, definition, name) for name in ("run-1", "run-2"))
    judged.stop_at(emu, first, judged.STOP_DURING_JOB_AT)
    return Started([(first, ABORTED), (second, entry.expected)])


def _owner_ended(
    emu: Emulation, stack: EmulatedStack, definition: dict[str, Any], entry: NamedScenario, timeout: float
) -> Started:
    first = _start(emu, stack, definition, "run-1")
    finish_workflow(first, stack=stack, timeout_seconds=timeout)
    # Its release lost: the item is back, as the run's TakeLane wrote it, and no event will follow (it SUCCEEDED).
    boto3.client("dynamodb", region_name=emu.region).put_item(
        TableName=stack.refs.lane_table_name,
        Item={"lane": {"N": "0"}, "owner": {"S": first.execution_arn}, "since": {"S": "2026-01-01T00:00:00Z"}},
    )
    return Started([(first, SUCCEEDS), (_start(emu, stack, definition, "run-2"), entry.expected)], first.execution_arn)


def _held_too_long(
    emu: Emulation, stack: EmulatedStack, definition: dict[str, Any], entry: NamedScenario, _timeout: float
) -> Started:
    first, second = (_start(emu, stack, definition, name) for name in ("run-1", "run-2"))
    return Started([(first, HOLDER_SUCCEEDS), (second, entry.expected)])


RUNS: dict[str, Callable[[Emulation, EmulatedStack, dict[str, Any], NamedScenario, float], Started]] = {
    MANY_AT_ONCE: _many,
    HOLDER_ABORTED: _holder_aborted,
    OWNER_ENDED: _owner_ended,
    LANE_HELD_TOO_LONG: _held_too_long,
}


# --- what the runs did on their lanes -------------------------------------------------------------------------


def _bounds(result: RunResult) -> tuple[dt.datetime, dt.datetime]:
    stamps = [event["timestamp"] for event in result.events]
    return min(stamps), max(stamps)


def lane_wait(result: RunResult) -> float | None:
    """Emulated seconds from the run's first look for a lane until it took one (None: it took none)."""
    found, taken = result.visits(FIND_LANE), [v for v in result.visits(TAKE_LANE) if v.exited is not None]
    if not found or not taken or taken[-1].exited is None:
        return None
    return taken[-1].exited - found[0].entered


def line_figures(results: list[RunResult]) -> dict[str, Any]:
    """The line's figures: runs that succeeded, runs refused (NoLaneAvailable), the makespan (first start to last
    end), one run's time (the quickest run's), their ratio, and the longest wait for a lane."""
    bounds = [_bounds(r) for r in results if r.events]
    makespan = (max(end for _, end in bounds) - min(start for start, _ in bounds)).total_seconds() if bounds else 0.0
    succeeded = [r for r in results if r.status == "SUCCEEDED"]
    one_run = min(((_bounds(r)[1] - _bounds(r)[0]).total_seconds() for r in succeeded), default=0.0)
    waits = [w for w in (lane_wait(r) for r in results) if w is not None]
    values = (
        len(succeeded),
        sum(1 for r in results if r.error == "NoLaneAvailable"),
        makespan,
        one_run,
        round(makespan / one_run, 2) if one_run else None,
        max(waits, default=0.0),
    )
    return dict(zip(LINE_KEYS, values, strict=True))


def _periods(emu: Emulation, stack: EmulatedStack) -> dict[int, list[tuple[float, float | None, str]]]:
    """Lane -> each time its compute environment was on a launch template other than its baseline: (from, until
    the next update; None: still on it, the template's id), in time order."""
    periods: dict[int, list[tuple[float, float | None, str]]] = {}
    for index, lane in enumerate(stack.refs.lanes):
        found = periods.setdefault(index, [])
        for at, arn, template in sorted(emu.batch.launch_template_history, key=lambda h: h[0]):
            if arn != lane.compute_environment_arn:
                continue
            if found and found[-1][1] is None:
                found[-1] = (found[-1][0], at, found[-1][2])
            template_id = str(template.get("launchTemplateId", ""))
            if template_id != lane.baseline_launch_template_id:
                found.append((at, None, template_id))
    return periods


def _run_template(report: judged.ExecutionReport) -> str | None:
    for output in judged.state_outputs(report.result, "CreateLaunchTemplate"):
        found = (output or {}).get("lt", {}) if isinstance(output, dict) else {}
        if isinstance(found, dict) and found.get("LaunchTemplateId"):
            return str(found["LaunchTemplateId"])
    return None


def lane_violations(emu: Emulation, stack: EmulatedStack, reports: list[judged.ExecutionReport]) -> list[str]:
    """The lanes' rules (module docstring) these runs broke, from Batch's records, one line each."""
    problems: list[str] = []
    periods = _periods(emu, stack)
    owner_of = {template: r.name for r in reports if (template := _run_template(r))}
    for index, found in periods.items():
        for (_, until, template), (start, _, following) in zip(found, found[1:], strict=False):
            if until is not None and until == start:
                problems.append(
                    f"lane {index}: its compute environment went from run {owner_of.get(template, template)}'s "
                    f"launch template to run {owner_of.get(following, following)}'s with no restore between"
                )
    queues = {lane.job_queue_arn: index for index, lane in enumerate(stack.refs.lanes)}
    for report in reports:
        template = _run_template(report)
        for job in run_jobs(emu, report.name, stack.refs.stack_id):
            if job.parent_id is not None:
                continue
            if job.queue_arn not in queues:
                problems.append(f"{report.name}: job {job.job_id} went to {job.queue_arn}, no lane's queue")
                continue
            index = queues[job.queue_arn]
            if job.tags.get(TAG_LANE) != str(index):
                problems.append(
                    f"{report.name}: job {job.job_id} on lane {index} is tagged lane {job.tags.get(TAG_LANE)}"
                )
            ended = job.stopped_at if job.stopped_at is not None else emu.now()
            covering = [
                p for p in periods[index] if p[2] == template and p[0] <= job.created_at and (p[1] or ended) >= ended
            ]
            if not covering:
                problems.append(
                    f"{report.name}: job {job.job_id} on lane {index} from {job.created_at:.0f} s to {ended:.0f} s, "
                    f"but the lane's compute environment was not on the run's launch template {template} all along"
                )
    return problems


def _took_over(result: RunResult) -> list[str]:
    """The ``:ended`` value of each of the run's TakeLane writes (the owner it took the lane over from, or "-")."""
    found = []
    for event in result.events:
        details = event.get("taskScheduledEventDetails") or {}
        if details.get("resource") == "putItem" or PUT_ITEM.endswith(":" + str(details.get("resource"))):
            parameters = json.loads(details.get("parameters") or "{}")
            found.append(parameters.get("ExpressionAttributeValues", {}).get(":ended", {}).get("S", ""))
    return found


def _line_mismatches(
    entry: NamedScenario, reports: list[judged.ExecutionReport], started: Started, cleanups: list[RunResult]
) -> list[str]:
    """What the scenario itself says of the line, against what happened."""
    problems: list[str] = []
    if entry.runs == OWNER_ENDED:
        takes = _took_over(reports[-1].result)
        if started.ended_owner not in takes:
            problems.append(
                f"{reports[-1].name} did not take the lane over from {started.ended_owner} (:ended {takes})"
            )
    if entry.runs == HOLDER_ABORTED:
        first, second = reports
        take = [v.exited for v in second.result.visits(TAKE_LANE) if v.exited is not None]
        stopped = _bounds(first.result)[1]
        began = _bounds(second.result)[0]
        if not take or began + dt.timedelta(seconds=take[-1]) < stopped:
            problems.append(f"{second.name} took the lane before {first.name} ended")
        released = [
            _bounds(cleanup)[0] + dt.timedelta(seconds=visit.exited)
            for cleanup in _cleanups_of(first.name, cleanups)
            for state in ("ReleaseRunLane", "ReleaseRunLaneAtEnd")
            for visit in cleanup.visits(state)
            if visit.exited is not None
        ]
        if not released:
            problems.append(f"{first.name}'s run cleanup did not give its lane back")
        elif take and began + dt.timedelta(seconds=take[-1]) < max(released):
            problems.append(f"{second.name} took the lane before {first.name}'s run cleanup gave it back")
    return problems

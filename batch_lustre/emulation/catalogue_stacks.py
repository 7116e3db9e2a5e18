"""Scenarios of two stacks in one emulated account (``emulation.catalogue``'s ``TWO_STACKS`` and
``SWEEP_BESIDE_ANOTHER_STACK`` runs), judged as ``emulation.catalogue_run`` judges one stack's, plus isolation.

Two copies of the mode's stack file, stacks ``dev`` and ``prod`` (the default ``ecrRepositoryName``, so each derives
its own repository), are deployed into the same moto backend by the Pulumi program itself; each run is named
``run-1`` in both, so only the stack id tells their per-run resources apart.

- ``TWO_STACKS``: both runs start at once and go side by side on the emulated clock;
- ``SWEEP_BESIDE_ANOTHER_STACK``: dev's run (with the scenario's run-time parameters, e.g. deleteLustre=false) ends
  first; then prod's runs, and during its job the operator sweeps dev (``automation.leftovers``, as
  ``batch-lustre sweep -s dev --yes``), then sweeps it again with ``--force``.

Isolation is judged from what the emulation recorded, not from the runs' own records (``crossings``): every request
IAM allowed or denied to one stack's roles (state machines, Lambdas) is matched against the other stack's resources
(the ARNs its deploy created, and anything tagged with its stack id or named with its run prefix); and every resource
a sweep deleted is matched against the other stack's.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from batch_lustre.emulation import catalogue_run as judged
from batch_lustre.emulation.catalogue import SWEEP_BESIDE_ANOTHER_STACK, Expected, NamedScenario
from batch_lustre.emulation.core import Emulation
from batch_lustre.emulation.environment import offline_environment
from batch_lustre.emulation.iam import acting_as_operator
from batch_lustre.emulation.moto_seam import fsx_backends
from batch_lustre.emulation.runner import (
    RunResult,
    StartedRun,
    figures,
    finish_workflow,
    lustre_lifetime,
    start_workflow,
    transitions,
    wait_for_executions,
)
from batch_lustre.emulation.scenario import DEFAULT_FILES
from batch_lustre.emulation.stack import EmulatedStack, attach_workflow_policy, setup_run_cleanup, setup_stack
from batch_lustre.program.asl import build_definition
from batch_lustre.program.asl.naming import TAG_STACK_ID

STACKS = ("dev", "prod")
RUN = "run-1"


@dataclass
class _Deployed:
    stack: EmulatedStack
    definition: dict[str, Any]
    cleanup_arn: str


def _deploy(emu: Emulation, mode: str, name: str, entry: NamedScenario, runtime_params: Mapping[str, Any]) -> _Deployed:
    stack = setup_stack(
        emu,
        mode,
        stack=name,
        runtime_params=dict(runtime_params),
        config_changes={"ecrRepositoryName": "", **entry.stack_config},
        job_image_tags=entry.job_image_tags,
    )
    definition = build_definition(stack.refs)
    attach_workflow_policy(emu, stack, definition)
    return _Deployed(stack, definition, setup_run_cleanup(emu, stack).state_machine_arn)


def _start(emu: Emulation, deployed: _Deployed) -> StartedRun:
    return start_workflow(
        deployed.definition,
        role_arn=deployed.stack.role_arn,
        name=deployed.stack.refs.state_machine_name,
        execution_name=RUN,
        emulation=emu,
    )


def run_pair(name: str, mode: str, entry: NamedScenario, *, timeout_seconds: float = 180.0) -> judged.ScenarioResult:
    """Run scenario ``name`` (a two-stack run) in ``mode``; judge both stacks' runs and their isolation."""
    real_start = time.monotonic()
    operator: list[str] = []
    with offline_environment(judged.REGION), Emulation(entry.scenario(), region=judged.REGION) as emu:
        swept = entry.runs == SWEEP_BESIDE_ANOTHER_STACK
        first = _deploy(emu, mode, STACKS[0], entry, entry.runtime_params)
        second = _deploy(emu, mode, STACKS[1], entry, {} if swept else entry.runtime_params)
        started_at = emu.now()
        deleted: list[tuple[str, str, dict[str, str]]] = []
        alive: list[str] = []  # the other stack's file systems when the sweep ran
        if swept:
            results = [finish_workflow(_start(emu, first), stack=first.stack, timeout_seconds=timeout_seconds)]
            live = _start(emu, second)
            _sweep_during_job(emu, first.stack, second.stack, live, operator, deleted, alive)
            results.append(finish_workflow(live, stack=second.stack, timeout_seconds=timeout_seconds))
        else:
            both = [_start(emu, first), _start(emu, second)]
            results = [
                finish_workflow(s, stack=d.stack, timeout_seconds=timeout_seconds)
                for s, d in zip(both, (first, second), strict=True)
            ]
        pairs = list(zip((first, second), results, strict=True))
        cleanups = {
            d.stack.refs.stack: wait_for_executions(emu, d.cleanup_arn, timeout_seconds=timeout_seconds, stack=d.stack)
            for d in (first, second)
        }
        reports = [judged.execution_report(emu, d.stack, r) for d, r in pairs]
        result = judged.ScenarioResult(
            name=name,
            mode=mode,
            description=entry.description,
            expected=entry.expectation(mode),
            expected_label=entry.expected_label(mode),
            got="; ".join(f"{d.stack.refs.stack} {r.name} {r.got}" for (d, _), r in zip(pairs, reports, strict=True)),
            status=_worst(r.result for r in reports).status,
            error=_worst(r.result for r in reports).error,
            cause=_worst(r.result for r in reports).cause,
            executions=reports,
            leftovers=[
                f"{d.stack.refs.stack}: {line}"
                for (d, _), r in zip(pairs, reports, strict=True)
                for line in judged.leftover_lines(emu, d.stack, [r])
            ],
            transitions=sum(transitions(r.result.events) for r in reports),
            calls=judged.merged_calls(reports),
            lustre=lustre_lifetime(emu, started_at),
            timeline=reports[-1].result.timeline,
            emulated_seconds=emu.now() - started_at,
            run_cleanups=[c for runs in cleanups.values() for c in runs],
            figures=figures(reports[-1].result, emu),
            function_calls=[(at - started_at, fn, call) for at, fn, call in emu.iam.function_calls],
            operator=operator,
        )
        _judge(emu, entry, mode, result, [d for d, _ in pairs], cleanups, Sweep(swept, deleted, alive))
    result.real_seconds = time.monotonic() - real_start
    return result


@dataclass
class Sweep:
    """The sweep of the first stack during the second's run: whether it was made, what it deleted (kind, id, the
    resource's tags just before), the second stack's file systems when it ran."""

    done: bool
    deleted: list[tuple[str, str, dict[str, str]]]
    alive: list[str]


def _judge(
    emu: Emulation,
    entry: NamedScenario,
    mode: str,
    result: judged.ScenarioResult,
    stacks: list[_Deployed],
    cleanups: dict[str, list[RunResult]],
    sweep: Sweep,
) -> None:
    """Each stack's run against its expectation and the rules, and the two stacks' isolation, into ``result``."""
    first, second = stacks
    for deployed, report in zip(stacks, result.executions, strict=True):
        stack = deployed.stack
        who = f"{stack.refs.stack}: "
        expected = _expected_of(entry, mode, sweep.done and deployed is second)
        one = _with_expectation(entry, expected)
        cleanup = setup_run_cleanup(emu, stack)
        ran = cleanups[stack.refs.stack]
        result.violations += [who + p for p in judged.rule_violations(emu, stack, one, mode, [report], ran, cleanup)]
        said = result.operator if deployed is first else []
        result.mismatches += [who + p for p in judged.expectation_mismatches(emu, one, mode, [report], ran, said)]
        result.mismatches += [who + p for p in judged.bucket_mismatches(emu, stack.refs.bucket_name, expected, report)]
    for ours, theirs in ((first, second), (second, first)):
        their_report = result.executions[stacks.index(theirs)]
        result.violations += crossings(emu, ours.stack, theirs.stack, [their_report.file_system_id])
    result.violations += [
        f"a sweep of {first.stack.refs.stack} deleted {kind} {resource_id} of stack {second.stack.refs.stack}"
        for kind, resource_id, tags in sweep.deleted
        if tags.get(TAG_STACK_ID) == second.stack.refs.stack_id or resource_id == result.executions[1].file_system_id
    ]
    if not sweep.done and not _side_by_side(emu, [r.file_system_id for r in result.executions]):
        result.violations.append("the two runs did not go side by side: their file systems never lived at once")
    if sweep.done and result.executions[1].file_system_id not in sweep.alive:
        result.violations.append(
            f"the sweep of {first.stack.refs.stack} ran when stack {second.stack.refs.stack}'s file system "
            f"{result.executions[1].file_system_id} was not there (there: {', '.join(sweep.alive) or 'none'}): nothing to spare"
        )


def _side_by_side(emu: Emulation, file_systems: list[str | None]) -> bool:
    """The runs' file systems (one each) were all there, none being deleted, at one emulated moment."""
    states = [emu.fsx.file_systems.get(fs or "") for fs in file_systems]
    if any(state is None for state in states):
        return False
    born = max(state.created_at for state in states if state is not None)
    return all(
        state.delete_requested_at is None or state.delete_requested_at > born for state in states if state is not None
    )


def _worst(results: Iterable[RunResult]) -> RunResult:
    """The first run that did not succeed (the first run, if all did)."""
    listed = list(results)
    return next((r for r in listed if r.status != "SUCCEEDED"), listed[0])


def _expected_of(entry: NamedScenario, mode: str, plain: bool) -> Expected:
    """The scenario's expectation; for the run beside the swept stack's (``plain``): success, its file system deleted,
    its results in its bucket, no run cleanup."""
    if plain:
        return Expected(says=('"FileSystemDeleted": true',), lands_at=tuple(DEFAULT_FILES), run_cleanup=None)
    return entry.expectation(mode)


def _with_expectation(entry: NamedScenario, expected: Expected) -> NamedScenario:
    return dataclasses.replace(entry, expected=expected, expected_by_mode={})


# Emulated seconds after the live run's start at which the operator sweeps: its job runs (catalogue_run).
SWEEP_AT = judged.STOP_DURING_JOB_AT


def _sweep_during_job(
    emu: Emulation,
    swept: EmulatedStack,
    other: EmulatedStack,
    live: StartedRun,
    said: list[str],
    deleted: list[tuple[str, str, dict[str, str]]],
    alive: list[str],
) -> None:
    """At ``SWEEP_AT`` into ``other``'s live run: ``batch-lustre sweep -s <swept> --yes``, then with ``--force``;
    ``alive``: ``other``'s file systems just before."""

    def act(_at: float) -> None:
        alive.extend(_file_systems_of(emu, other.refs.stack_id))
        with acting_as_operator():
            for force in (False, True):
                said.append(_sweep(emu, swept, force, deleted))

    emu.clock.schedule(live.started_at + SWEEP_AT, act, f"sweep {swept.refs.stack}")


def _sweep(emu: Emulation, stack: EmulatedStack, force: bool, deleted: list[tuple[str, str, dict[str, str]]]) -> str:
    """One sweep as ``batch-lustre sweep`` makes it (``automation.leftovers``); what it did, in one line."""
    from batch_lustre.automation import leftovers

    outputs = stack.deployment.outputs if stack.deployment is not None else {}
    clients = leftovers.LeftoverClients.for_region(emu.region)
    ended, _running = leftovers.find_leftovers(stack.refs.stack, outputs, clients)
    doomed = leftovers.to_delete(ended, force=force)
    said = f"sweep {stack.refs.stack}{' --force' if force else ''}: "
    if not doomed:
        return said + "nothing to sweep"
    fsx = fsx_backends[emu.account_id][emu.region]
    lines = []
    for item in doomed:
        found = fsx.file_systems.get(item.resource_id)
        tags = {t["Key"]: t["Value"] for t in fsx.list_tags_for_resource(found.resource_arn)} if found else {}
        deleted.append((item.kind, item.resource_id, tags))
        leftovers.delete_leftover(item, clients)
        lines.append(f"deleted {item.kind} {item.resource_id}")
    return said + "; ".join(lines)


def _file_systems_of(emu: Emulation, stack_id: str) -> list[str]:
    """The file systems tagged with ``stack_id``, neither DELETING nor gone."""
    fsx = fsx_backends[emu.account_id][emu.region]
    return [
        fs_id
        for fs_id, found in fsx.file_systems.items()
        if {t["Key"]: t["Value"] for t in fsx.list_tags_for_resource(found.resource_arn)}.get(TAG_STACK_ID) == stack_id
        and getattr(emu.fsx.file_systems.get(fs_id), "lifecycle", "AVAILABLE") != "DELETING"
    ]


# --- isolation --------------------------------------------------------------------------------------------------


def _arns(stack: EmulatedStack) -> set[str]:
    deployment = stack.deployment
    if deployment is None:
        return set()
    return {r.outputs["arn"] for r in deployment.resources if isinstance(r.outputs.get("arn"), str)}


def _roles(stack: EmulatedStack) -> set[str]:
    deployment = stack.deployment
    if deployment is None:
        return set()
    return {r.outputs["arn"] for r in deployment.resources if r.type == "aws:iam/role:Role"}


def _within(resource: str, arns: set[str]) -> bool:
    """``resource`` is one of ``arns``, or inside one (an object of a bucket, a version of a function)."""
    return resource in arns or any(resource.startswith((arn + "/", arn + ":")) for arn in arns)


def _identifiers(emu: Emulation, stack: EmulatedStack, arns: set[str], markers: list[str]) -> set[str]:
    """What a request can name a resource of ``stack`` by: its ARNs, their last part (a name or an id), its jobs'
    ids."""
    tails = {arn.rsplit("/", 1)[-1] for arn in arns} | {arn.rsplit(":", 1)[-1] for arn in arns}
    jobs = {j.job_id for j in emu.batch.jobs.values() if j.tags.get(TAG_STACK_ID) == stack.refs.stack_id}
    return arns | tails | jobs


def crossings(
    emu: Emulation, ours: EmulatedStack, theirs: EmulatedStack, their_file_systems: list[str | None]
) -> list[str]:
    """Every request of ``ours``' roles that IAM allowed on a resource of ``theirs`` (or, for a request with no
    resource-level permission, that names one), and every request of ours it denied (none is expected: a denial is
    an attempt), one line each."""
    roles, arns = _roles(ours), _arns(theirs)
    markers = [fs for fs in their_file_systems if fs] + [f"/{theirs.refs.name_prefix}-"]
    problems = []
    for role, action, resource in emu.iam.allowed:
        if role not in roles or resource == "*":
            continue
        tags = emu.iam.resource_tags.get(resource, {})
        if (
            tags.get(TAG_STACK_ID) == theirs.refs.stack_id
            or _within(resource, arns)
            or any(marker in resource for marker in markers)
        ):
            problems.append(
                f"{role.rsplit('/', 1)[-1]} (stack {ours.refs.stack}) was allowed {action} on {resource}, "
                f"stack {theirs.refs.stack}'s"
            )
    identifiers = _identifiers(emu, theirs, arns, markers)
    for role, action, strings in emu.iam.named:
        if role in roles:
            problems += [
                f"{role.rsplit('/', 1)[-1]} (stack {ours.refs.stack}) was allowed {action} naming {value}, "
                f"stack {theirs.refs.stack}'s"
                for value in dict.fromkeys(strings)
                if value in identifiers or any(marker.strip("/") in value for marker in markers)
            ]
    names = {role.rsplit("/", 1)[-1] for role in roles}
    problems += [
        f"{d.principal} (stack {ours.refs.stack}) was denied {d.action} on {d.resource}"
        for d in emu.iam.denials
        if d.principal.split("/")[1:2] and d.principal.split("/")[1] in names
    ]
    return problems

"""Per-run resources a run left behind: find them by tag, tell which run they belong to, delete them
(``batch-lustre sweep`` shows and deletes them; the acceptance check fails on any of its run's).

Every per-run resource carries ``batch-lustre:stack-id`` (the stack's generated id, its output ``stackId``) and
``batch-lustre:run`` (the execution name, ``asl/naming.py``): only resources carrying this stack's id are looked at,
so another stack's (another project's stack of the same name, a copy of this stack) are never touched. A leftover is
one whose run is not RUNNING (ended, or unknown to the state machine). A file system whose run is not in this stack's
history is deleted only on purpose (``force``): it may be a live run's that this stack cannot see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from batch_lustre.automation import clients as aws
from batch_lustre.automation.boundary import operation
from batch_lustre.automation.errors import AutomationError
from batch_lustre.automation.history import run_error
from batch_lustre.automation.runs import iter_executions
from batch_lustre.automation.stacks import required_output
from batch_lustre.program.asl.naming import (
    OUTPUT_COMPUTE_ENVIRONMENT,
    OUTPUT_LANES,
    OUTPUT_STACK_ID,
    OUTPUT_STATE_MACHINE_ARN,
    TAG_RUN,
    TAG_STACK_ID,
)

FILE_SYSTEM = "file system"
LAUNCH_TEMPLATE = "launch template"
JOB_DEFINITION = "job definition"
GONE_LIFECYCLES = ("DELETING",)  # already on its way out
RUN_NOT_FOUND = "not found"


@dataclass(frozen=True)
class Leftover:
    """One per-run resource of a run that is not RUNNING (or one of a RUNNING run: ``find_leftovers``)."""

    kind: str  # FILE_SYSTEM | LAUNCH_TEMPLATE | JOB_DEFINITION
    resource_id: str  # file system id, launch template id, job definition ARN
    name: str
    run: str  # the run (execution name) that made it
    run_status: str  # SUCCEEDED, FAILED... or RUN_NOT_FOUND
    detail: str = ""  # lifecycle of a file system, the run's Error...
    in_use: str | None = None  # why it must not be deleted (None: it may be)
    needs_force: str | None = None  # why it is deleted only when asked with force (None: it may be without)


@dataclass
class LeftoverClients:
    """The AWS clients that find and delete leftovers (moto intercepts them on the emulation)."""

    fsx: Any
    ec2: Any
    batch: Any
    sfn: Any

    @classmethod
    def for_region(cls, region: str | None) -> LeftoverClients:
        return cls(*(aws.aws_client(s, region) for s in ("fsx", "ec2", "batch", "stepfunctions")))


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


@operation
def runs_by_name(state_machine_arn: str, sfn: Any) -> dict[str, dict[str, Any]]:
    """Execution name -> execution (name, status, ARN...), for every run of the state machine."""
    return {e["name"]: e for e in iter_executions(state_machine_arn, sfn)}


@operation
def find_leftovers(
    stack: str, stack_outputs: Mapping[str, Any], clients: LeftoverClients
) -> tuple[list[Leftover], list[Leftover]]:
    """(leftovers of ended runs, resources of RUNNING runs) tagged with the stack's id (output ``stackId``)."""
    machine = required_output(stack_outputs, OUTPUT_STATE_MACHINE_ARN, stack)
    stack_id = required_output(stack_outputs, OUTPUT_STACK_ID, stack)
    runs = runs_by_name(machine, clients.sfn)
    found = (
        _file_systems(stack_id, clients.fsx)
        + _launch_templates(stack_id, clients.ec2)
        + _job_definitions(stack_id, clients.batch)
    )
    in_use = _launch_templates_in_use(_compute_environments(stack_outputs), clients.batch)
    errors: dict[str, str | None] = {}
    ended: list[Leftover] = []
    running: list[Leftover] = []
    for kind, resource_id, name, run, detail in found:
        execution = runs.get(run)
        status = execution["status"] if execution else RUN_NOT_FOUND
        if kind == FILE_SYSTEM and execution and status not in ("RUNNING", "SUCCEEDED"):
            # Why the run kept it: the Error it ended with (e.g. ExportNotConfirmed).
            if run not in errors:
                errors[run] = run_error(execution["executionArn"], clients.sfn)
            detail = f"{detail}; run ended with {errors[run]}" if errors[run] else detail
        item = Leftover(
            kind,
            resource_id,
            name,
            run,
            status,
            detail,
            in_use.get(resource_id) if kind == LAUNCH_TEMPLATE else None,
            _unknown_run(stack, run) if kind == FILE_SYSTEM and status == RUN_NOT_FOUND else None,
        )
        (running if status == "RUNNING" else ended).append(item)
    return ended, running


def _unknown_run(stack: str, run: str) -> str:
    return (
        f"its run {run} is not in the history of stack {stack}: it may be in use (a run whose history Step Functions "
        "no longer keeps, or one of another deployment sharing this stack's id); sweep deletes it only with --force"
    )


def _file_systems(stack_id: str, fsx: Any) -> list[tuple[str, str, str, str, str]]:
    found = []
    for page in fsx.get_paginator("describe_file_systems").paginate():
        for fs in page.get("FileSystems", []):
            tags = _tags(fs.get("Tags"))
            lifecycle = fs.get("Lifecycle") or "?"
            if tags.get(TAG_STACK_ID) == stack_id and TAG_RUN in tags and lifecycle not in GONE_LIFECYCLES:
                found.append(
                    (FILE_SYSTEM, fs["FileSystemId"], tags.get("Name", fs["FileSystemId"]), tags[TAG_RUN], lifecycle)
                )
    return found


def _launch_templates(stack_id: str, ec2: Any) -> list[tuple[str, str, str, str, str]]:
    found = []
    pages = ec2.get_paginator("describe_launch_templates").paginate(
        Filters=[{"Name": f"tag:{TAG_STACK_ID}", "Values": [stack_id]}]
    )
    for page in pages:
        for template in page.get("LaunchTemplates", []):
            tags = _tags(template.get("Tags"))
            if tags.get(TAG_STACK_ID) == stack_id and TAG_RUN in tags:  # the baseline template has no run tag
                found.append(
                    (LAUNCH_TEMPLATE, template["LaunchTemplateId"], template["LaunchTemplateName"], tags[TAG_RUN], "")
                )
    return found


def _job_definitions(stack_id: str, batch: Any) -> list[tuple[str, str, str, str, str]]:
    found = []
    for page in batch.get_paginator("describe_job_definitions").paginate(status="ACTIVE"):
        for definition in page.get("jobDefinitions", []):
            tags = definition.get("tags") or {}
            if tags.get(TAG_STACK_ID) == stack_id and TAG_RUN in tags:
                found.append(
                    (
                        JOB_DEFINITION,
                        definition["jobDefinitionArn"],
                        f"{definition['jobDefinitionName']}:{definition['revision']}",
                        tags[TAG_RUN],
                        "",
                    )
                )
    return found


def _compute_environments(stack_outputs: Mapping[str, Any]) -> list[str]:
    """Every lane's compute environment (output ``lanes``; a stack deployed before lanes: ``computeEnvironment``)."""
    lanes = stack_outputs.get(OUTPUT_LANES)
    names = (
        [lane.get("computeEnvironment") for lane in lanes if isinstance(lane, Mapping)]
        if isinstance(lanes, list)
        else []
    )
    names = names or [stack_outputs.get(OUTPUT_COMPUTE_ENVIRONMENT)]
    return [name for name in names if isinstance(name, str) and name]


def _launch_templates_in_use(compute_environments: list[str], batch: Any) -> dict[str, str]:
    """Launch template id -> why it is in use (a lane's compute environment still points at it)."""
    if not compute_environments:
        return {}
    described = batch.describe_compute_environments(computeEnvironments=compute_environments)
    in_use = {}
    for env in described.get("computeEnvironments", []):
        template = (env.get("computeResources") or {}).get("launchTemplate") or {}
        if template.get("launchTemplateId"):
            in_use[template["launchTemplateId"]] = (
                f"compute environment {env['computeEnvironmentName']} still uses it: point the environment back "
                "at the stack's baseline launch template first"
            )
    return in_use


@operation
def to_delete(ended: list[Leftover], *, force: bool = False) -> list[Leftover]:
    """What a sweep deletes of ``ended``: what is not in use, and (unless ``force``) not deleted only with force."""
    return [item for item in ended if not item.in_use and (force or not item.needs_force)]


@operation
def delete_leftover(item: Leftover, clients: LeftoverClients) -> None:
    """Delete one leftover (a file system's deletion only starts: it is DELETING when this returns)."""
    if item.kind == FILE_SYSTEM:
        clients.fsx.delete_file_system(FileSystemId=item.resource_id)
    elif item.kind == LAUNCH_TEMPLATE:
        clients.ec2.delete_launch_template(LaunchTemplateId=item.resource_id)
    elif item.kind == JOB_DEFINITION:
        clients.batch.deregister_job_definition(jobDefinition=item.resource_id)
    else:
        raise AutomationError(
            f"kind={item.kind!r} is not accepted: accepted {FILE_SYSTEM}, {LAUNCH_TEMPLATE}, {JOB_DEFINITION}"
        )

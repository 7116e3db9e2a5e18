"""FindRunResources Lambda: what a run that ended without its own cleanup left behind; undo the quick parts.

Contract (docs/workflow-v2.md, "Run cleanup after an abnormal end"):

- event ``{"executionName", "executionArn", "cleanupExecutionArn", "stack", "stackId", "mode", "namePrefix",
  "laneTable"}`` (every value a string; ``cleanupExecutionArn``: the run-cleanup execution calling it) and
  ``"lanes"``: the stack's lanes, each ``{"index", "computeEnvironmentArn", "jobQueueArn",
  "baselineLaunchTemplateId", "baselineLaunchTemplateVersion"}`` (asl/lane.py ``lane_list``);
- returns ``{"fileSystem": {"FileSystemId", "ResourceARN", "Lifecycle", "AssociationId", "Kept"} | None,
  "jobsRan": bool, "jobsUnfinished": [job ids], "lane": the index of the lane the run cleanup now holds for the
  run in the lane table | None, "actions": [one line each], "errors": [one line each]}``.

What it does, in order (each step goes on after the previous one failed; a failure is one line in ``errors``):

0. the lane the run still holds (the lane table's item whose owner is the run; Scan, ConsistentRead) is taken
   for the run cleanup itself (UpdateItem conditioned on that owner: ``owner`` becomes ``cleanupExecutionArn``),
   before anything of the lane is touched: a run in line takes over a lane whose owner ended only some minutes
   after it stopped (asl/lane_queue.py ``TAKEOVER_GRACE_SECONDS``), and never one a RUNNING run cleanup holds.
   A lane already taken over (this run cleanup came too late) stays with its new owner.
1. the run's file system: tagged ``batch-lustre:run`` = the execution name and ``batch-lustre:stack-id`` = the
   stack's id (DescribeFileSystems has no tag filter: every page is read), its lifecycle, its data repository
   association, and whether it carries ``batch-lustre:kept`` (the run kept it on purpose). Never deleted here:
   the run-cleanup state machine exports first.
2. the run's jobs (ListJobs on every lane's queue, JOB_NAME = ``<namePrefix>-<executionName>``): whether any of
   them ran (a container reached RUNNING, in any attempt; so something may have been written), and TerminateJob
   for those not ended (for an array job, the parent and its STARTING/RUNNING children).
3. the compute environments, once none of the run's jobs is left unfinished (else put off, one line in
   ``errors``: the run cleanup calls again minutes later): every lane's is described (one call), and each one
   still on the run's launch template is put back on its baseline. Neither the run's tags nor the lane table are
   needed for that (a run may end before it wrote either), and a lane another run has taken over since is on that run's template, so
   it is left alone.
4. the run's launch template (unless a compute environment still uses it) and ACTIVE job definitions.
5. the lane the run cleanup holds for the run (step 0; a second call finds it under its own ARN): returned, for
   the state machine to release it with a write conditioned on the run cleanup as owner.

Idempotent: a second call finds nothing left to do and reports no action. Quick work only: a few API calls
per resource, nothing waited for (the state machine does the waiting).
A bad event is a deployment bug: it raises. boto3 and the standard library only; Python 3.11 and 3.12.
"""

# No ``from __future__ import annotations``: dataclasses then look their module up in sys.modules, which a
# handler loaded from a file (the emulation's Lambda runner) is not in. The annotations below run on 3.11+.
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Tags of per-run resources (asl/naming.py; this file is shipped alone, so they are spelt here too).
TAG_STACK_ID = "batch-lustre:stack-id"
TAG_RUN = "batch-lustre:run"
TAG_KEPT = "batch-lustre:kept"

TERMINATE_REASON = "batch-lustre run-cleanup: the run ended without its cleanup"
JOB_ENDED = frozenset({"SUCCEEDED", "FAILED"})
JOB_STARTED = frozenset({"STARTING", "RUNNING", "SUCCEEDED"})  # a container was (being) started
FILE_SYSTEM_GONE = frozenset({"DELETING"})
# An array parent is only ever SUBMITTED, PENDING, FAILED or SUCCEEDED (Batch guide, "Array jobs"):
# whether a child ran is read from its statusSummary. FAILED children are counted as having run,
# since a child that ran and then failed cannot be told from one cancelled before it started.
ARRAY_CHILD_MAY_HAVE_RUN = ("STARTING", "RUNNING", "SUCCEEDED", "FAILED")
ARRAY_CHILD_TO_TERMINATE = ("STARTING", "RUNNING")  # cancelling the parent leaves these running
DESCRIBE_JOBS_MAX = 100  # DescribeJobs takes at most 100 job ids
LAUNCH_TEMPLATE_NOT_FOUND = (
    "InvalidLaunchTemplateName.NotFoundException",
    "InvalidLaunchTemplateId.NotFound",
    "InvalidLaunchTemplateName.NotFound",
    "InvalidLaunchTemplateId.NotFoundException",
)

EVENT_KEYS = (
    "executionName",
    "executionArn",
    "cleanupExecutionArn",
    "stack",
    "stackId",
    "mode",
    "namePrefix",
    "laneTable",
)
LANE_KEYS = ("computeEnvironmentArn", "jobQueueArn", "baselineLaunchTemplateId", "baselineLaunchTemplateVersion")
DESCRIBE_COMPUTE_ENVIRONMENTS_MAX = 100  # DescribeComputeEnvironments takes at most 100 names or ARNs

# Throttling is retried by the SDK, longer than its default.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})


class ConfigurationError(RuntimeError):
    """The event is not what the run-cleanup state machine sends: a deployment bug."""


@dataclass(frozen=True)
class Lane:
    """One lane of the stack: its compute environment, job queue and baseline launch template."""

    index: int
    compute_environment_arn: str
    job_queue_arn: str
    baseline_launch_template_id: str
    baseline_launch_template_version: str


@dataclass(frozen=True)
class Run:
    """The run whose resources are looked for, and the stack's resources it may have changed."""

    execution_name: str
    execution_arn: str
    cleanup_execution_arn: str  # the run-cleanup execution that cleans up after the run
    stack: str
    stack_id: str  # the stack's generated id: what tells this stack's resources from another's
    mode: str
    name_prefix: str
    lane_table: str
    lanes: tuple[Lane, ...]

    @property
    def resource_name(self) -> str:
        """Name of the run's launch template, job definition and job (asl/compute_branch.py, asl/job.py, derived names)."""
        return f"{self.name_prefix}-{self.execution_name}"

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> "Run":
        if not isinstance(event, Mapping):
            raise ConfigurationError(f"event is a {type(event).__name__}: expected an object with {EVENT_KEYS}")
        problems = [key for key in EVENT_KEYS if not isinstance(event.get(key), str) or not event.get(key)]
        if problems:
            raise ConfigurationError(f"event keys {problems} are missing or not non-empty strings")
        lanes = event.get("lanes")
        if not isinstance(lanes, list) or not lanes:
            raise ConfigurationError(f"event key lanes is {lanes!r}: expected a non-empty list of lanes")
        return cls(
            execution_name=event["executionName"],
            execution_arn=event["executionArn"],
            cleanup_execution_arn=event["cleanupExecutionArn"],
            stack=event["stack"],
            stack_id=event["stackId"],
            mode=event["mode"],
            name_prefix=event["namePrefix"],
            lane_table=event["laneTable"],
            lanes=tuple(_lane(lane, i) for i, lane in enumerate(lanes)),
        )


def _lane(lane: Any, position: int) -> Lane:
    if not isinstance(lane, Mapping) or lane.get("index") != position:
        raise ConfigurationError(f"lanes[{position}] is {lane!r}: expected an object with index {position}")
    problems = [key for key in LANE_KEYS if not isinstance(lane.get(key), str) or not lane.get(key)]
    if problems:
        raise ConfigurationError(f"lanes[{position}] keys {problems} are missing or not non-empty strings")
    return Lane(position, *(lane[key] for key in LANE_KEYS))


@dataclass
class Report:
    """What was done and what went wrong, one line each."""

    actions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def did(self, line: str) -> None:
        self.actions.append(_one_line(line))

    def failed(self, what: str, err: Exception) -> None:
        self.errors.append(_one_line(f"{what}: {_describe(err)}"))

    def problem(self, line: str) -> None:
        self.errors.append(_one_line(line))


@dataclass
class Jobs:
    ran: bool
    unfinished: list[str]


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Look the run's resources up and undo the quick parts (see the module docstring)."""
    run = Run.from_event(event)
    return clean_up_run(
        run,
        fsx=boto3.client("fsx", config=_CLIENT_CONFIG),
        batch=boto3.client("batch", config=_CLIENT_CONFIG),
        ec2=boto3.client("ec2", config=_CLIENT_CONFIG),
        dynamodb=boto3.client("dynamodb", config=_CLIENT_CONFIG),
    )


def clean_up_run(run: Run, *, fsx: Any, batch: Any, ec2: Any, dynamodb: Any) -> dict[str, Any]:
    """The handler's work, on the given clients."""
    report = Report()
    lane = take_run_lane(dynamodb, run, report)
    file_system = find_file_system(fsx, run, report)
    jobs = stop_jobs(batch, run, report)
    template = find_launch_template(ec2, run, report)
    if jobs.unfinished:
        # A job asked to terminate still runs on hosts of the run's launch template: the lane's compute stays as it
        # is until the job has ended, and is put back by the next call (the run cleanup calls again).
        report.problem(
            f"the compute environment is put back on its baseline only once job(s) {', '.join(jobs.unfinished)}, "
            "asked to terminate, have ended"
        )
    else:
        still_using = restore_compute_environments(batch, run, template, report)
        if template is not None and still_using:
            report.problem(
                f"launch template {template['LaunchTemplateId']} ({run.resource_name}) was not deleted: "
                f"compute environment {', '.join(still_using)} still uses it"
            )
        elif template is not None:
            delete_launch_template(ec2, template, report)
    deregister_job_definitions(batch, run, report)
    return {
        "fileSystem": file_system,
        "jobsRan": jobs.ran,
        "jobsUnfinished": jobs.unfinished,
        "lane": lane,
        "actions": report.actions,
        "errors": report.errors,
    }


# --- file system ---------------------------------------------------------------------------------


def find_file_system(fsx: Any, run: Run, report: Report) -> dict[str, Any] | None:
    """The run's file system (tagged with the run and the stack), or None."""
    try:
        found = [
            fs
            for page in fsx.get_paginator("describe_file_systems").paginate()
            for fs in page.get("FileSystems", [])
            if _belongs_to(tags_of(fs), run)
        ]
    except (ClientError, BotoCoreError) as err:
        report.failed("DescribeFileSystems", err)
        return None
    if not found:
        return None
    # The one to act on first: neither being deleted nor kept; then the newest.
    found.sort(
        key=lambda fs: (
            _lifecycle(fs) in FILE_SYSTEM_GONE,
            TAG_KEPT in tags_of(fs),
            -_timestamp(fs.get("CreationTime")),
        )
    )
    chosen, others = found[0], found[1:]
    for other in others:
        if _lifecycle(other) not in FILE_SYSTEM_GONE and TAG_KEPT not in tags_of(other):
            report.problem(
                f"file system {other['FileSystemId']} ({_lifecycle(other)}) is also tagged "
                f"{TAG_RUN}={run.execution_name}: not handled, clean it up by hand"
            )
    file_system_id, lifecycle = chosen["FileSystemId"], _lifecycle(chosen)
    kept = tags_of(chosen).get(TAG_KEPT)
    result: dict[str, Any] = {
        "FileSystemId": file_system_id,
        "ResourceARN": chosen.get("ResourceARN", ""),
        "Lifecycle": lifecycle,
        "AssociationId": None,
        "Kept": kept is not None,
    }
    if kept is not None:
        report.did(f"file system {file_system_id} is kept ({TAG_KEPT}={kept}): left as it is")
    elif lifecycle in FILE_SYSTEM_GONE:
        report.did(f"file system {file_system_id} is already {lifecycle}")
    else:
        result["AssociationId"] = find_association(fsx, file_system_id, report)
    return result


def find_association(fsx: Any, file_system_id: str, report: Report) -> str | None:
    """The file system's data repository association the run's results go through (an AVAILABLE one first), or
    None. Of a run with two (a prefix layout, README "Your data": its inputs', its results'), the one with auto
    export events first (the export section turns its auto export off before an export task), else the one that
    imported nothing on creation: the inputs' never exports, the results' starts empty."""
    try:
        associations = list(
            _pages(
                fsx.describe_data_repository_associations,
                "Associations",
                Filters=[{"Name": "file-system-id", "Values": [file_system_id]}],
            )
        )
    except (ClientError, BotoCoreError) as err:
        report.failed(f"DescribeDataRepositoryAssociations of {file_system_id}", err)
        return None
    usable = [a for a in associations if a.get("Lifecycle") != "DELETING"]
    usable.sort(
        key=lambda a: (
            not (((a.get("S3") or {}).get("AutoExportPolicy") or {}).get("Events")),
            bool(a.get("BatchImportMetaDataOnCreate")),
            a.get("Lifecycle") != "AVAILABLE",
        )
    )
    return usable[0]["AssociationId"] if usable else None


# --- jobs ----------------------------------------------------------------------------------------


def stop_jobs(batch: Any, run: Run, report: Report) -> Jobs:
    """Whether the run's job ran, and TerminateJob for those not ended (their ids are returned). The job is in its
    lane's queue: every lane's is looked at."""
    summaries = []
    for lane in run.lanes:
        try:
            summaries += [
                job
                for page in batch.get_paginator("list_jobs").paginate(
                    jobQueue=lane.job_queue_arn, filters=[{"name": "JOB_NAME", "values": [run.resource_name]}]
                )
                for job in page.get("jobSummaryList", [])
                # The JOB_NAME filter is case-insensitive: only this run's exact name.
                if job.get("jobName") == run.resource_name
            ]
        except (ClientError, BotoCoreError) as err:
            report.failed(f"ListJobs {run.resource_name} on {lane.job_queue_arn}", err)
            return Jobs(ran=True, unfinished=[])  # unknown: assume it ran, so its data is exported first
    described = describe_jobs(batch, [job["jobId"] for job in summaries], report)
    ran = False
    unfinished: list[str] = []
    for summary in summaries:
        job_id = summary["jobId"]
        job = described.get(job_id)
        ran = ran or job is None or job_ran(job)
        status = (job or summary).get("status", "")
        if status in JOB_ENDED:
            continue
        unfinished.append(job_id)
        try:
            batch.terminate_job(jobId=job_id, reason=TERMINATE_REASON)
            report.did(f"job {job_id} ({run.resource_name}, {status}) asked to terminate")
        except (ClientError, BotoCoreError) as err:
            report.failed(f"TerminateJob {job_id}", err)
        if job is not None and job.get("arrayProperties", {}).get("size"):
            terminate_started_children(batch, job, report)
    return Jobs(ran=ran, unfinished=unfinished)


def describe_jobs(batch: Any, job_ids: list[str], report: Report) -> dict[str, dict[str, Any]]:
    described: dict[str, dict[str, Any]] = {}
    for start in range(0, len(job_ids), DESCRIBE_JOBS_MAX):
        chunk = job_ids[start : start + DESCRIBE_JOBS_MAX]
        try:
            described.update({job["jobId"]: job for job in batch.describe_jobs(jobs=chunk).get("jobs", [])})
        except (ClientError, BotoCoreError) as err:
            report.failed(f"DescribeJobs {chunk}", err)
    return described


def job_ran(job: Mapping[str, Any]) -> bool:
    """Whether a container of ``job`` may have run: so something may have been written to the file system.

    A job waiting for its next attempt is RUNNABLE again, but its earlier attempts ran: they are in
    ``attempts`` (each listed once it ended, with ``startedAt`` if its container started).
    """
    summary = job.get("arrayProperties", {}).get("statusSummary")
    if job.get("arrayProperties", {}).get("size"):
        return summary is None or any(summary.get(status, 0) for status in ARRAY_CHILD_MAY_HAVE_RUN)
    return (
        job.get("status") in JOB_STARTED
        or job.get("startedAt") is not None
        or any(attempt.get("startedAt") is not None for attempt in job.get("attempts", []))
    )


def terminate_started_children(batch: Any, parent: Mapping[str, Any], report: Report) -> None:
    for status in ARRAY_CHILD_TO_TERMINATE:
        try:
            children = [
                job
                for page in batch.get_paginator("list_jobs").paginate(arrayJobId=parent["jobId"], jobStatus=status)
                for job in page.get("jobSummaryList", [])
            ]
        except (ClientError, BotoCoreError) as err:
            report.failed(f"ListJobs children of {parent['jobId']} in {status}", err)
            continue
        for child in children:
            try:
                batch.terminate_job(jobId=child["jobId"], reason=TERMINATE_REASON)
                report.did(f"array child {child['jobId']} ({status}) asked to terminate")
            except (ClientError, BotoCoreError) as err:
                report.failed(f"TerminateJob {child['jobId']}", err)


# --- compute environment, launch template, job definitions ---------------------------------------


def find_launch_template(ec2: Any, run: Run, report: Report) -> dict[str, Any] | None:
    """The run's launch template (its name, tagged with this stack), or None."""
    try:
        templates = ec2.describe_launch_templates(LaunchTemplateNames=[run.resource_name]).get("LaunchTemplates", [])
    except ClientError as err:
        if _code(err) in LAUNCH_TEMPLATE_NOT_FOUND:
            return None
        report.failed(f"DescribeLaunchTemplates {run.resource_name}", err)
        return None
    except BotoCoreError as err:
        report.failed(f"DescribeLaunchTemplates {run.resource_name}", err)
        return None
    # Another stack's template cannot have this name (the prefix holds the stack id); the id tag is checked too.
    ours = [t for t in templates if tags_of(t).get(TAG_STACK_ID) == run.stack_id]
    return ours[0] if ours else None


def restore_compute_environments(batch: Any, run: Run, template: Mapping[str, Any] | None, report: Report) -> list[str]:
    """Put each lane's compute environment that is on the run's launch template back on its baseline.

    Not waited for while it is UPDATING (whether Batch then refuses an update is not documented): a refusal is
    an error line, and the run-cleanup state machine calls this Lambda once more a few minutes later.
    Returns the compute environments that (still, or as far as is known) use the run's launch template.
    """
    environments = _describe_compute_environments(batch, run, report)
    if environments is None:
        return [lane.compute_environment_arn for lane in run.lanes]  # unknown: the launch template is not deleted
    still_using = []
    for lane in run.lanes:
        environment = environments.get(lane.compute_environment_arn)
        if environment is None:  # unknown: the launch template is not deleted
            report.problem(f"compute environment {lane.compute_environment_arn} was not found")
            still_using.append(lane.compute_environment_arn)
            continue
        current = (environment.get("computeResources") or {}).get("launchTemplate") or {}
        if _is_run_template(current, run, template) and not _restore(batch, lane, current, report):
            still_using.append(lane.compute_environment_arn)
    return still_using


def _restore(batch: Any, lane: Lane, current: Mapping[str, Any], report: Report) -> bool:
    """UpdateComputeEnvironment of ``lane``'s back to its baseline; whether it was asked."""
    baseline = {"launchTemplateId": lane.baseline_launch_template_id, "version": lane.baseline_launch_template_version}
    try:
        batch.update_compute_environment(
            computeEnvironment=lane.compute_environment_arn, computeResources={"launchTemplate": baseline}
        )
    except (ClientError, BotoCoreError) as err:
        report.failed(
            f"UpdateComputeEnvironment {lane.compute_environment_arn} back to "
            f"{lane.baseline_launch_template_id} version {lane.baseline_launch_template_version}",
            err,
        )
        return False
    report.did(
        f"compute environment {lane.compute_environment_arn} (lane {lane.index}) put back on launch template "
        f"{lane.baseline_launch_template_id} version {lane.baseline_launch_template_version} "
        f"(was on the run's {current.get('launchTemplateId') or current.get('launchTemplateName')})"
    )
    return True


def _describe_compute_environments(batch: Any, run: Run, report: Report) -> dict[str, dict[str, Any]] | None:
    """Every lane's compute environment by ARN (None: not known)."""
    arns = [lane.compute_environment_arn for lane in run.lanes]
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(arns), DESCRIBE_COMPUTE_ENVIRONMENTS_MAX):
        chunk = arns[start : start + DESCRIBE_COMPUTE_ENVIRONMENTS_MAX]
        try:
            environments = batch.describe_compute_environments(computeEnvironments=chunk).get("computeEnvironments", [])
        except (ClientError, BotoCoreError) as err:
            report.failed(f"DescribeComputeEnvironments {', '.join(chunk)}", err)
            return None
        found.update({env["computeEnvironmentArn"]: dict(env) for env in environments})
    return found


def _is_run_template(current: Mapping[str, Any], run: Run, template: Mapping[str, Any] | None) -> bool:
    if current.get("launchTemplateName") == run.resource_name:
        return True
    return template is not None and current.get("launchTemplateId") == template["LaunchTemplateId"]


def delete_launch_template(ec2: Any, template: Mapping[str, Any], report: Report) -> None:
    template_id = template["LaunchTemplateId"]
    try:
        ec2.delete_launch_template(LaunchTemplateId=template_id)
    except ClientError as err:
        if _code(err) not in LAUNCH_TEMPLATE_NOT_FOUND:
            report.failed(f"DeleteLaunchTemplate {template_id}", err)
        return
    except BotoCoreError as err:
        report.failed(f"DeleteLaunchTemplate {template_id}", err)
        return
    report.did(f"launch template {template_id} ({template.get('LaunchTemplateName')}) deleted")


def deregister_job_definitions(batch: Any, run: Run, report: Report) -> None:
    """Deregister the ACTIVE revisions of the run's job definition (tagged with this stack)."""
    try:
        definitions = [
            d
            for page in batch.get_paginator("describe_job_definitions").paginate(
                jobDefinitionName=run.resource_name, status="ACTIVE"
            )
            for d in page.get("jobDefinitions", [])
        ]
    except (ClientError, BotoCoreError) as err:
        report.failed(f"DescribeJobDefinitions {run.resource_name}", err)
        return
    for definition in definitions:
        if definition.get("status") != "ACTIVE" or (definition.get("tags") or {}).get(TAG_STACK_ID) != run.stack_id:
            continue
        arn = definition["jobDefinitionArn"]
        try:
            batch.deregister_job_definition(jobDefinition=arn)
        except (ClientError, BotoCoreError) as err:
            report.failed(f"DeregisterJobDefinition {arn}", err)
            continue
        report.did(f"job definition {arn} deregistered")


# --- lane ----------------------------------------------------------------------------------------


def take_run_lane(dynamodb: Any, run: Run, report: Report) -> int | None:
    """Take the lane the run still holds for the run cleanup (step 0 of the module docstring); the lane it holds
    now, or None (the run held none, or another run took it over first, or the table could not be read)."""
    held = _lanes_of(dynamodb, run, (run.execution_arn, run.cleanup_execution_arn), report)
    if held is None:
        return None
    ours = sorted(lane for lane, owner in held if owner == run.cleanup_execution_arn)
    for lane in sorted(lane for lane, owner in held if owner == run.execution_arn):
        try:
            dynamodb.update_item(
                TableName=run.lane_table,
                Key={"lane": {"N": str(lane)}},
                UpdateExpression="SET #owner = :cleanup, #since = :now",
                ConditionExpression="#owner = :run",
                ExpressionAttributeNames={"#owner": "owner", "#since": "since"},
                ExpressionAttributeValues={
                    ":cleanup": {"S": run.cleanup_execution_arn},
                    ":run": {"S": run.execution_arn},
                    ":now": {"S": datetime.fromtimestamp(time.time(), UTC).isoformat()},
                },
            )
        except (ClientError, BotoCoreError) as err:
            if isinstance(err, ClientError) and _code(err) == "ConditionalCheckFailedException":
                report.did(f"lane {lane} was taken over by another run meanwhile: its compute is left to it")
            else:
                report.failed(f"UpdateItem lane {lane} of {run.lane_table}", err)
            continue
        report.did(f"lane {lane}, still held by the run, is held by the run cleanup until it is put back")
        ours.append(lane)
    return min(ours) if ours else None


def _lanes_of(dynamodb: Any, run: Run, owners: Iterable[str], report: Report) -> list[tuple[int, str]] | None:
    """(lane, owner) of the lane table's items owned by one of ``owners`` (a consistent read); None: unknown."""
    values = {f":o{i}": {"S": owner} for i, owner in enumerate(owners)}
    request: dict[str, Any] = {
        "TableName": run.lane_table,
        "ConsistentRead": True,
        "FilterExpression": f"#owner IN ({', '.join(values)})",
        "ExpressionAttributeNames": {"#owner": "owner"},
        "ExpressionAttributeValues": values,
    }
    held: list[tuple[int, str]] = []
    try:
        while True:
            page = dynamodb.scan(**request)
            held += [(int(item["lane"]["N"]), item["owner"]["S"]) for item in page.get("Items", [])]
            if not page.get("LastEvaluatedKey"):
                return held
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    except (ClientError, BotoCoreError) as err:
        report.failed(f"Scan {run.lane_table}", err)
        return None


# --- helpers -------------------------------------------------------------------------------------


def tags_of(resource: Mapping[str, Any]) -> dict[str, str]:
    """``Tags`` (a Key/Value list, as FSx and EC2 return them) as a dict."""
    tags: Iterable[Mapping[str, str]] = resource.get("Tags") or []
    return {tag["Key"]: tag.get("Value", "") for tag in tags}


def _pages(call: Callable[..., Mapping[str, Any]], key: str, **kwargs: Any) -> Iterator[Any]:
    """Every item under ``key`` of every page of ``call`` (NextToken paging: for calls boto3 has no paginator for)."""
    while True:
        page = call(**kwargs)
        yield from page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return
        kwargs["NextToken"] = token


def _belongs_to(tags: Mapping[str, str], run: Run) -> bool:
    return tags.get(TAG_RUN) == run.execution_name and tags.get(TAG_STACK_ID) == run.stack_id


def _lifecycle(file_system: Mapping[str, Any]) -> str:
    return str(file_system.get("Lifecycle") or "UNKNOWN")


def _timestamp(value: Any) -> float:
    if value is None:
        return 0.0
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _describe(err: Exception) -> str:
    if isinstance(err, ClientError):
        return f"{_code(err) or 'ClientError'}: {err.response.get('Error', {}).get('Message', '')}"
    return f"{type(err).__name__}: {err}"


def _one_line(text: str, limit: int = 500) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."

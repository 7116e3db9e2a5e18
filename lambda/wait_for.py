"""WaitFor: one waiting loop of the workflow, polled inside one invocation.

The state machine used to wait with Wait -> Check -> Choice -> Count states, four state transitions per check.
This function makes the same checks with the same waits (the loop's backoff schedule, ``derived.waits.<loop>``)
while it has time left, and returns the last description:

- ``Outcome: "done"``: the resource reached a state the loop stops on (awaited or failed; the state machine's
  Choice tells which from the description);
- ``Outcome: "waiting"``: the next wait does not fit in this invocation (the function's timeout, with a margin):
  the state machine waits ``wait`` seconds (a Wait state) and invokes again, ``waited`` true: that invocation
  checks at once;
- ``Outcome: "over"``: every wait of the schedule was used: the loop's time bound is reached.

The record returned (``count`` checks made so far, ``wait``, ``waited``, ``Outcome``, ``Last``: the descriptions,
``Seen``: the statuses each check went through)
is the next invocation's record (``polls.<record>``); loops that share a schedule (the file system and its association) pass it on, so
their checks count against one bound. Only the first invocation of a loop can return without a check, so a loop
makes at most ``len(waits) + 1`` invocations (asl/history.py).

Errors (lambda/aws_calls.py, packaged with this module): a check whose call fails with a transient error
(throttling, 5xx, a timeout or a connection error, after boto3's own retries) is "not known yet": the record's
``Transient`` counts it (``count``, and ``last`` in one line) and the loop keeps its schedule, so a burst of them
costs checks, never the run; a loop whose bound is reached after only transient errors ends "over", as any loop
that reached its bound. Any other error ends the loop at once with a named error (``aws_calls.AccessDenied``,
``ResourceGone``, ``RequestRefused``): asking again cannot heal it.

The ``lane`` check waits in line for a lane of the stack (docs/design.md, "The run queue"): it reads the lane
table (Scan, ConsistentRead), the state machine's RUNNING executions (ListExecutions) and the status of each lane's
owner the list does not show (DescribeExecution: ListExecutions is eventually consistent), and applies the queue's
rule (lane_queue.py, packaged with this module): done when the run may take a lane.

Every call is a read (describe, list, scan; boto3 only): plain standard-library Python otherwise, for Lambda's
Python 3.12 and the emulation's 3.11.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aws_calls  # packaged with this function (asl/naming.py LAMBDA_FILES): clients and error classes
import lane_queue  # packaged with this function: the run queue's rule (asl/lane_queue.py)

# Left unused before the function's timeout: one more check and the return, with room (one describe call takes
# at most aws_calls.WORST_CALL_SECONDS, all boto3's attempts included).
MARGIN_SECONDS = 60

STARTED_STATUSES = ("STARTING", "RUNNING", "SUCCEEDED", "FAILED")


_clients: dict[str, Any] = {}


def _client(service: str) -> Any:
    if service not in _clients:
        _clients[service] = aws_calls.client(service)
    return _clients[service]


def _first(items: list[Any], what: str) -> Any:
    """The one item a describe call by id returns; ``ResourceGone`` when it returns none."""
    if not items:
        raise aws_calls.ResourceGone(f"{what} is not found")
    return items[0]


def _file_system(event: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    found = _client("fsx").describe_file_systems(FileSystemIds=[event["fileSystemId"]])["FileSystems"]
    fs = _first(found, f"file system {event['fileSystemId']}")
    lifecycle = fs["Lifecycle"]
    return lifecycle in ("AVAILABLE", "FAILED", "MISCONFIGURED"), {"Lifecycle": lifecycle}


def _association(event: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """The run's association (``associationId``) or associations (``associationIds``: AVAILABLE when all are,
    FAILED when one is, else the first one still on its way)."""
    # MISCONFIGURED may recover within 15 minutes (FSx Lustre Guide, DRA lifecycle): keep waiting, bounded.
    ids = list(event.get("associationIds") or [event["associationId"]])
    found = _client("fsx").describe_data_repository_associations(AssociationIds=ids)["Associations"]
    if len(found) < len(ids):
        missing = sorted(set(ids) - {dra["AssociationId"] for dra in found})
        raise aws_calls.ResourceGone(f"data repository association {', '.join(missing) or ids[0]} is not found")
    lifecycles = [dra["Lifecycle"] for dra in found]
    if "FAILED" in lifecycles:
        lifecycle = "FAILED"
    else:
        lifecycle = next((state for state in lifecycles if state != "AVAILABLE"), "AVAILABLE")
    return lifecycle in ("AVAILABLE", "FAILED"), {"AssociationLifecycle": lifecycle}


def _describe_compute_environment(event: dict[str, Any]) -> dict[str, Any]:
    env = _client("batch").describe_compute_environments(computeEnvironments=[event["computeEnvironment"]])
    found = _first(env["computeEnvironments"], f"compute environment {event['computeEnvironment']}")
    template = ((found.get("computeResources") or {}).get("launchTemplate") or {}).get("launchTemplateId", "")
    return {
        "status": found.get("status", ""),
        "statusReason": found.get("statusReason", ""),
        "state": found.get("state", ""),
        "launchTemplateId": template,
    }


def _compute_environment(event: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """VALID on the run's launch template (ready), or INVALID."""
    environment = _describe_compute_environment(event)
    status = environment["status"]
    ready = status == "VALID" and environment["launchTemplateId"] == event["launchTemplateId"]
    return ready or status == "INVALID", {"Status": status, "Ready": ready, "Environment": environment}


# A compute environment in one of these is changing: an update now may be refused or collide with the change
# (whether Batch refuses an update while UPDATING is not documented: docs/aws-rules.md).
CHANGING = ("CREATING", "UPDATING", "DELETING")


def _compute_environment_idle(event: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """Not changing (e.g. the previous run's restore has ended), before the run switches it to its template."""
    environment = _describe_compute_environment(event)
    status = environment["status"]
    return status not in CHANGING, {"Status": status, "Ready": False, "Environment": environment}


def _job_started(event: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    batch = _client("batch")
    listed = batch.list_jobs(jobQueue=event["jobQueue"], filters=[{"name": "JOB_NAME", "values": [event["jobName"]]}])[
        "jobSummaryList"
    ]
    if not listed:
        return False, {"Listed": False, "Started": False, "JobIds": [], "Status": ""}
    job_ids = [j["jobId"] for j in listed]
    job = _first(batch.describe_jobs(jobs=[job_ids[0]])["jobs"], f"job {job_ids[0]}")
    summary = (job.get("arrayProperties") or {}).get("statusSummary") or {}
    started = job["status"] in STARTED_STATUSES or any(summary.get(s, 0) > 0 for s in STARTED_STATUSES)
    return started, {"Listed": True, "Started": started, "JobIds": job_ids, "Status": job["status"]}


def _export_task(event: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    tasks = _client("fsx").describe_data_repository_tasks(TaskIds=[event["taskId"]])["DataRepositoryTasks"]
    task = _first(tasks, f"data repository task {event['taskId']}")
    lifecycle = task["Lifecycle"]
    out: dict[str, Any] = {"Lifecycle": lifecycle, "Type": task.get("Type", "")}
    failed = (task.get("Status") or {}).get("FailedCount")
    if failed is not None:
        out["FailedCount"] = failed
    return lifecycle in ("SUCCEEDED", "FAILED", "CANCELED"), out


IMPORT_TASK_TYPE = "IMPORT_METADATA_FROM_REPOSITORY"
TASK_ENDED = ("SUCCEEDED", "FAILED", "CANCELED")


def _import_task(event: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """The import task the association started (BatchImportMetaDataOnCreate): the first IMPORT task of the file
    system (DescribeDataRepositoryTasks filtered by file system; the type is not a filter name, FSx API)."""
    fsx = _client("fsx")
    request: dict[str, Any] = {"Filters": [{"Name": "file-system-id", "Values": [event["fileSystemId"]]}]}
    imports: list[dict[str, Any]] = []
    while True:
        page = fsx.describe_data_repository_tasks(**request)
        imports += [t for t in page.get("DataRepositoryTasks") or [] if t.get("Type") == IMPORT_TASK_TYPE]
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    if not imports:  # not listed yet: keep waiting, within the loop's bound
        return False, {"ImportLifecycle": "NOT_LISTED", "ImportTaskId": "", "ImportFailure": ""}
    task = min(imports, key=lambda t: t["CreationTime"])
    lifecycle = task["Lifecycle"]
    failure = (task.get("FailureDetails") or {}).get("Message", "")
    out = {"ImportLifecycle": lifecycle, "ImportTaskId": task["TaskId"], "ImportFailure": failure or "no reason given"}
    return lifecycle in TASK_ENDED, out


def _lane_holders(table: str) -> list[lane_queue.Holder]:
    """Every item of the lane table, read consistently (a Scan is eventually consistent unless asked)."""
    request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    holders = []
    while True:
        page = _client("dynamodb").scan(**request)
        for item in page.get("Items") or []:
            since = (item.get("since") or {}).get("S", "")
            holders.append(lane_queue.Holder(int(item["lane"]["N"]), item["owner"]["S"], since))
        if not page.get("LastEvaluatedKey"):
            return holders
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _running(state_machine_arn: str) -> list[lane_queue.Execution]:
    """The state machine's RUNNING executions, every page."""
    request: dict[str, Any] = {"stateMachineArn": state_machine_arn, "statusFilter": "RUNNING"}
    running = []
    while True:
        page = _client("stepfunctions").list_executions(**request)
        running += [lane_queue.Execution(e["startDate"], e["executionArn"]) for e in page.get("executions") or []]
        if not page.get("nextToken"):
            return running
        request["nextToken"] = page["nextToken"]


def _has_ended(holder: lane_queue.Holder) -> bool:
    """Whether a lane's owner may be taken over (lane_queue.owner_has_ended: ended, past the take-over grace)."""
    try:
        found = _client("stepfunctions").describe_execution(executionArn=holder.owner)
    except aws_calls.AWS_ERRORS as err:
        if aws_calls.error_code(err) != "ExecutionDoesNotExist":
            raise
        found = None
    return lane_queue.owner_has_ended(found, holder.since, time.time())


def _name(execution_arn: str) -> str:
    return execution_arn.rsplit(":", 1)[-1]


def _owners_line(lanes: int, choice: lane_queue.Choice, holders: list[lane_queue.Holder], ended: set[str]) -> str:
    """Each lane's owner on one line (``lane 0: run-a since <time>; lane 1: free``), for operators and the Cause."""
    since = {holder.lane: holder.since for holder in holders}
    parts = []
    for lane in range(lanes):
        owner = choice.owners.get(lane)
        if owner is None:
            parts.append(f"lane {lane}: free")
        else:
            state = " (ended)" if owner in ended else ""
            parts.append(f"lane {lane}: {_name(owner)}{state} since {since.get(lane, '?')}")
    return "; ".join(parts)


def _lane(event: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """Ready when the run may take a lane (``Lane``: that lane's refs from ``lanes``, ``Ended``: the owner it
    takes over, or lane_queue.NO_OWNER); else waiting, with the runs ahead of it and the lanes' owners."""
    lanes = event["lanes"]
    me = lane_queue.Execution(datetime.fromisoformat(event["startTime"]), event["executionArn"])
    holders = _lane_holders(event["laneTable"])
    running = _running(event["stateMachineArn"])
    unlisted = set(lane_queue.owners_to_describe(running, holders))
    ended = {holder.owner for holder in holders if holder.owner in unlisted and _has_ended(holder)}
    choice = lane_queue.choose_lane(me, len(lanes), running, holders, ended)
    ready = choice.lane is not None
    return ready, {
        "Status": "READY" if ready else "WAITING",
        "Ready": ready,
        "Lane": lanes[choice.lane] if choice.lane is not None else {},
        "Ended": choice.ended,
        "Ahead": len(choice.ahead),
        "Owners": _owners_line(len(lanes), choice, holders, ended),
    }


# The status each check reports, remembered in the record's ``Seen`` (what the loop went through, e.g. an
# association MISCONFIGURED before it became AVAILABLE; the newest last, at most SEEN_LIMIT per check).
STATUS_KEYS = {
    "fileSystem": "Lifecycle",
    "association": "AssociationLifecycle",
    "associationUpdate": "AssociationLifecycle",
    "computeEnvironment": "Status",
    "computeEnvironmentIdle": "Status",
    "jobStarted": "Status",
    "exportTask": "Lifecycle",
    "importTask": "ImportLifecycle",
    "lane": "Status",
}
SEEN_LIMIT = 10

# What a check's description says before any check of the loop got an answer (only transient errors so far): the
# keys the state machine reads when the loop is over, so a loop that reached its bound after only transient errors
# ends "over" with a description its states can format.
NOT_KNOWN = "NOT_KNOWN"
UNKNOWN: dict[str, dict[str, Any]] = {
    "fileSystem": {"Lifecycle": NOT_KNOWN},
    "association": {"AssociationLifecycle": NOT_KNOWN},
    "associationUpdate": {"AssociationLifecycle": NOT_KNOWN},
    "computeEnvironment": {
        "Status": NOT_KNOWN,
        "Ready": False,
        "Environment": {"status": NOT_KNOWN, "statusReason": "", "state": "", "launchTemplateId": ""},
    },
    "computeEnvironmentIdle": {
        "Status": NOT_KNOWN,
        "Ready": False,
        "Environment": {"status": NOT_KNOWN, "statusReason": "", "state": "", "launchTemplateId": ""},
    },
    "jobStarted": {"Listed": False, "Started": False, "JobIds": [], "Status": NOT_KNOWN},
    "exportTask": {"Lifecycle": NOT_KNOWN, "Type": ""},
    "importTask": {"ImportLifecycle": NOT_KNOWN, "ImportTaskId": "", "ImportFailure": ""},
    "lane": {
        "Status": NOT_KNOWN,
        "Ready": False,
        "Lane": {},
        "Ended": lane_queue.NO_OWNER,
        "Ahead": 0,
        "Owners": "not known (no check answered)",
    },
}

CHECKS: dict[str, Callable[[dict[str, Any]], tuple[bool, dict[str, Any]]]] = {
    "fileSystem": _file_system,
    "association": _association,
    "associationUpdate": _association,
    "computeEnvironment": _compute_environment,
    "computeEnvironmentIdle": _compute_environment_idle,
    "jobStarted": _job_started,
    "exportTask": _export_task,
    "importTask": _import_task,
    "lane": _lane,
}
# Checks whose first invocation checks at once, before any wait: the import (it has usually ended by the time the
# association is AVAILABLE), the compute environment's idleness (it is usually idle already) and the lane (usually
# free): a wait first would only delay the job.
CHECK_AT_ONCE_AFTER_ANOTHER = ("importTask", "computeEnvironmentIdle", "lane")


Check = Callable[[dict[str, Any]], tuple[bool, dict[str, Any]]]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """``event``: check (a key of CHECKS), record (the loop's poll record, a key of ``polls``), polls (every
    record so far), waits (the schedule) and the ids the check needs."""
    name = event["check"]
    at_once = name in CHECK_AT_ONCE_AFTER_ANOTHER
    return wait(
        event, context, CHECKS[name], STATUS_KEYS[name], time.sleep, check_at_once=at_once, unknown=UNKNOWN[name]
    )


def wait(
    event: dict[str, Any],
    context: Any,
    check: Check,
    status_key: str,
    sleep: Callable[[float], None],
    *,
    check_at_once: bool = False,
    unknown: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Check, waiting the schedule's waits between checks (the first before the first check), until ``check``
    says done, the schedule is used up, or the next wait does not fit in this invocation; the loop's new record.

    ``check_at_once``: a loop's first invocation (or a check's first invocation on a record another check passed
    on) also checks before its first wait (a check that costs no time and is not counted against the schedule).
    Also CheckMetrics' loop (lambda/check_metrics.py, packaged with this module), with its own check and sleep.

    A check that fails with a transient error (``aws_calls.is_transient``) is counted in the record's
    ``Transient`` (``count``, ``last``) and the loop goes on; ``unknown``: the description ``Last`` holds while no
    check has answered yet. Any other error is raised as ``aws_calls``' named error for it."""
    waits = event["waits"]  # the whole schedule: read only the waits this invocation reaches
    record = (event.get("polls") or {}).get(event["record"]) or {}
    count = int(record.get("count", 0))
    waited = bool(record.get("waited", False))
    last = dict(record.get("Last") or {})
    seen = {name: list(statuses) for name, statuses in (record.get("Seen") or {}).items()}
    transient = {"count": 0, "last": "", **(record.get("Transient") or {})}

    def result(outcome: str, wait: int = 0, waited: bool = False) -> dict[str, Any]:
        return {
            "count": count,
            "wait": wait,
            "waited": waited,
            "Outcome": outcome,
            "Last": last,
            "Seen": seen,
            "Transient": transient,
        }

    def checked() -> bool:
        try:
            done, description = check(event)
        except aws_calls.AWS_ERRORS as err:
            if not aws_calls.is_transient(err):
                raise aws_calls.refusal(err, f"the {event['check']} check") from err
            transient["count"] = int(transient["count"]) + 1
            transient["last"] = aws_calls.one_line(err)
            for key, value in (unknown or {}).items():
                last.setdefault(key, value)
            return False
        last.update(description)
        statuses = seen.setdefault(event["check"], [])
        status = description.get(status_key)
        if status and (not statuses or statuses[-1] != status):
            statuses[:] = [*statuses, status][-SEEN_LIMIT:]
        return done

    first_of_check = not record or (event["check"] in CHECK_AT_ONCE_AFTER_ANOTHER and event["check"] not in seen)
    if check_at_once and first_of_check and checked():
        return result("done")
    while True:
        if count >= len(waits):
            return result("over")
        next_wait = int(waits[count])
        if not waited:
            if next_wait > context.get_remaining_time_in_millis() / 1000.0 - MARGIN_SECONDS:
                return result("waiting", next_wait, True)
            sleep(next_wait)
        waited = False
        count += 1
        if checked():
            return result("done")

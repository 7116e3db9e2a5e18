"""EventBridge delivery of "Step Functions Execution Status Change" events, on the emulated clock.

Step Functions sends an event to the account's default event bus when a STANDARD execution starts
(RUNNING) and when it ends (SUCCEEDED, FAILED, TIMED_OUT, ABORTED) (Step Functions developer guide,
"EventBridge (CloudWatch Events) for Step Functions execution status changes",
https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html; EventBridge events reference, "AWS
Step Functions events", https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-states.html).
Here each such event is matched, ``DELIVERY_LATENCY_SECONDS`` emulated seconds later, against the
ENABLED rules of moto's default event bus with moto's own pattern matching
(``moto.events.models.EventPattern.matches_event``). For every matching rule's target that is a state
machine, an execution of it starts with the event as input (or the target's Input / InputPath /
InputTransformer), and the delivery is recorded with the target's RoleArn (the role EventBridge uses
for states:StartExecution) in ``delivered``.

    with Emulation() as emu:
        ...                                   # a rule on FAILED/TIMED_OUT/ABORTED targeting a state machine
        emu.events.published                  # every status event put on the bus
        emu.events.delivered                  # Delivery(rule, target, role_arn, execution_arn, ...)
        emulation.events.delivered            # the same list, of the active emulation
        emu.events.start_hooks.append(check)  # check(delivery) before each start; raising refuses it

Deliveries are clock events: something must advance the clock for them to happen
(``emu.events.flush()`` does; ``emulation.runner.wait_for_executions`` calls it).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import threading
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, cast

from batch_lustre.emulation import moto_seam
from batch_lustre.emulation.active_emulation import active
from batch_lustre.emulation.clock import EmulatedClock
from batch_lustre.emulation.moto_seam import (
    BaseExecutionWorkerCommunication,
    EventMessageType,
    EventTemplateParser,
    Execution,
    events_backends,
    parse_arn,
    stepfunctions_parser_backends,
    to_json_str,
)
from batch_lustre.emulation.trust import can_assume

SOURCE = "aws.states"
DETAIL_TYPE = "Step Functions Execution Status Change"
ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
# EventBridge delivers events best effort, typically within seconds: Assumed 2 emulated seconds.
DELIVERY_LATENCY_SECONDS = 2.0
DEFAULT_BUS = "default"


@dataclass(frozen=True)
class Delivery:
    """One target of one matching rule that received a status event."""

    rule: str  # rule name
    target: str  # the target's Id
    role_arn: str | None  # the target's RoleArn: the role EventBridge calls states:StartExecution with
    execution_arn: str  # the execution it started ("" when it could not start one: see error)
    target_arn: str = ""
    rule_arn: str = ""
    at: float = 0.0  # emulated second of the delivery
    event: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    error: str | None = None  # why no execution started (unknown state machine, bad input)

    def __iter__(self) -> Any:  # (rule, target, role_arn, execution_arn), as a tuple
        return iter((self.rule, self.target, self.role_arn, self.execution_arn))


def _status(execution: Execution) -> str:
    status = execution.exec_status
    return str(getattr(status, "value", status) or "RUNNING")


def _ms(when: _dt.datetime | None) -> int | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    return int(round(when.timestamp() * 1000))


def _is_standard(execution: Execution) -> bool:
    sm_type = execution.sm_type
    return str(getattr(sm_type, "value", sm_type)) == "STANDARD"


class StatusEvents:
    """The status events of one emulation's executions and their delivery to EventBridge rules."""

    def __init__(
        self, clock: EmulatedClock, account_id: str, region: str, latency_seconds: float = DELIVERY_LATENCY_SECONDS
    ) -> None:
        self.clock = clock
        self.account_id = account_id
        self.region = region
        self.latency_seconds = latency_seconds
        self.published: list[dict[str, Any]] = []  # every event put on the default bus, in order
        self.delivered: list[Delivery] = []
        self._pending: list[float] = []  # emulated seconds of deliveries not yet made
        self._ended: set[str] = set()  # executions whose end event was published
        self._lock = threading.Lock()
        # Called with the Delivery about to start an execution (execution_arn ""): one that raises stops the
        # start, and the delivery is recorded with that error (e.g. the IAM check of states:StartExecution).
        self.start_hooks: list[Callable[[Delivery], None]] = []

    # --- publishing ------------------------------------------------------------------------------
    def event_for(self, execution: Execution, status: str) -> dict[str, Any]:
        """The event as Step Functions sends it: the detail holds what DescribeExecution says."""
        detail: dict[str, Any] = {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": status,
            "startDate": _ms(execution.start_date),
            "stopDate": _ms(execution.stop_date) if status != "RUNNING" else None,
            "input": to_json_str(execution.input_data, separators=(",", ":")),
            "inputDetails": {"included": True},
            "output": None,
            "outputDetails": None,
        }
        if status == "SUCCEEDED":
            detail["output"] = to_json_str(execution.output, separators=(",", ":"))
            detail["outputDetails"] = {"included": True}
        error, cause = _error_and_cause(execution)
        if status != "RUNNING" and error is not None:
            detail["error"] = error
        if status != "RUNNING" and cause is not None:
            detail["cause"] = cause
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": DETAIL_TYPE,
            "source": SOURCE,
            "account": self.account_id,
            "time": self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [execution.exec_arn],
            "detail": detail,
        }

    def publish(self, execution: Execution, status: str) -> dict[str, Any] | None:
        """Put the status event of ``execution`` on the bus; deliver it after the latency (clock event)."""
        if not _is_standard(execution):
            return None  # Express workflows do not emit status events
        event = self.event_for(execution, status)
        due = self.clock.seconds() + self.latency_seconds
        with self._lock:
            self.published.append(event)
            self._pending.append(due)
            if status in ENDED:
                self._ended.add(execution.exec_arn)
        self.clock.schedule(due, lambda at: self._deliver(event, due, at), f"EventBridge {status}")
        return event

    def ended_published(self, execution_arn: str) -> bool:
        with self._lock:
            return execution_arn in self._ended

    def pending(self) -> list[float]:
        """Emulated seconds of deliveries not yet made."""
        with self._lock:
            return sorted(self._pending)

    def flush(self) -> None:
        """Advance the clock until every published event has been delivered (new ones included)."""
        while True:
            pending = self.pending()
            if not pending:
                return
            self.clock.advance(max(0.0, pending[0] - self.clock.seconds()))
            self.clock.settle()

    # --- delivering ------------------------------------------------------------------------------
    def _deliver(self, event: dict[str, Any], due: float, at: float) -> None:
        try:
            backend = events_backends[self.account_id][self.region]
            bus = backend.event_buses.get(DEFAULT_BUS)
            for rule in list(bus.rules.values()) if bus is not None else []:
                if rule.state != "ENABLED" or not rule.event_pattern.get_pattern():
                    continue  # a scheduled rule, or disabled
                if not rule.event_pattern.matches_event(cast(EventMessageType, event)):
                    continue
                for target in list(rule.targets):
                    self._to_target(rule, target, event, at)
        finally:
            with self._lock:
                if due in self._pending:
                    self._pending.remove(due)

    def _to_target(self, rule: Any, target: dict[str, Any], event: dict[str, Any], at: float) -> None:
        arn = str(target.get("Arn", ""))
        try:
            parsed = parse_arn(arn)
        except Exception:  # noqa: BLE001 - a target ARN moto cannot parse is not a state machine
            return
        if parsed.service != "states" or parsed.resource_type != "stateMachine":
            return  # only state machine targets are emulated
        execution_arn, error = "", None
        delivery = Delivery(
            rule=rule.name,
            target=str(target.get("Id", "")),
            role_arn=target.get("RoleArn"),
            execution_arn="",
            target_arn=arn,
            rule_arn=rule.arn,
            at=at,
            event=event,
        )
        try:
            role_arn = target.get("RoleArn")
            if role_arn and not can_assume(str(role_arn), "events.amazonaws.com"):
                # EventBridge cannot act as the target's role: the invocation fails (docs/aws-rules.md, "Roles").
                raise PermissionError(f"events.amazonaws.com may not assume {role_arn}")
            for hook in list(self.start_hooks):
                hook(delivery)
            machine_input = target_input(target, event)
            backend = stepfunctions_parser_backends[parsed.account or self.account_id][parsed.region or self.region]
            # EventBridge names the execution itself (a UUID; Assumed).
            execution = backend.start_execution(arn, name=str(uuid.uuid4()), execution_input=machine_input)
            execution_arn = execution.exec_arn
        except Exception as err:  # noqa: BLE001 - recorded: AWS would retry, then drop or dead-letter it
            error = f"{type(err).__name__}: {err}"
        with self._lock:
            self.delivered.append(dataclasses.replace(delivery, execution_arn=execution_arn, error=error))


def target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    """What the target receives: Input (constant JSON), InputPath, InputTransformer, or the whole event."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        from jsonpath_ng.ext import parse

        matches = parse(target["InputPath"]).find(event)
        return json.dumps(matches[0].value if matches else None)
    transformer = target.get("InputTransformer")
    if transformer:
        out = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap") or {},
            event=cast(EventMessageType, event),
        )
        return out if isinstance(out, str) else json.dumps(out)
    return json.dumps(event)


def _error_and_cause(execution: Execution) -> tuple[str | None, str | None]:
    """Error and Cause as DescribeExecution gives them (also those of StopExecution for ABORTED)."""
    error, cause = execution.error, execution.cause
    if error is None and cause is None and _status(execution) == "ABORTED":
        worker = execution.exec_worker
        state = worker.env.program_state() if worker is not None and worker.env is not None else None
        error, cause = getattr(state, "error", None) or None, getattr(state, "cause", None) or None
    return error, cause


def install(stack: ExitStack, events_for: Callable[[], StatusEvents]) -> None:
    """Publish a status event when a STANDARD execution starts and when it ends."""
    original_start = Execution.start
    original_terminated = BaseExecutionWorkerCommunication.terminated

    def start(self: Execution) -> None:
        events_for().publish(self, "RUNNING")  # before the worker runs: RUNNING is always the first event
        original_start(self)

    def terminated(self: BaseExecutionWorkerCommunication) -> None:
        original_terminated(self)
        events_for().publish(self.execution, _status(self.execution))

    moto_seam.patch(stack, Execution, "start", start)
    moto_seam.patch(stack, BaseExecutionWorkerCommunication, "terminated", terminated)


def __getattr__(name: str) -> Any:
    """``emulation.events.delivered`` / ``published``: those of the active emulation."""
    if name in ("delivered", "published"):
        return getattr(active().events, name)
    raise AttributeError(f"module 'batch_lustre.emulation.events' has no attribute {name!r}")

"""Faults in the Lambdas' own AWS calls, answered at the HTTP layer, and boto3's retries on the emulated clock.

A Lambda handler's boto3 client sends each attempt of a call through botocore's ``before-send`` event, where moto
answers it (``moto.core.botocore_stubber.BotocoreStubber``). Here a scenario's ``LambdaFault`` answers an attempt
first: HTTP 400 ``ThrottlingException``, HTTP 500/503, or a read timeout (botocore's ``ReadTimeoutError``, after
the client's read timeout has passed on the emulated clock). botocore then does with the answer exactly what it
does on AWS: its retry handler (``botocore.retries.standard``, the mode the Lambdas' clients ask for in
lambda/aws_calls.py, with their attempt limit and retry quota) decides whether to try again, and the backoff it
sleeps (``botocore.endpoint``'s ``time.sleep``) passes on the emulated clock: the sleeping Lambda's Task waits as
a Wait state would, and nothing really sleeps. So a scenario's burst of N failed attempts means what it would on
AWS: the first ``total_max_attempts`` are one call that boto3 gives up on, and the Lambda's own handling
(lambda/wait_for.py) decides what happens next.

Only calls made by a Lambda handler are answered with faults (the state machine's own aws-sdk calls have theirs:
``scenario.Fault``). The answers are counted per operation: a fault's ``answers`` are given to the first attempts
of its operation, in a row, then the operation is answered as usual.
"""

from __future__ import annotations

import json
import threading
import time as _time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any

import botocore.endpoint
import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from batch_lustre.emulation import moto_seam
from batch_lustre.emulation.iam import current_principal
from batch_lustre.emulation.lambdas import invocation_sleep
from batch_lustre.emulation.scenario import INTERNAL_ERROR, READ_TIMEOUT, SERVER_ERROR, THROTTLE, LambdaFault

# The read timeout of the Lambdas' clients (lambda/aws_calls.py READ_TIMEOUT_SECONDS): what a read timeout costs.
READ_TIMEOUT_SECONDS = 5.0


@dataclass
class FaultPlan:
    """The faults of one emulation, what is left of each, and every answer given (``injected``)."""

    faults: list[LambdaFault]
    given: dict[str, int] = field(default_factory=dict)  # operation -> answers given so far
    injected: list[tuple[float, str, str, str]] = field(default_factory=list)  # (time, function, operation, kind)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self, operation: str) -> str | None:
        with self.lock:
            for fault in self.faults:
                if fault.operation == operation:
                    done = self.given.get(operation, 0)
                    if done < len(fault.answers):
                        self.given[operation] = done + 1
                        return fault.answers[done]
            return None


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    if len(data) < 24:
        return bytes([0x60 + len(data)]) + data
    if len(data) < 256:
        return bytes([0x78, len(data)]) + data
    return bytes([0x79]) + len(data).to_bytes(2, "big") + data


def error_body(protocol: str, code: str, message: str) -> bytes:
    """An AWS error answer's body in ``protocol`` (``__type`` and ``message``, as botocore's parsers read them)."""
    if protocol == "smithy-rpc-v2-cbor":
        return bytes([0xA2]) + _cbor_text("__type") + _cbor_text(code) + _cbor_text("message") + _cbor_text(message)
    return json.dumps({"__type": code, "message": message}).encode()


_ANSWERS = {
    THROTTLE: (400, "ThrottlingException", "Rate exceeded"),
    SERVER_ERROR: (503, "ServiceUnavailable", "Service is unavailable (emulated)"),
    INTERNAL_ERROR: (500, "InternalServerError", "We encountered an internal error (emulated)"),
}


def answer(kind: str, request: Any, protocol: str, service: str) -> AWSResponse:
    """The HTTP answer of a fault of ``kind`` (not a read timeout) to ``request``."""
    status, code, message = _ANSWERS[kind]
    if kind == THROTTLE and service == "cloudwatch":
        code = "Throttling"
    headers = {"x-amzn-RequestId": "emulated-fault"}
    if protocol == "smithy-rpc-v2-cbor":
        headers |= {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
    else:
        headers["Content-Type"] = "application/x-amz-json-1.1"
    return AWSResponse(request.url, status, headers, _Raw(error_body(protocol, code, message)))


class _Raw:
    """The raw body of an AWSResponse (what it streams)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Any:
        yield self._body


@cache
def _protocol(service_id: str) -> str:
    """The protocol botocore speaks to a service (by its hyphenised service id, e.g. ``fsx``, ``cloudwatch``)."""
    return str(botocore.session.get_session().get_service_model(service_id).protocol)


class _RetrySleep:
    """``time`` as botocore's endpoint sees it: its retry backoff sleeps on the emulated clock inside a Lambda."""

    def __init__(self, real: ModuleType) -> None:
        self._real = real

    def sleep(self, seconds: float) -> None:
        sleep = invocation_sleep()
        (sleep or self._real.sleep)(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def install(stack: ExitStack, plan_for: Callable[[], FaultPlan], seconds: Callable[[], float]) -> None:
    """Answer the Lambdas' calls with the plan's faults, and sleep boto3's retry backoff on the emulated clock."""
    original = moto_seam.BotocoreStubber.__call__

    def __call__(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        principal = current_principal()
        if principal is not None:
            _, service_id, operation_name = (event_name.split(".") + ["", ""])[:3]
            plan = plan_for()
            kind = plan.next_answer(f"{service_id}:{operation_name}")
            if kind is not None:
                plan.injected.append((seconds(), principal[1], f"{service_id}:{operation_name}", kind))
                if kind == READ_TIMEOUT:
                    sleep = invocation_sleep()
                    if sleep is not None:
                        sleep(READ_TIMEOUT_SECONDS)
                    raise ReadTimeoutError(endpoint_url=request.url)
                return answer(kind, request, _protocol(service_id), service_id)
        return original(self, event_name, request, **kwargs)

    moto_seam.patch(stack, moto_seam.BotocoreStubber, "__call__", __call__)
    moto_seam.patch(stack, botocore.endpoint, "time", _RetrySleep(_time))

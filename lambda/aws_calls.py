"""AWS calls from the Lambdas: one client configuration, and what an error means to a waiting loop.

Clients (``client``): boto3's ``standard`` retry mode, 3 attempts in all, with explicit timeouts. boto3's default,
``legacy``, makes 5 attempts and retries a shorter list of errors; ``standard`` retries the throttling codes, the
5xx answers and the connection and timeout errors every AWS SDK retries, with a backoff capped at 20 s and a retry
quota ("Retries", boto3 guide, https://docs.aws.amazon.com/boto3/latest/guide/retries.html). ``adaptive`` adds a
client-side rate limiter that can hold a call back for as long as it likes, which a loop that must leave time
for its return cannot afford. Three attempts are enough because the loop itself asks again at its next check:
an error boto3 gives up on is "not known yet", not the end of the wait.

Timeouts: connect 2 s, read 5 s. A describe call answers in well under a second; the worst a call can take is
3 attempts x (2 + 5) s plus two backoffs (at most 1 s and 2 s): 24 s, within the 60 s WaitFor leaves before its
function's timeout (``wait_for.MARGIN_SECONDS``), so a hanging call never times the function out.

Errors (``classify``): botocore's own standard-mode checkers decide what is transient (throttling codes, HTTP 500,
502, 503, 504, connection and timeout errors): the loop counts it and checks again at its next turn. Anything
else cannot heal by asking again: the loop ends at once, raising one of the named errors below, whose class name
is the Lambda's ``errorType`` and so the error name the state machine sees.

boto3 (botocore) only; Python 3.11 and 3.12.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.retries.standard import (
    OrRetryChecker,
    RetryContext,
    ThrottledRetryableChecker,
    TransientRetryableChecker,
)

CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 5
TOTAL_MAX_ATTEMPTS = 3
CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": TOTAL_MAX_ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
)
# The longest one call can take, all its attempts included (standard mode's backoff: random up to 2^(n-1) s).
WORST_CALL_SECONDS = TOTAL_MAX_ATTEMPTS * (CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS) + sum(
    2**n for n in range(TOTAL_MAX_ATTEMPTS - 1)
)

AWS_ERRORS = (ClientError, BotoCoreError)  # what a call can raise: an answer of AWS's, or botocore's own error
_TRANSIENT = OrRetryChecker([TransientRetryableChecker(), ThrottledRetryableChecker()])


def client(service: str, region: str | None = None) -> Any:
    """A new client of ``service`` with ``CONFIG`` (the caller keeps it for the warm function's next calls)."""
    return boto3.client(service, region_name=region, config=CONFIG)


class CallRefused(Exception):
    """An AWS call refused for a reason that asking again cannot heal."""


class AccessDenied(CallRefused):
    """The function's role may not make the call (AccessDenied*, UnauthorizedOperation)."""


class ResourceGone(CallRefused):
    """A resource the loop waits on does not exist (any more)."""


class RequestRefused(CallRefused):
    """Any other refusal: a validation error, a bad request, an error this module does not know."""


class _Status:
    def __init__(self, status_code: int | None) -> None:
        self.status_code = status_code


def is_transient(err: BaseException) -> bool:
    """True when botocore's standard retry mode counts ``err`` as retryable (throttling, 5xx, connection, timeout)."""
    if isinstance(err, ClientError):
        status = (err.response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        context = RetryContext(attempt_number=1, parsed_response=err.response, http_response=_Status(status))
    elif isinstance(err, BotoCoreError):
        context = RetryContext(attempt_number=1, caught_exception=err)
    else:
        return False
    return bool(_TRANSIENT.is_retryable(context))


def error_code(err: BaseException) -> str:
    """The AWS error code of a ClientError, else the exception's class name."""
    if isinstance(err, ClientError):
        return str((err.response.get("Error") or {}).get("Code") or "ClientError")
    return type(err).__name__


def one_line(err: BaseException, operation: str = "") -> str:
    """``Code: message (Operation)`` on one line."""
    if isinstance(err, ClientError):
        message = str((err.response.get("Error") or {}).get("Message") or "")
        operation = operation or str(getattr(err, "operation_name", "") or "")
    else:
        message = str(err)
    text = f"{error_code(err)}: {message}" + (f" ({operation})" if operation else "")
    return " ".join(text.split())


def refusal(err: BaseException, what: str) -> CallRefused:
    """The named error that ends a loop whose call ``what`` failed with ``err`` (not transient)."""
    code = error_code(err)
    text = f"{what}: {one_line(err)}"
    if code.startswith("AccessDenied") or code == "UnauthorizedOperation":
        return AccessDenied(text)
    if "NotFound" in code or code in ("ResourceNotFoundException", "NoSuchEntity"):
        return ResourceGone(text)
    return RequestRefused(text)

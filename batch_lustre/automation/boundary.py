"""The API's boundary: ``operation``, the decorator every public function of ``batch_lustre.automation`` wears,
turns whatever its call raises into an ``AutomationError`` (``errors.py`` says which, and why)."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from batch_lustre.automation.errors import (
    AccessDenied,
    AutomationError,
    AwsError,
    EndpointUnreachable,
    NoCredentials,
    ParameterError,
    Throttled,
    one_line,
)
from batch_lustre.program import parameters as program_parameters

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
    }
)


def aws_error(operation: str, err: BotoCoreError | ClientError) -> AwsError:
    """The ``AwsError`` for botocore's ``err`` raised within ``operation``: one line, operation and cause."""
    kind = type(err).__name__
    if isinstance(err, NoCredentialsError | PartialCredentialsError):
        return NoCredentials(
            f"{operation}: no AWS credentials found (botocore {kind}): configure them "
            "(aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        )
    if isinstance(err, NoRegionError):
        return AwsError(
            f"{operation}: no AWS region (botocore {kind}): set aws:region in Pulumi.<stack>.yaml or AWS_REGION"
        )
    if isinstance(err, EndpointConnectionError):
        return EndpointUnreachable(f"{operation}: {one_line(str(err))} (botocore {kind})")
    if isinstance(err, ClientError):
        detail = err.response.get("Error", {})
        code = str(detail.get("Code", "")) or "Unknown"
        request = getattr(err, "operation_name", "") or "a request"
        message = one_line(str(detail.get("Message", "")) or "no message")
        if code in THROTTLING_CODES:
            return Throttled(f"{operation}: AWS throttled {request} past botocore's retries ({code}): {message}")
        if code in ACCESS_DENIED_CODES:
            return AccessDenied(f"{operation}: AWS denied {request} ({code}): {message}")
        return AwsError(f"{operation}: AWS refused {request} ({code}): {message} (botocore ClientError)")
    return AwsError(f"{operation}: {one_line(str(err))} (botocore {kind})")


# How deep the current call is in operations: only the outermost converts, so the message names the
# operation the caller called (``start_run``), not one it calls (``compute_environment_max_vcpus``).
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("batch_lustre_automation_depth", default=0)


@contextlib.contextmanager
def boundary(operation: str) -> Iterator[None]:
    """Within: any exception but an ``AutomationError`` the API knows of becomes one (see the module docstring)."""
    outermost = _depth.get() == 0
    token = _depth.set(_depth.get() + 1)
    try:
        yield
    except AutomationError:
        raise
    except program_parameters.ParameterError as err:
        if not outermost:
            raise
        raise ParameterError(one_line(str(err), 2000)) from err
    except (BotoCoreError, ClientError) as err:
        if not outermost:
            raise
        raise aws_error(operation, err) from err
    finally:
        _depth.reset(token)


F = TypeVar("F", bound=Callable[..., Any])


def operation(function: F) -> F:
    """Make ``function`` an operation of the API: it raises only ``AutomationError``s (``boundary``).

    A generator function is guarded at each step of its iteration (its caller runs between the steps)."""
    name = function.__name__
    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        def steps(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with boundary(name):
                iterator = function(*args, **kwargs)
            while True:
                with boundary(name):
                    try:
                        item = next(iterator)
                    except StopIteration:
                        return
                yield item

        steps.__api_operation__ = True  # type: ignore[attr-defined]
        return cast(F, steps)

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        with boundary(name):
            return function(*args, **kwargs)

    guarded.__api_operation__ = True  # type: ignore[attr-defined]
    return cast(F, guarded)

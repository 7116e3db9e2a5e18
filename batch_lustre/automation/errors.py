"""What the Automation API raises: ``AutomationError`` and its subclasses, each with a one-line message.

Every public function of ``batch_lustre.automation`` is an ``operation`` (``boundary.py``): whatever it calls,
it raises only ``AutomationError``s. At the outermost operation a caller entered:

- the program's ``parameters.ParameterError`` (a refused value: key, value, what is accepted) becomes this
  module's ``ParameterError``, a subclass of both ``AutomationError`` and the program's ``ParameterError``, so
  ``except AutomationError`` and ``except parameters.ParameterError`` both catch it. The program's module keeps
  its own exception (it ships stand-alone in the ExtractParameters Lambda and imports nothing of the API);
  the API converts at its boundary, once.
- botocore's errors become ``AwsError``s naming the operation and the cause: ``NoCredentials``,
  ``EndpointUnreachable`` (no network, or no such endpoint), ``Throttled`` (past botocore's retries),
  ``AccessDenied`` and, for any other ``ClientError`` or ``BotoCoreError``, ``AwsError`` itself:
  ``AwsError("start_run: no AWS credentials found (botocore NoCredentialsError)")``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from batch_lustre.program import parameters as program_parameters

if TYPE_CHECKING:
    from batch_lustre.automation.history import RunOutcome


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line (whitespace runs folded), cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class AutomationError(Exception):
    """Something asked of the Automation API could not be done; the message is one line."""


class ParameterError(AutomationError, program_parameters.ParameterError):
    """A value is not accepted (the message names key, value and what is accepted); nothing was changed."""


class AwsError(AutomationError):
    """An AWS request failed: the message names the operation, the request and botocore's error."""


class NoCredentials(AwsError):
    """No AWS credentials were found (nothing was sent)."""


class EndpointUnreachable(AwsError):
    """An AWS endpoint could not be reached (no network, a wrong region or endpoint URL)."""


class Throttled(AwsError):
    """AWS throttled a request past botocore's retries."""


class AccessDenied(AwsError):
    """AWS refused a request for want of permission (or of valid credentials)."""


class PulumiCliMissing(AutomationError):
    """The pulumi CLI is not on PATH."""


class PulumiCliTooOld(AutomationError):
    """The pulumi CLI is older than the project needs (``pulumi_cli.MINIMUM_PULUMI_CLI``)."""


class UnknownStack(AutomationError):
    """No such stack: no Pulumi.<stack>.yaml here, or not deployed yet."""


class PulumiCommandFailed(AutomationError):
    """A pulumi command ran and failed."""


class MissingOutput(AutomationError):
    """The stack outputs lack a value this operation needs."""


class StackBusy(AutomationError):
    """A deploy, refresh or destroy was refused: a run of the stack is RUNNING (``guard.check_no_run``)."""


class RepositoryHoldsImages(AutomationError):
    """A deploy was refused: it would move the stack to another ECR repository while the deployed one holds images
    (``repository_guard.check_repository_change``); nothing was changed."""


class RunStillRunning(AutomationError):
    """``wait_for_run`` gave up waiting; the run goes on."""


class RunFailed(AutomationError):
    """A run ended in any state but SUCCEEDED. ``error`` and ``cause`` are the execution's."""

    def __init__(self, outcome: RunOutcome) -> None:
        self.outcome = outcome
        self.error = outcome.error
        self.cause = outcome.cause
        super().__init__(
            f"run {outcome.name} {outcome.status}: {outcome.error or 'no error'}: "
            f"{one_line(outcome.cause or 'no cause')}"
        )

"""What the Automation API raises: ``AutomationError`` and its subclasses, each with a one-line message.

A refused value raises ``parameters.ParameterError`` instead (it names key, value and what is accepted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batch_lustre.automation.history import RunOutcome


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line (whitespace runs folded), cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class AutomationError(Exception):
    """Something asked of the Automation API could not be done; the message is one line."""


class PulumiCliMissing(AutomationError):
    """The pulumi CLI is not on PATH."""


class UnknownStack(AutomationError):
    """No such stack: no Pulumi.<stack>.yaml here, or not deployed yet."""


class PulumiCommandFailed(AutomationError):
    """A pulumi command ran and failed."""


class MissingOutput(AutomationError):
    """The stack outputs lack a value this operation needs."""


class RunRefused(AutomationError):
    """A run was not started (another one is RUNNING)."""


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

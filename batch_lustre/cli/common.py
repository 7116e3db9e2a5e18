"""What every subcommand shares: the consoles, common options, one-line errors and exit codes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from batch_lustre import automation
from parameters import ParameterError

EXIT_OK = 0
EXIT_FAILED = 1  # the operation or the run failed
EXIT_BAD_INPUT = 2  # unknown stack, key or value (click uses 2 for usage errors too)

# Consoles look up sys.stdout / sys.stderr when they write, so CliRunner captures them.
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

StackOption = Annotated[
    str,
    typer.Argument(
        metavar="STACK",
        show_default=False,
        help="Pulumi stack name (taskexport or autoexport: a Pulumi.<stack>.yaml in the repository).",
    ),
]
OutputsFileOption = Annotated[
    Path | None,
    typer.Option(
        "--outputs-file",
        dir_okay=False,
        help="Stack outputs as JSON (e.g. from `pulumi stack output --json -s STACK`), "
        "instead of asking Pulumi (which needs the pulumi CLI).",
    ),
]
PollOption = Annotated[
    float,
    typer.Option("--poll-seconds", min=0.0, help="Seconds between reads of the execution history."),
]


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Print ``error: <message>`` as one line on stderr and exit with ``code``."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(code)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn the errors a user can act on into one line on stderr and a non-zero exit code."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except (ParameterError, automation.UnknownStack) as err:
        fail(str(err), EXIT_BAD_INPUT)
    except automation.AutomationError as err:
        fail(str(err), EXIT_FAILED)
    except NoCredentialsError:
        fail(
            "no AWS credentials found: configure them (aws configure, AWS_PROFILE or AWS_ACCESS_KEY_ID), "
            "or try `batch-lustre demo`, which needs none"
        )
    except ClientError as err:
        info = err.response.get("Error", {})
        fail(f"AWS refused {err.operation_name}: {info.get('Code', '?')}: {info.get('Message', '')}")
    except BotoCoreError as err:
        fail(f"AWS could not be reached: {err}")


def clock(delta: dt.timedelta | float | None) -> str:
    """A duration as H:MM:SS (``-`` when unknown)."""
    if delta is None:
        return "-"
    seconds = int(delta.total_seconds() if isinstance(delta, dt.timedelta) else delta)
    hours, rest = divmod(max(0, seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def when(moment: dt.datetime | None) -> str:
    """A timestamp as UTC, to the second."""
    if moment is None:
        return "-"
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}Z"

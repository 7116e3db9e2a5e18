"""What every subcommand shares: the consoles, common options, one-line errors, exit codes and clocks.

The consoles are made again at the start of every command (``start_output``), for where stdout goes then: a
terminal gets colour, tables and live displays at its width (``COLUMNS`` when set); anything else (a pipe, a
file) gets plain lines: no box drawing, no colour, no live display, nothing wrapped (rich's own ``TTY_COMPATIBLE``
and ``FORCE_COLOR`` override the guess).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console, Group
from rich.text import Text

from batch_lustre import automation
from batch_lustre.cli.wrap import wrap_text
from batch_lustre.program.parameters import ParameterError

EXIT_OK = 0
EXIT_FAILED = 1  # the operation or the run failed
EXIT_BAD_INPUT = 2  # unknown stack, key or value (click uses 2 for usage errors too)


class TerminalConsole(Console):
    """A terminal's console: text it prints is wrapped with no word broken (``wrap.wrap_text``), also in a
    ``Group`` of lines; tables and grids wrap their own cells (``listing``)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if not kwargs.get("soft_wrap") and not kwargs.get("no_wrap"):
            objects = tuple(self._wrapped(o, kwargs.get("markup")) for o in objects)
        super().print(*objects, **kwargs)

    def _wrapped(self, item: Any, markup: bool | None) -> Any:
        if isinstance(item, str):
            item = self.render_str(item, markup=markup, highlight=False)
        if isinstance(item, Text):
            return wrap_text(item, self.width)
        if isinstance(item, Group):
            return Group(*(self._wrapped(i, markup) for i in item.renderables), fit=item.fit)
        return item


def _console(stderr: bool) -> Console:
    """A console on stdout or stderr: the terminal's, or a plain one (module docstring).

    Consoles look up sys.stdout / sys.stderr when they write, so CliRunner captures them.
    """
    probe = Console(stderr=stderr)
    if probe.is_terminal:
        return TerminalConsole(stderr=stderr, highlight=False)
    return Console(stderr=stderr, highlight=False, color_system=None, soft_wrap=True, emoji=False)


_consoles: dict[bool, Console] = {}


def start_output() -> None:
    """Make the consoles for the command about to run (where stdout and stderr go now, ``COLUMNS`` now)."""
    _consoles.clear()


def out() -> Console:
    """The console on stdout."""
    if False not in _consoles:
        _consoles[False] = _console(stderr=False)
    return _consoles[False]


def err_out() -> Console:
    """The console on stderr (progress while stdout carries JSON)."""
    if True not in _consoles:
        _consoles[True] = _console(stderr=True)
    return _consoles[True]


def progress_console(as_json: bool) -> Console:
    """Where a run is drawn: stdout; with --json (stdout carries the document), stderr when it is a terminal, else
    nowhere."""
    if not as_json:
        return out()
    return err_out() if err_out().is_terminal else Console(file=io.StringIO())


def is_plain(console: Console) -> bool:
    """Whether ``console`` writes plain lines (not a terminal): no tables, no colour, no live display."""
    return not console.is_terminal


def print_json(document: Any) -> None:
    """``document`` as JSON on stdout, nothing else (no markup, no wrapping)."""
    typer.echo(json.dumps(document, indent=2, default=str))


StackOption = Annotated[
    str,
    typer.Argument(
        metavar="STACK",
        show_default=False,
        help="Pulumi stack name (taskexport or autoexport: a Pulumi.<stack>.yaml in the repository); "
        "-s STACK or --stack STACK, as Pulumi spells it, works too.",
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


_json_errors: list[bool] = [False]


def set_json_errors(wanted: bool) -> None:
    """Whether errors are JSON on stdout (the command line holds ``--json``) or one line on stderr."""
    _json_errors[0] = wanted


def report_error(message: str, code: int) -> None:
    """An error as the command line reports it: ``error: <message>`` as one line on stderr or, with ``--json``,
    ``{"error": <message>, "code": <exit code>}`` on stdout (as pcluster does), nothing else."""
    line = " ".join(message.split())
    if _json_errors[0]:
        typer.echo(json.dumps({"error": line, "code": code}))
    else:
        typer.echo(f"error: {line}", err=True)


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Report ``message`` as an error (``report_error``: one line, or JSON with ``--json``) and exit with
    ``code``."""
    report_error(message, code)
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


def elapsed(seconds: dt.timedelta | float | None) -> str:
    """Time since a run started as ``+M:SS`` (``+H:MM:SS`` from an hour on; ``-`` when unknown): the one clock of a
    timeline."""
    if seconds is None:
        return "-"
    total = int(seconds.total_seconds() if isinstance(seconds, dt.timedelta) else seconds)
    hours, rest = divmod(max(0, total), 3600)
    return f"+{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"+{rest // 60}:{rest % 60:02d}"


VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Show a failed run's whole Cause (e.g. a failed job's description as Batch gives it), not only its "
        "one-line summary.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead (keys: see the README).")]


def when(moment: dt.datetime | None) -> str:
    """A timestamp as UTC, to the second."""
    if moment is None:
        return "-"
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}Z"

"""How the command line reads its words before any command runs: Pulumi's ``-s/--stack`` spelling, and usage
errors as one line.

- ``-s STACK``, ``--stack STACK``, ``--stack=STACK`` and ``-sSTACK`` name the stack of every command that takes one,
  as ``pulumi up -s taskexport`` does; ``batch-lustre run taskexport`` (the positional form) works too.
- A usage error (an unknown option, a missing or extra argument, a value click refuses) is one line on stderr,
  ``error: <command>: <message>``, exit code 2; with ``--json`` on the command line, a JSON object on stdout
  instead, ``{"error": <message>, "code": 2}``, as every other error then is (``common.fail``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from typer import _click as click
from typer.core import TyperGroup
from typer.exceptions import Abort

from batch_lustre.cli import common

STACK_FLAGS = ("-s", "--stack")


def _takes_stack(command: Any) -> bool:
    return any(p.name == "stack" and p.param_type_name == "argument" for p in command.params)


def _value_options(command: Any) -> set[str]:
    """The option spellings of ``command`` that take a value (the word after them is theirs, not a flag)."""
    found: set[str] = set()
    for param in command.params:
        if param.param_type_name == "option" and not getattr(param, "is_flag", False):
            found.update(param.opts)
    return found


def stack_flag_as_argument(command: Any, args: Sequence[str], ctx: Any = None) -> list[str]:
    """``args`` with ``-s/--stack STACK`` turned into the positional ``STACK`` (first), for a command taking one.

    ``click.UsageError`` when the flag lacks its value or names two stacks; a stack named both ways is an extra
    argument for click, unless both name the same one.
    """
    if not _takes_stack(command):
        return list(args)
    takes_value = _value_options(command)
    rest: list[str] = []
    named: list[str] = []
    words = list(args)
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            rest.extend(words[i:])
            break
        if word in STACK_FLAGS:
            if i + 1 >= len(words):
                raise click.exceptions.UsageError(f"{word} needs a value: -s STACK (e.g. -s taskexport)", ctx)
            named.append(words[i + 1])
            i += 2
            continue
        if word.startswith("--stack="):
            named.append(word.partition("=")[2])
        elif word.startswith("-s") and not word.startswith("--") and len(word) > 2:
            named.append(word[2:])
        else:
            rest.append(word)
            if word in takes_value and i + 1 < len(words):
                rest.append(words[i + 1])
                i += 1
        i += 1
    if not named:
        return rest
    if len(set(named)) > 1:
        raise click.exceptions.UsageError(f"--stack is given twice ({', '.join(named)}): accepted one stack", ctx)
    stack = named[0]
    positional = [w for w in rest if not w.startswith("-")]
    if positional and positional[0] == stack:
        return rest  # `run taskexport -s taskexport`: the same stack twice
    return [stack, *rest]


class ConsoleGroup(TyperGroup):
    """The ``batch-lustre`` group: ``-s/--stack`` for every command's stack, usage errors on one line (module
    docstring). Used for the top-level group and ``params``."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None and _takes_stack(command) and not getattr(command, "_stack_flag", False):
            parse_args = command.parse_args

            def with_stack_flag(ctx: Any, args: list[str]) -> list[str]:
                return parse_args(ctx, stack_flag_as_argument(command, args, ctx))

            command.parse_args = with_stack_flag  # type: ignore[method-assign]
            command._stack_flag = True  # type: ignore[attr-defined]
        return command

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        words = list(sys.argv[1:] if args is None else args)
        common.set_json_errors("--json" in words)
        try:
            if not standalone_mode:
                return super().main(words, prog_name, complete_var, standalone_mode=False, **extra)
            sys.exit(self._one_line_main(words, prog_name, complete_var, **extra))
        finally:
            common.set_json_errors(False)

    def _one_line_main(self, words: list[str], prog_name: str | None, complete_var: str | None, **extra: Any) -> int:
        """The exit code of the command line ``words``, its usage errors reported on one line."""
        try:
            code = super().main(words, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as err:
            err.show()  # the help, as without arguments
            return err.exit_code
        except click.exceptions.UsageError as err:
            where = err.ctx.command_path if err.ctx is not None else (prog_name or "batch-lustre")
            common.report_error(f"{where}: {err.format_message()}", err.exit_code)
            return err.exit_code
        except click.ClickException as err:
            common.report_error(err.format_message(), err.exit_code)
            return err.exit_code
        except Abort:
            common.report_error("aborted: nothing was changed", common.EXIT_FAILED)
            return common.EXIT_FAILED
        return code if isinstance(code, int) else 0

"""Per-run override flags (``run``, ``demo``): the StartExecution input of one run (docs/workflow-v2.md, "Execution input: per-run overrides").

Each flag sets one key of the execution input; a flag not given leaves the key out (the secret's value, or the
image's own command, applies). The values are checked by ``parameters.validate_overrides``, the check the
workflow's ExtractParameters makes, before anything is started: a refused one is one line naming the key, the
value and what is accepted, exit code 2.
"""

from __future__ import annotations

import shlex
from typing import Annotated, Any

import typer

from batch_lustre.program.parameters import ParameterError, parse_integer

PANEL = "Per-run overrides (this run only; the secret is not changed)"

CommandOption = Annotated[
    str | None,
    typer.Option(
        "--command",
        metavar="COMMAND",
        show_default=False,
        rich_help_panel=PANEL,
        help="The job's command for this run, one string split into words as a POSIX shell splits it: quotes group "
        'words, nothing is expanded and no shell runs it, e.g. --command "python sim.py --steps 10". For '
        "pipes, redirections or $VARIABLES run a shell: --command \"sh -c 'python sim.py > /scratch/log'\". "
        "Default: the image's own command. (execution input key command)",
    ),
]
EnvOption = Annotated[
    list[str] | None,
    typer.Option(
        "--env",
        metavar="NAME=VALUE",
        show_default=False,
        rich_help_panel=PANEL,
        help="An environment variable of the job's container (repeatable; the last of a NAME wins). "
        "(execution input key environment)",
    ),
]
VcpusOption = Annotated[
    str | None,
    typer.Option(
        "--vcpus",
        metavar="N",
        show_default=False,
        rich_help_panel=PANEL,
        help="vCPUs of the job, 1 to the compute environment's maxvCpus. Default: the secret's "
        "jobDefinitionVcpus. (execution input key vcpus)",
    ),
]
MemoryOption = Annotated[
    str | None,
    typer.Option(
        "--memory",
        metavar="MIB",
        show_default=False,
        rich_help_panel=PANEL,
        help="Memory of the job in MiB, 4 to 10000000. Default: the secret's jobDefinitionMemory. "
        "(execution input key memory)",
    ),
]
ImageTagOption = Annotated[
    str | None,
    typer.Option(
        "--image-tag",
        metavar="TAG",
        show_default=False,
        rich_help_panel=PANEL,
        help="Tag of the job image in the stack's ECR repository (default latest). (execution input key imageTag)",
    ),
]
ArraySizeOption = Annotated[
    str | None,
    typer.Option(
        "--array-size",
        metavar="N",
        show_default=False,
        rich_help_panel=PANEL,
        help="1: one job (the default); 2 to 10000: an array job of N children sharing the file system, "
        "each seeing AWS_BATCH_JOB_ARRAY_INDEX. (execution input key arraySize)",
    ),
]
WarmOption = Annotated[
    bool | None,
    typer.Option(
        "--warm/--no-warm",
        show_default=False,
        rich_help_panel=PANEL,
        help="Raise the compute environment's desired vCPUs while the file system is created, so hosts "
        "are ready for the job (or not). Default: the secret's warmComputeCapacity. "
        "(execution input key warmComputeCapacity)",
    ),
]


def _number(text: str | None) -> Any:
    """An integer flag's text: an int when it is one (so that a refusal shows ``vcpus=0``), the text otherwise
    (refused by the check, as ExtractParameters refuses it: ``1_000`` or ``١٠`` are not integers there)."""
    if text is None:
        return None
    try:
        return parse_integer(text, key="flag", accepted="an integer")
    except ParameterError:
        return text


def split_command(text: str) -> list[str]:
    """``--command`` split into words as a POSIX shell splits them; ``ParameterError`` (one line) otherwise."""
    try:
        words = shlex.split(text)
    except ValueError as err:  # an unbalanced quote, a trailing backslash
        raise ParameterError(
            f"--command={text!r} is not accepted ({err}): accepted a command line whose quotes "
            'are balanced, e.g. --command "python sim.py --steps 10"'
        ) from None
    if not words:
        raise ParameterError(
            f"--command={text!r} is not accepted: accepted a command of at least one word, "
            'e.g. --command "python sim.py --steps 10"'
        )
    return words


def parse_environment(assignments: list[str]) -> dict[str, str]:
    """``--env NAME=VALUE`` flags as a name -> value mapping (names are checked by ``validate_overrides``)."""
    environment: dict[str, str] = {}
    for text in assignments:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise ParameterError(f"--env={text!r} is not accepted: accepted NAME=VALUE, e.g. --env STEPS=10")
        environment[name] = value
    return environment


def from_flags(
    *,
    command: str | None = None,
    env: list[str] | None = None,
    vcpus: str | None = None,
    memory: str | None = None,
    image_tag: str | None = None,
    array_size: str | None = None,
    warm: bool | None = None,
) -> dict[str, Any]:
    """The execution input's keys the flags set (unchecked, but for the flags' own syntax): ``{}`` when none is."""
    raw: dict[str, Any] = {}
    if command is not None:
        raw["command"] = split_command(command)
    if env:
        raw["environment"] = parse_environment(env)
    for key, value in (
        ("vcpus", _number(vcpus)),
        ("memory", _number(memory)),
        ("imageTag", image_tag),
        ("arraySize", _number(array_size)),
        ("warmComputeCapacity", warm),
    ):
        if value is not None:
            raw[key] = value
    return raw


def describe(execution_input: dict[str, Any]) -> str:
    """The overrides of a run in one line, e.g. ``command=["python", "sim.py"], vcpus=4``."""
    import json

    return ", ".join(f"{key}={json.dumps(value)}" for key, value in execution_input.items()) or "none"

"""The comments of the stack files (``Pulumi.<stack>.yaml``), generated from the parameters table.

``python -m batch_lustre.stack_files`` rewrites the comments of every stack file of the project: a header, and
above each parameter its meaning (``parameters/table.py``), what it accepts (the table's words, and the rules
between parameters that name it: ``parameters.RULES``), its default and whether it is a run-time parameter.
The values stay as written, in their order: a value edited by hand is kept. A parameter of the stack's mode that
the file lacks (a new row of the table) is added with its default, after the parameter the table puts before it.
``--check`` writes nothing and exits 1 naming each stale file; tests/test_stack_files.py fails the same way.

The file is read as the program reads it (``settings.load_stack_config``, ``settings.settings_from_config``): a
result that reads differently from the file (a value changed, a key moved) or that the program would refuse is
not written (one ``ParameterError`` line).
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batch_lustre.program.parameters import (
    BACKOFF_FIRST_SECONDS,
    BACKOFF_GROWTH,
    BY_NAME,
    MODES,
    Parameter,
    ParameterError,
    parameters_for,
    rules_of,
)
from batch_lustre.program.settings import (
    CONFIG_PREFIX,
    MODE_KEY,
    REGION_KEY,
    accepted_words,
    settings_from_config,
    stack_file_config,
)
from batch_lustre.project import ProjectNotFound, project_dir

COMMAND = "python -m batch_lustre.stack_files"
WIDTH = 118  # the longest comment line
ENTRY_INDENT = "  "
_KEY = re.compile(r"(?P<key>[^\s#'\"-][^\s]*?):(?:\s|$)")

# Values of the project's stack files that are not the defaults, on purpose: the ECR repository names the stacks
# were deployed with when the default was a fixed name per mode. The default now derives from envName and the stack
# (two copies of one stack file get two repositories), but a deployed stack's repository must never be renamed (a
# rename replaces it: runs would use an empty repository, and the old one, holding images, blocks the update).
DEPLOYED_VALUES: dict[str, dict[str, Any]] = {
    "taskexport": {"ecrRepositoryName": "batch-job-with-lustre-task-export"},
    "autoexport": {"ecrRepositoryName": "batch-job-with-lustre-auto-export"},
}

# The keys of a stack file that are not parameters.
OTHER_KEYS = {
    REGION_KEY: "AWS Region the stack deploys to.",
    MODE_KEY: f"Workflow variant of this stack: {' or '.join(MODES)} (one stack file per mode).",
}


def header(stack: str, mode: str) -> list[str]:
    """The comment lines above ``config:``."""
    growth = round((BACKOFF_GROWTH - 1) * 100)
    text = (
        f"Stack config of the {stack} stack: every parameter of mode {mode}, shipped with its default. These comments "
        f"are generated from parameters/table.py by `{COMMAND}`, which keeps the values as written. Parameters "
        "marked [runtime] are also the initial content of the runtime-parameter secret, read at the start of every "
        "run: edit the secret (`batch-lustre params set`) to change them for the next runs without `pulumi up`. "
        f"Each wait...Seconds is the longest wait between two checks: a loop's waits start at {BACKOFF_FIRST_SECONDS} "
        f"s and grow by {growth}% up to it."
    )
    return _comment(text, "")


def parameter_comment(parameter: Parameter, mode: str) -> list[str]:
    """The comment lines above ``parameter`` in a stack file of ``mode``."""
    runtime = " [runtime]" if parameter.is_runtime(mode) else ""
    accepted = "; ".join([accepted_words(parameter.name), *(rule.words for rule in rules_of(parameter.name, mode))])
    default = json.dumps(parameter.defaults[mode])
    return _comment(f"{_sentence(parameter.description)}{runtime} Accepted: {accepted}. Default: {default}.")


def _sentence(text: str) -> str:
    """``text`` as a sentence: a capital first (unless the first word is spelled with one inside, as vCPUs is)."""
    first = text.split(" ", 1)[0]
    start = text if any(c.isupper() for c in first[1:]) else text[:1].upper() + text[1:]
    return start + ("" if text.endswith(".") else ".")


def _comment(text: str, indent: str = ENTRY_INDENT) -> list[str]:
    return textwrap.wrap(
        text, WIDTH, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# ", break_on_hyphens=False
    )


@dataclass
class _Entry:
    """One key of the config mapping: the comment lines above it and its own lines (the key and its value)."""

    key: str
    comments: list[str]
    lines: list[str]


@dataclass
class _Layout:
    """A stack file cut where comments go: lines before the config entries, the entries, lines after them."""

    before: list[str] = field(default_factory=list)
    entries: list[_Entry] = field(default_factory=list)
    after: list[str] = field(default_factory=list)


def _is_comment(line: str) -> bool:
    return line.strip() == "" or line.lstrip().startswith("#")


def _layout(file_name: str, text: str) -> _Layout:
    """``text`` cut into its layout; the header (the comments opening the file) is left out."""
    lines = text.splitlines()
    start = 0
    while start < len(lines) and _is_comment(lines[start]):
        start += 1
    layout = _Layout()
    pending: list[str] = []
    section = "before"
    for line in lines[start:]:
        if _is_comment(line):
            pending.append(line)
            continue
        top_level = not line[:1].isspace()
        if section == "entries" and top_level:
            section = "after"
        if section == "entries":
            found = _KEY.match(line[len(ENTRY_INDENT) :]) if line.startswith(ENTRY_INDENT) else None
            if found and not line[len(ENTRY_INDENT)].isspace():
                layout.entries.append(_Entry(found.group("key"), pending, [line]))
            elif layout.entries:
                layout.entries[-1].lines.extend([*pending, line])
            else:
                raise ParameterError(f"{file_name} is not accepted: accepted config entries indented by two spaces")
            pending = []
            continue
        target = layout.before if section == "before" else layout.after
        target.extend([*pending, line])
        pending = []
        if section == "before" and line.rstrip() == "config:":
            section = "entries"
    if section == "before":
        raise ParameterError(f"{file_name} is not accepted: accepted a stack file with a block config mapping")
    layout.after.extend(pending)
    return layout


def _value_lines(key: str, value: Any) -> list[str]:
    """A key and its value as a stack file holds them (a list in block style)."""
    if isinstance(value, list):
        return [f"{ENTRY_INDENT}{key}:", *(f"{ENTRY_INDENT}  - {json.dumps(item)}" for item in value)]
    return [f"{ENTRY_INDENT}{key}: {json.dumps(value)}"]


def _add_missing(layout: _Layout, mode: str) -> list[str]:
    """Add each parameter of ``mode`` the file lacks, with its default, after the one the table puts before it."""
    added = []
    keys = [f"{CONFIG_PREFIX}{parameter.name}" for parameter in parameters_for(mode)]
    for index, (key, parameter) in enumerate(zip(keys, parameters_for(mode), strict=True)):
        if any(entry.key == key for entry in layout.entries):
            continue
        earlier = {*keys[:index], *OTHER_KEYS}
        at = max((i + 1 for i, entry in enumerate(layout.entries) if entry.key in earlier), default=0)
        layout.entries.insert(at, _Entry(key, [], _value_lines(key, parameter.defaults[mode])))
        added.append(parameter.name)
    return added


def render(stack: str, text: str) -> str:
    """The stack file ``Pulumi.<stack>.yaml`` whose text is ``text``, with its comments generated.

    ``ParameterError`` (one line) if the file is no stack file the program accepts, or if the result would not
    read as the file does (with the defaults of the parameters it lacked)."""
    file_name = f"Pulumi.{stack}.yaml"
    config = stack_file_config(file_name, text)
    mode = settings_from_config(config, source=file_name).mode
    layout = _layout(file_name, text)
    if [entry.key for entry in layout.entries] != list(config):
        raise ParameterError(f"{file_name} is not accepted: accepted one config entry per line, indented by two spaces")
    added = _add_missing(layout, mode)
    lines = header(stack, mode) + layout.before
    for entry in layout.entries:
        name = entry.key[len(CONFIG_PREFIX) :] if entry.key.startswith(CONFIG_PREFIX) else None
        if entry.key in OTHER_KEYS:
            lines += _comment(OTHER_KEYS[entry.key])
        elif name in BY_NAME and BY_NAME[name].applies_to(mode):
            lines += parameter_comment(BY_NAME[name], mode)
        else:
            lines += entry.comments  # another namespace's key (aws:profile, ...): its comments are the user's
        lines += entry.lines
    result = "\n".join(lines + layout.after) + "\n"
    _check_same(file_name, config, stack_file_config(file_name, result), added, mode)
    return result


def _check_same(file_name: str, before: dict[str, str], after: dict[str, str], added: Sequence[str], mode: str) -> None:
    new_keys = {f"{CONFIG_PREFIX}{name}" for name in added}
    kept = {key: value for key, value in after.items() if key not in new_keys}
    typed = settings_from_config(after, source=file_name).values
    if list(kept.items()) != list(before.items()) or any(typed[n] != BY_NAME[n].defaults[mode] for n in added):
        raise ParameterError(f"{file_name} is not accepted: its comments cannot be generated without changing a value")


def stack_files(directory: Path) -> dict[str, Path]:
    """Stack name -> its stack file in ``directory``."""
    return {path.name[len("Pulumi.") : -len(".yaml")]: path for path in sorted(directory.glob("Pulumi.*.yaml"))}


def stale(directory: Path) -> list[str]:
    """The stack files of ``directory`` whose comments differ from what ``render`` makes."""
    return [
        path.name
        for stack, path in stack_files(directory).items()
        if render(stack, path.read_text(encoding="utf-8")) != path.read_text(encoding="utf-8")
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite the comments of the project's stack files (``--check``: exit 1 naming each stale one instead)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        directory = project_dir()
        if args == ["--check"]:
            found = stale(directory)
            for name in found:
                sys.stderr.write(f"{name} is stale: run `{COMMAND}`\n")
            return 1 if found else 0
        if args:
            sys.stderr.write(f"error: {' '.join(args)} is not accepted: accepted no argument or --check\n")
            return 2
        for stack, path in stack_files(directory).items():
            text = path.read_text(encoding="utf-8")
            rendered = render(stack, text)
            if rendered != text:
                path.write_text(rendered, encoding="utf-8")
                sys.stdout.write(f"wrote {path}\n")
    except (ParameterError, ProjectNotFound) as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

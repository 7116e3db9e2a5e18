"""Validation of parameter values wherever they come from (stack config, the secret, ``params set``): each value
converted to its parameter's type and checked against its rule, then the rules between parameters and the history
budget; every problem of a set in one ``ParameterError`` line naming key, value and what is accepted."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .history_budget import HISTORY_EVENT_LIMIT, history_parameters, history_problems
from .table import AUTO_EXPORT, BY_NAME, Parameter, parameters_for
from .text import MAX_INTEGER_DIGITS, NO_CONTROL, ParameterError, has_control, parse_integer, show_key, show_short

_EXECUTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")


def coerce(param: Parameter, value: Any) -> Any:
    """Convert a JSON or config value to the parameter's type, or raise ParameterError.

    Accepts JSON numbers/booleans and their string spellings ("2400", "true"),
    as stack config holds strings and a hand-edited secret may hold either.
    """
    kind = param.kind
    if isinstance(value, str) and has_control(value):
        raise ParameterError(f"{_message(param, value)} ({NO_CONTROL})")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            return parse_integer(value, key=param.name, accepted=param.accepted_words)
    elif kind == "str":
        if isinstance(value, str):
            return value.strip()
        if param.name == "lustreFileSystemTypeVersion" and isinstance(value, float):
            return f"{value:.2f}"
    elif kind == "str_list":
        if isinstance(value, str):
            value = [t.strip() for t in value.split(",") if t.strip()]
        if isinstance(value, list) and all(isinstance(t, str) and not has_control(t) for t in value):
            return [t.strip() for t in value]
    raise ParameterError(_message(param, value))


def _message(param: Parameter, value: Any) -> str:
    return f"{param.name}={show_short(value)} is not accepted: accepted {param.accepted_words}"


def validate_value(param: Parameter, value: Any) -> Any:
    """Coerce and check one value against its rule."""
    typed = coerce(param, value)
    if param.check is not None and not param.check(typed):
        raise ParameterError(_message(param, value))
    return typed


def validate(raw: Mapping[str, Any], mode: str, names: Iterable[str], *, where: str) -> dict[str, Any]:
    """Validate ``raw`` holding exactly ``names``; collect every problem into one ParameterError.

    ``where`` says where the values come from ("stack config", "secret") for the message.
    """
    wanted = list(names)
    problems: list[str] = []
    unknown = sorted(set(raw) - set(wanted), key=str)
    for key in unknown:
        problems.append(
            f"{show_key(key)} is not a parameter of {where} in mode {mode}: accepted keys {', '.join(wanted)}"
        )
    typed: dict[str, Any] = {}
    for name in wanted:
        if name not in raw:
            problems.append(f"{name} is missing from {where}: accepted {BY_NAME[name].accepted_words}")
            continue
        try:
            typed[name] = validate_value(BY_NAME[name], raw[name])
        except ParameterError as err:
            problems.append(str(err))
    if not problems:
        problems.extend(cross_field_problems(typed, mode))
    if problems:
        raise ParameterError("; ".join(problems))
    return typed


@dataclass(frozen=True)
class Rule:
    """A rule between parameters: ``problems`` lists what a set of values breaks (checked only when the parameters
    it reads are present), and ``words`` says what it accepts, as the stack files' comments show it beside each
    parameter of ``names(mode)`` (``batch_lustre.stack_files``)."""

    words: str
    names: Callable[[str], tuple[str, ...]]
    problems: Callable[[Mapping[str, Any], str], list[str]]


def _in_mode(mode_of_rule: str, *names: str) -> Callable[[str], tuple[str, ...]]:
    return lambda mode: names if mode == mode_of_rule else ()


def _everywhere(*names: str) -> Callable[[str], tuple[str, ...]]:
    return lambda mode: names


def _auto_export_on(values: Mapping[str, Any], mode: str) -> list[str]:
    if mode == AUTO_EXPORT and values.get("autoExport") is False:
        return [
            "autoExport=false is not accepted in mode autoexport: accepted true "
            "(without auto export nothing reaches S3; use the taskexport stack for explicit export)"
        ]
    return []


def _vcpu_order(values: Mapping[str, Any], mode: str) -> list[str]:
    lo, want, hi = (
        values.get(k)
        for k in ("computeEnvironmentMinvCpus", "computeEnvironmentDesiredvCpus", "computeEnvironmentMaxvCpus")
    )
    if lo is not None and want is not None and hi is not None and not (lo <= want <= hi):
        return [
            f"computeEnvironmentMinvCpus={lo}, computeEnvironmentDesiredvCpus={want}, "
            f"computeEnvironmentMaxvCpus={hi} are not accepted: accepted min <= desired <= max"
        ]
    return []


def _job_fits(values: Mapping[str, Any], mode: str) -> list[str]:
    vcpus, most = values.get("jobDefinitionVcpus"), values.get("computeEnvironmentMaxvCpus")
    if vcpus is not None and most is not None and vcpus > most:
        return [
            f"jobDefinitionVcpus={vcpus} is not accepted: accepted at most computeEnvironmentMaxvCpus={most}, "
            "or the job would wait forever in RUNNABLE"
        ]
    return []


def _prefixes_apart(values: Mapping[str, Any], mode: str) -> list[str]:
    inputs, results = values.get("dataRepositoryInputPrefix"), values.get("dataRepositoryResultsPrefix")
    if inputs and results and (inputs.startswith(results) or results.startswith(inputs)):
        return [
            f"dataRepositoryInputPrefix={inputs} with dataRepositoryResultsPrefix={results} is not accepted: accepted "
            "prefixes neither of which holds the other (a run's results must not land among the inputs)"
        ]
    return []


def _metric_window(values: Mapping[str, Any], mode: str) -> list[str]:
    period, window = values.get("lambdaPeriodSeconds"), values.get("lambdaTimeDiffMinutes")
    if period is not None and window is not None and window * 60 < 2 * period:
        return [
            f"lambdaTimeDiffMinutes={window} with lambdaPeriodSeconds={period} is not accepted: accepted "
            "a window of at least two periods (lambdaTimeDiffMinutes * 60 >= 2 * lambdaPeriodSeconds), "
            "or a metric window could hold no datapoint and read as a drained export queue"
        ]
    return []


RULES: tuple[Rule, ...] = (
    Rule(
        "true in autoexport (without auto export nothing reaches S3)",
        _in_mode(AUTO_EXPORT, "autoExport"),
        _auto_export_on,
    ),
    Rule(
        "computeEnvironmentMinvCpus <= computeEnvironmentDesiredvCpus <= computeEnvironmentMaxvCpus",
        _everywhere("computeEnvironmentMinvCpus", "computeEnvironmentDesiredvCpus", "computeEnvironmentMaxvCpus"),
        _vcpu_order,
    ),
    # The secret's jobDefinitionVcpus against the compute environment's maxvCpus: at the start of every run
    # (validate_runtime, with the deployed maxvCpus) and in stack config, where both keys are, so that `pulumi up`
    # refuses a secret every run would refuse.
    Rule(
        "jobDefinitionVcpus <= computeEnvironmentMaxvCpus (a larger job never leaves RUNNABLE)",
        _everywhere("jobDefinitionVcpus", "computeEnvironmentMaxvCpus"),
        _job_fits,
    ),
    Rule(
        "dataRepositoryInputPrefix and dataRepositoryResultsPrefix: neither holds the other",
        _everywhere("dataRepositoryInputPrefix", "dataRepositoryResultsPrefix"),
        _prefixes_apart,
    ),
    Rule(
        "lambdaTimeDiffMinutes * 60 >= 2 * lambdaPeriodSeconds (a window of at least two periods)",
        _in_mode(AUTO_EXPORT, "lambdaTimeDiffMinutes", "lambdaPeriodSeconds"),
        _metric_window,
    ),
    Rule(
        f"with the other waits and bounds, a run's worst case under Step Functions' {HISTORY_EVENT_LIMIT:,}-event "
        "history (a refusal names the values that fit)",
        lambda mode: tuple(history_parameters(mode)),
        history_problems,
    ),
)


def rules_of(name: str, mode: str) -> list[Rule]:
    """The rules between parameters that name ``name`` in ``mode``."""
    return [rule for rule in RULES if name in rule.names(mode)]


def cross_field_problems(values: Mapping[str, Any], mode: str) -> list[str]:
    """Rules between parameters (``RULES``); only those whose parameters are present are checked."""
    return [problem for rule in RULES for problem in rule.problems(values, mode)]


def parse_secret(text: str) -> Any:
    """The secret's JSON text, parsed. ``ParameterError`` (naming a position, never quoting the text) if it is not
    JSON, repeats a key, holds an integer of more than MAX_INTEGER_DIGITS digits or nests too deep to parse."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_int=_secret_integer)
    except json.JSONDecodeError as err:
        # str(err) is "<msg>: line L column C (char N)": it does not quote the document.
        raise ParameterError(f"secret content is not valid JSON: {err}") from None
    except RecursionError:
        raise ParameterError("secret content is not accepted: accepted a JSON object of the parameters") from None


def _secret_integer(text: str) -> int:
    return parse_integer(
        text, key="a number in the secret", accepted=f"integers of at most {MAX_INTEGER_DIGITS} digits"
    )


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of duplicate keys silently; a hand-edited secret may hold both.
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ParameterError(f"{show_short(key)} appears more than once in the secret: accepted each key once")
        seen[key] = value
    return seen


def validate_runtime(raw: Any, mode: str, max_vcpus: int) -> dict[str, Any]:
    """Validate the secret's content (parsed JSON, anything) at the start of a run: a JSON object of the runtime
    parameters of ``mode``, whose job fits the compute environment (at most ``max_vcpus``)."""
    if not isinstance(raw, Mapping):
        raise ParameterError(f"secret content={show_short(raw)} is not accepted: accepted a JSON object")
    names = [p.name for p in parameters_for(mode, runtime=True)]
    typed = validate(raw, mode, names, where="the secret")
    problems = _job_fits({**typed, "computeEnvironmentMaxvCpus": max_vcpus}, mode)
    if problems:
        raise ParameterError("; ".join(problems))
    return typed


def check_execution_name(name: str) -> None:
    """Per-run resource names embed the execution name; Batch names allow only [A-Za-z0-9_-]."""
    if not isinstance(name, str) or not _EXECUTION_NAME.fullmatch(name):
        raise ParameterError(
            f"execution name={show_short(name)} is not accepted: accepted 1-80 letters, digits, '-' or '_'"
        )

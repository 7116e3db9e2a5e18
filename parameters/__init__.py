"""The one definition of every parameter of both modes, and of how their values are checked.

- ``table``: each parameter's seed name, type, default per mode, whether the secret carries it and its rule;
  the modes and the data repository event types;
- ``history_budget``: the waits between a loop's checks (``backoff_schedule``, ``loop_schedules``) and the
  refusal of a set whose runs could outgrow the execution history (``history_problems``), counted by
  ``history_costs`` (what each loop writes: per check, or per WaitFor invocation) with the worst-case forms of the
  definitions, ``history_forms`` (generated from them);
- ``validation``: stack config (``settings.py``), the secret (``validate_runtime``, at the start of every run
  by ``lambda/extract_parameters.py``) and ``params set`` edits, every problem in one ``ParameterError`` line;
  the rules between parameters (``RULES``), each with what it accepts in words;
- ``overrides``: a run's execution input (``validate_overrides``);
- ``text``: the checks every string and integer from outside goes through, and how a value is shown.

Plain standard-library Python with relative imports only, so that it runs unchanged in the Lambda runtime
(Python 3.12; the ExtractParameters archive ships this package, ``asl/naming.py`` ``LAMBDA_FILES``) and in the
Pulumi program (Python 3.11). Every public name is re-exported here: ``from parameters import X``.
"""

from .derived_names import (
    BINDING_NAME,
    DERIVED_NAMES,
    ENV_NAME_MAX_LENGTH,
    DerivedName,
    state_machine_problem,
)
from .history_budget import (
    ASSOCIATION_UPDATE_TIMEOUT_MINUTES,
    AUTO_EXPORT_TASK_WAIT_SECONDS,
    BACKOFF_FIRST_SECONDS,
    BACKOFF_GROWTH,
    COMPUTE_ENVIRONMENT_TIMEOUT_MINUTES,
    HISTORY_EVENT_LIMIT,
    JOB_STOP_TIMEOUT_MINUTES,
    LOOPS,
    MIN_CREATION_MINUTES,
    Loop,
    backoff_schedule,
    check_count,
    history_parameters,
    history_problems,
    loop_bound_seconds,
    loop_schedules,
    loop_turns,
    worst_cases,
)
from .history_costs import CHECK_SECONDS, Term, checks_of, evaluate, invocations, invocations_of
from .overrides import (
    INPUT_KEYS,
    MAX_ARRAY_SIZE,
    MAX_COMMAND_ITEM_CHARS,
    MAX_COMMAND_ITEMS,
    MAX_ENVIRONMENT_VARIABLES,
    RESERVED_ENVIRONMENT_PREFIX,
    validate_overrides,
)
from .payload import SUBMIT_JOB_PAYLOAD_LIMIT_BYTES, container_overrides, submit_job_parameters
from .table import (
    AUTO_EXPORT,
    BY_NAME,
    DATA_REPOSITORY_EVENTS,
    EVENT_CHANGED,
    EVENT_DELETED,
    EVENT_NEW,
    LOG_RETENTION_DAYS,
    MAX_LANES,
    MODES,
    PARAMETERS,
    TASK_EXPORT,
    Parameter,
    check_mode,
    parameters_for,
    runtime_defaults,
)
from .text import MAX_INTEGER_DIGITS, NO_CONTROL, ParameterError, has_control, parse_integer, show_key, show_short
from .validation import (
    RULES,
    Rule,
    check_execution_name,
    coerce,
    cross_field_problems,
    parse_secret,
    rules_of,
    validate,
    validate_runtime,
    validate_value,
)

__all__ = [
    "BINDING_NAME",
    "DERIVED_NAMES",
    "ENV_NAME_MAX_LENGTH",
    "DerivedName",
    "state_machine_problem",
    "ASSOCIATION_UPDATE_TIMEOUT_MINUTES",
    "CHECK_SECONDS",
    "MIN_CREATION_MINUTES",
    "Term",
    "checks_of",
    "evaluate",
    "history_parameters",
    "invocations",
    "invocations_of",
    "loop_turns",
    "worst_cases",
    "AUTO_EXPORT",
    "AUTO_EXPORT_TASK_WAIT_SECONDS",
    "BACKOFF_FIRST_SECONDS",
    "BACKOFF_GROWTH",
    "BY_NAME",
    "LOG_RETENTION_DAYS",
    "MAX_LANES",
    "COMPUTE_ENVIRONMENT_TIMEOUT_MINUTES",
    "DATA_REPOSITORY_EVENTS",
    "EVENT_CHANGED",
    "EVENT_DELETED",
    "EVENT_NEW",
    "HISTORY_EVENT_LIMIT",
    "INPUT_KEYS",
    "JOB_STOP_TIMEOUT_MINUTES",
    "LOOPS",
    "Loop",
    "MAX_ARRAY_SIZE",
    "MAX_COMMAND_ITEMS",
    "MAX_COMMAND_ITEM_CHARS",
    "MAX_ENVIRONMENT_VARIABLES",
    "MAX_INTEGER_DIGITS",
    "MODES",
    "NO_CONTROL",
    "PARAMETERS",
    "Parameter",
    "ParameterError",
    "RESERVED_ENVIRONMENT_PREFIX",
    "RULES",
    "Rule",
    "SUBMIT_JOB_PAYLOAD_LIMIT_BYTES",
    "TASK_EXPORT",
    "backoff_schedule",
    "check_count",
    "check_execution_name",
    "check_mode",
    "coerce",
    "container_overrides",
    "cross_field_problems",
    "has_control",
    "history_problems",
    "loop_bound_seconds",
    "loop_schedules",
    "parameters_for",
    "parse_integer",
    "parse_secret",
    "rules_of",
    "runtime_defaults",
    "show_key",
    "show_short",
    "submit_job_parameters",
    "validate",
    "validate_overrides",
    "validate_runtime",
    "validate_value",
]

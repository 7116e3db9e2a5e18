"""Stack config -> a validated ``Settings`` object, before any resource is declared.

``settings_from_config`` is the one reader of stack config: it takes the config as Pulumi hands it to
the program (full keys ``batch-lustre:<key>``, string values, lists as JSON text), whether it comes from
``pulumi.Config`` (``stack.py``) or from ``Pulumi.<stack>.yaml`` (``load_stack_config``, for the tools),
and returns typed values or raises ``ParameterError``: one line naming key, value and what is accepted.
Values are also checked against botocore's service model where it has an enum for them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import botocore.loaders
import yaml
from botocore.model import ServiceModel

from batch_lustre.program.asl.data_layout import DataLayout
from batch_lustre.program.asl.naming import OUTPUT_BUCKET_NAME, OUTPUT_ENV_NAME, OUTPUT_MODE, OUTPUT_REGION, PROJECT
from batch_lustre.program.parameters import (
    BY_NAME,
    MODES,
    ParameterError,
    check_mode,
    parameters_for,
    runtime_defaults,
    state_machine_problem,
    validate,
)

CONFIG_PREFIX = f"{PROJECT}:"
MODE_KEY = f"{CONFIG_PREFIX}mode"
REGION_KEY = "aws:region"
# Fargate cannot take a launch template nor mount Lustre, so of botocore's
# Batch CRType enum only these two are usable.
USABLE_COMPUTE_TYPES = ("EC2", "SPOT")
# Launch-template updates (infrastructure updates) need one of these allocation strategies
# (AWS_FACTS, AWS Batch: "Updating compute environments"); a newer botocore value is not
# accepted until it is known to allow them.
STRATEGIES_ALLOWING_UPDATES = ("BEST_FIT_PROGRESSIVE", "SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED")


@cache
def botocore_enum(service: str, shape: str) -> tuple[str, ...]:
    """The enum of ``shape`` in botocore's model of ``service``."""
    # The loader alone, not a session: a session reads the AWS config (AWS_PROFILE naming a profile this machine
    # lacks would make every stack check fail), and the model needs none of it.
    model = ServiceModel(botocore.loaders.Loader().load_service_model(service, "service-2"), service_name=service)
    return tuple(model.shape_for(shape).enum)


def accepted_compute_types() -> list[str]:
    return [t for t in botocore_enum("batch", "CRType") if t in USABLE_COMPUTE_TYPES]


def accepted_allocation_strategies(compute_type: str) -> list[str]:
    strategies = [s for s in botocore_enum("batch", "CRAllocationStrategy") if s in STRATEGIES_ALLOWING_UPDATES]
    if compute_type != "SPOT":
        strategies = [s for s in strategies if not s.startswith("SPOT_")]
    return strategies


def accepted_words(name: str) -> str:
    """What stack config accepts for parameter ``name``, in words: the table's words, or for the compute
    environment's type and allocation strategy what botocore's model and launch-template updates leave."""
    if name == "computeEnvironmentType":
        return " or ".join(accepted_compute_types())
    if name == "computeEnvironmentAllocationStrategy":
        every = accepted_allocation_strategies("SPOT")
        spot_only = [s for s in every if s not in accepted_allocation_strategies("EC2")]
        return (
            f"{', '.join(every)} (strategies that allow launch-template updates; {', '.join(spot_only)} only with "
            "computeEnvironmentType SPOT)"
        )
    return BY_NAME[name].accepted_words


@dataclass(frozen=True)
class Settings:
    """Every parameter of the stack's mode, typed and checked (``values``: name -> value).

    The program reads the stack config parameters through the typed properties below; the runtime
    parameters go to the secret as a whole (``runtime_defaults``).
    """

    mode: str
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def runtime_defaults(self) -> dict[str, Any]:
        """The runtime parameters: the secret's initial content."""
        return runtime_defaults(self.values, self.mode)

    @property
    def env_name(self) -> str:
        return str(self.values["envName"])

    @property
    def resource_prefix(self) -> str:
        """Prefix of every resource name: ``envName`` in lower case."""
        return self.env_name.lower()

    def ecr_repository_name(self, stack: str) -> str:
        """``ecrRepositoryName``, or when it is "" (the default) ``<envName>-<stack>`` in lower case: two stacks
        of one stack file (dev, prod) then get two repositories."""
        configured = str(self.values["ecrRepositoryName"])
        return configured or f"{self.resource_prefix}-{stack.lower()}"

    @property
    def ecr_untagged_image_expiry_days(self) -> int:
        return int(self.values["ecrUntaggedImageExpiryDays"])

    @property
    def bucket_noncurrent_version_expiry_days(self) -> int:
        """0: the bucket keeps noncurrent versions forever."""
        return int(self.values["bucketNoncurrentVersionExpiryDays"])

    @property
    def protect_bucket(self) -> bool:
        return bool(self.values["protectBucket"])

    @property
    def protect_repository(self) -> bool:
        return bool(self.values["protectRepository"])

    @property
    def compute_environment_type(self) -> str:
        return str(self.values["computeEnvironmentType"])

    @property
    def compute_environment_allocation_strategy(self) -> str:
        return str(self.values["computeEnvironmentAllocationStrategy"])

    @property
    def compute_environment_instance_types(self) -> list[str]:
        return [str(t) for t in self.values["computeEnvironmentInstanceTypes"]]

    @property
    def compute_environment_min_vcpus(self) -> int:
        return int(self.values["computeEnvironmentMinvCpus"])

    @property
    def compute_environment_max_vcpus(self) -> int:
        return int(self.values["computeEnvironmentMaxvCpus"])

    @property
    def compute_environment_desired_vcpus(self) -> int:
        return int(self.values["computeEnvironmentDesiredvCpus"])

    @property
    def max_concurrent_runs(self) -> int:
        """How many lanes the stack deploys (a compute environment and its job queue each)."""
        return int(self.values["maxConcurrentRuns"])

    @property
    def job_log_retention_days(self) -> int:
        return int(self.values["jobLogRetentionDays"])

    @property
    def data_layout(self) -> DataLayout:
        return DataLayout(
            str(self.values["dataRepositoryInputPrefix"]), str(self.values["dataRepositoryResultsPrefix"])
        )


def load_settings(mode: str, raw: Mapping[str, Any], *, where: str = "stack config") -> Settings:
    """Validate the parameters ``raw`` (name -> value, unset ones take their default) of a stack in ``mode``.

    ``where`` names where the values come from, for the messages.
    """
    check_mode(mode)
    names = [p.name for p in parameters_for(mode)]
    missing_defaults = {n: BY_NAME[n].defaults[mode] for n in names if n not in raw}
    typed = validate({**missing_defaults, **raw}, mode, names, where=where)
    problems = []
    compute_type = typed["computeEnvironmentType"]
    if compute_type not in accepted_compute_types():
        problems.append(
            f"computeEnvironmentType={compute_type!r} is not accepted: accepted {' or '.join(accepted_compute_types())}"
        )
    strategy = typed["computeEnvironmentAllocationStrategy"]
    strategies = accepted_allocation_strategies(compute_type)
    if strategy not in strategies:
        problems.append(
            f"computeEnvironmentAllocationStrategy={strategy!r} is not accepted with computeEnvironmentType="
            f"{compute_type!r}: accepted {', '.join(strategies)} (strategies that allow launch-template updates)"
        )
    if problems:
        raise ParameterError("; ".join(problems))
    return Settings(mode=mode, values=typed)


def settings_from_config(config: Mapping[str, str], *, source: str = "stack config") -> Settings:
    """The validated settings of the stack config ``config``, as Pulumi hands it to the program.

    ``config``: full keys (``batch-lustre:lustreStorageCapacity``, ``aws:region``) to string values, a
    structured value (a YAML list) as JSON text. Keys of other namespaces are ignored; an unknown key of
    the project's is refused (a misspelled key must not silently leave a default in place). A list
    parameter takes a JSON list or comma-separated names. ``source`` names where the config comes from
    ("stack config", "Pulumi.taskexport.yaml") for the messages.

    Raises ``ParameterError``, one line naming key, value and what is accepted, for anything refused.
    """
    mode = config.get(MODE_KEY)
    if mode is None:
        raise ParameterError(f"{MODE_KEY} is missing from {source}: accepted {' or '.join(MODES)}")
    raw: dict[str, Any] = {}
    for key, value in config.items():
        if not key.startswith(CONFIG_PREFIX) or key == MODE_KEY:
            continue
        name = key[len(CONFIG_PREFIX) :]
        parameter = BY_NAME.get(name)
        raw[name] = _decode_list(name, value) if parameter is not None and parameter.kind == "str_list" else value
    return load_settings(mode, raw, where=source)


def check_stack_names(settings: Settings, stack: str) -> None:
    """Refuse (``ParameterError``, one line) an ``envName`` whose state machine names in ``stack`` would not fit
    Step Functions' limit (the names every other derived name has are bounded by ``envName``'s own rule), and a
    default ECR repository name (``<envName>-<stack>``) that ECR would not accept."""
    problem = state_machine_problem(settings.env_name, stack)
    if problem is not None:
        raise ParameterError(problem)
    repository = settings.ecr_repository_name(stack)
    check = BY_NAME["ecrRepositoryName"].check
    if not settings.values["ecrRepositoryName"] and check is not None and not check(repository):
        raise ParameterError(
            f'ecrRepositoryName="" is not accepted with envName="{settings.env_name}" and stack {stack}: its default '
            f"{repository} is not an ECR repository name: accepted an explicit ecrRepositoryName (2-256 lowercase "
            "letters, digits, . _ - /, one . _ or - between two of them)"
        )


# The stack config keys that make a deployed stack's identity, each with the stack output that records it. A change
# of one would rename or move every resource (a new stack in all but name): refused by ``check_identity``.
IDENTITY_KEYS: tuple[tuple[str, str], ...] = (
    (f"{CONFIG_PREFIX}envName", OUTPUT_ENV_NAME),
    (MODE_KEY, OUTPUT_MODE),
    (REGION_KEY, OUTPUT_REGION),
)


def stack_identity(settings: Settings, config: Mapping[str, str]) -> dict[str, str]:
    """The stack's identity as the program exports it: output name -> value (the Region "" when the stack config
    names none)."""
    return {OUTPUT_ENV_NAME: settings.env_name, OUTPUT_MODE: settings.mode, OUTPUT_REGION: config.get(REGION_KEY, "")}


def check_identity(stack: str, deployed: Mapping[str, Any], identity: Mapping[str, str]) -> None:
    """Refuse (``ParameterError``, one line) a change of ``envName``, ``mode`` or ``aws:region`` of a deployed
    stack: ``deployed`` holds the stack outputs of its last deploy (empty for a stack never deployed: nothing to
    compare; a value it lacks, or that is "", is not compared), ``identity`` what ``stack_identity`` gives now.
    The line says what to do instead: a new stack, the data moved to it, then the old one destroyed."""
    for key, output in IDENTITY_KEYS:
        before, now = deployed.get(output), identity.get(output, "")
        if before is None or before == "" or now == "" or str(before) == now:
            continue
        bucket = deployed.get(OUTPUT_BUCKET_NAME) or "<its bucket>"
        raise ParameterError(
            f'{key}="{now}" is not accepted: stack {stack} was deployed with {key}="{before}", and a deployed '
            f'stack\'s envName, mode and aws:region are fixed: accepted "{before}"; for {now}, make a new stack '
            f"(pulumi stack init <new stack>, set {key} in Pulumi.<new stack>.yaml, batch-lustre deploy <new stack>, "
            f"aws s3 sync s3://{bucket} s3://<the new stack's bucket>), then destroy {stack}"
        )


def _decode_list(name: str, text: str) -> Any:
    """A list parameter's value: a YAML list arrives as JSON text; other text is left for the parameter check
    (which takes comma-separated names). Text that starts like a JSON list but is not one is refused here."""
    if not isinstance(text, str) or not text.lstrip().startswith("["):
        return text
    try:
        decoded = json.loads(text)
    except ValueError:
        decoded = None
    if not isinstance(decoded, list):
        raise ParameterError(
            f"{name}={json.dumps(text)} is not accepted: accepted {BY_NAME[name].accepted} "
            "(a YAML list, a JSON list or comma-separated names)"
        )
    return decoded


def load_stack_config(stack: str, project_dir: Path) -> dict[str, str]:
    """``Pulumi.<stack>.yaml``'s config as Pulumi hands it to the program: every scalar as written (a string),
    structured values (lists) as JSON text of their YAML values. ``ParameterError`` if it is not a stack file."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    return stack_file_config(path.name, path.read_text(encoding="utf-8"))


def stack_file_config(file_name: str, text: str) -> dict[str, str]:
    """``load_stack_config`` of the text of the stack file ``file_name``."""
    return dict(_stack_file_config(file_name, text))


@lru_cache(maxsize=32)
def _stack_file_config(file_name: str, text: str) -> dict[str, str]:
    """``load_stack_config`` of a file's text (kept per text: the tools and the emulation read the same few files
    again and again; the caller gets a copy)."""
    try:
        as_written = yaml.load(text, Loader=yaml.BaseLoader)  # scalars stay strings, as in Pulumi
        typed = yaml.safe_load(text)  # the values inside lists, as Pulumi passes them (JSON)
    except yaml.YAMLError as err:
        problem = " ".join(str(err).split())
        raise ParameterError(f"{file_name} is not accepted ({problem}): accepted a YAML stack file") from None
    config = _config_section(as_written)
    if config is None:
        raise ParameterError(f"{file_name} is not accepted: accepted a YAML stack file with a config mapping")
    typed_config = _config_section(typed) or {}
    return {
        str(key): value if isinstance(value, str) else json.dumps(typed_config.get(key, value), default=str)
        for key, value in config.items()
    }


def _config_section(document: Any) -> dict[Any, Any] | None:
    """The ``config`` mapping of a stack file ({} if it has none), None if the file is no mapping or it is not."""
    if document is None or document == "":  # an empty file
        return {}
    if not isinstance(document, dict):
        return None
    config = document.get("config") or {}  # `config:` alone reads "" (BaseLoader) or None
    return config if isinstance(config, dict) else None

"""Stack config -> a validated ``Settings`` object, before any resource is declared.

Pure: takes the raw config values (strings, or lists for structured config) and
returns typed values, or raises ``ParameterError`` naming key, value and what
is accepted. Checks values against botocore's service model where it has an
enum for them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import yaml

from parameters import (
    AUTO_EXPORT,
    BY_NAME,
    ParameterError,
    check_mode,
    parameters_for,
    runtime_defaults,
    validate,
)

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
    model = botocore.session.get_session().get_service_model(service)
    return tuple(model.shape_for(shape).enum)


def accepted_compute_types() -> list[str]:
    return [t for t in botocore_enum("batch", "CRType") if t in USABLE_COMPUTE_TYPES]


def accepted_allocation_strategies(compute_type: str) -> list[str]:
    strategies = [s for s in botocore_enum("batch", "CRAllocationStrategy") if s in STRATEGIES_ALLOWING_UPDATES]
    if compute_type != "SPOT":
        strategies = [s for s in strategies if not s.startswith("SPOT_")]
    return strategies


@dataclass(frozen=True)
class Settings:
    """Every parameter of the stack's mode, typed and checked."""

    mode: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def runtime_defaults(self) -> dict[str, Any]:
        """The runtime parameters: the secret's initial content."""
        return runtime_defaults(self.values, self.mode)

    @property
    def resource_prefix(self) -> str:
        return str(self.values["envName"]).lower()


def load_settings(mode: str, raw: Mapping[str, Any]) -> Settings:
    """Validate the stack config ``raw`` (key -> value) of a stack in ``mode``."""
    check_mode(mode)
    names = [p.name for p in parameters_for(mode)]
    missing_defaults = {n: BY_NAME[n].defaults[mode] for n in names if n not in raw}
    typed = validate({**missing_defaults, **raw}, mode, names, where="stack config")
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


def is_auto_export(settings: Settings) -> bool:
    return settings.mode == AUTO_EXPORT


def load_stack_config(stack: str, project_dir: Path) -> dict[str, str]:
    """``Pulumi.<stack>.yaml``'s config as Pulumi hands it to the program: every scalar as
    written (a string), structured values (lists) as JSON text."""
    with open(project_dir / f"Pulumi.{stack}.yaml", encoding="utf-8") as f:
        document = yaml.load(f, Loader=yaml.BaseLoader)  # BaseLoader: scalars stay strings, as in Pulumi
    config = (document or {}).get("config") or {}
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}

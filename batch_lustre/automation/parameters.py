"""The runtime parameters of a deployed stack: the JSON object in its Secrets Manager secret, read and edited.

Every value is checked as stack config is (the program's ``parameters.py``); a refused edit raises
``ParameterError`` and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batch_lustre.automation import clients
from batch_lustre.automation.boundary import operation
from batch_lustre.automation.errors import AwsError, one_line
from batch_lustre.automation.stacks import load_outputs, required_output, stack_region, stack_settings
from batch_lustre.program.asl.naming import OUTPUT_SECRET_NAME, PROJECT
from batch_lustre.program.parameters import (
    BY_NAME,
    ParameterError,
    parameters_for,
    parse_secret,
    show_key,
    validate_runtime,
    validate_value,
)


@dataclass(frozen=True)
class RuntimeParameters:
    """The secret's runtime parameters next to the values stack config gives them."""

    stack: str
    mode: str
    secret_id: str
    current: dict[str, Any]  # the secret's JSON object as stored
    config: dict[str, Any]  # runtime parameters as stack config sets them (typed)
    problem: str | None  # why the secret would be refused at the start of a run (None: accepted)

    def differs(self, name: str) -> bool:
        """True if the secret's value of ``name`` is not the stack config's (missing counts)."""
        if name not in self.current:
            return True
        try:
            return validate_value(BY_NAME[name], self.current[name]) != self.config.get(name)
        except ParameterError:
            return True

    @property
    def names(self) -> list[str]:
        """Runtime parameters of the mode, then any unknown key found in the secret."""
        known = [p.name for p in parameters_for(self.mode, runtime=True)]
        return known + sorted(k for k in self.current if k not in known)


def _secret_document(text: str | None) -> dict[str, Any]:
    try:
        document = json.loads(text or "")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


@operation
def read_parameters(
    stack: str,
    *,
    secret_id: str | None = None,
    outputs_file: Path | None = None,
    client: Any | None = None,
    work_dir: Path | None = None,
) -> RuntimeParameters:
    """The runtime parameters in the stack's secret (``secret_id`` or the output ``secretName``)."""
    settings = stack_settings(stack, work_dir)
    if secret_id is None:
        secret_id = required_output(load_outputs(stack, outputs_file, work_dir=work_dir), OUTPUT_SECRET_NAME, stack)
    secrets_manager = client or clients.aws_client("secretsmanager", stack_region(stack, work_dir))
    text = _get_secret(secrets_manager, secret_id)
    try:
        validate_runtime(parse_secret(text) if text else None, settings.mode, settings.compute_environment_max_vcpus)
        problem = None
    except ParameterError as err:  # as the run's ExtractParameters would refuse it
        problem = one_line(str(err), 2000)
    return RuntimeParameters(
        stack, settings.mode, secret_id, _secret_document(text), settings.runtime_defaults, problem
    )


def _get_secret(client: Any, secret_id: str) -> str | None:
    """The secret's string; a secret that is not there named as such (any other error: the API's boundary)."""
    from botocore.exceptions import ClientError

    try:
        return client.get_secret_value(SecretId=secret_id).get("SecretString")
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code != "ResourceNotFoundException":
            raise
        raise AwsError(
            f"secret {secret_id!r} could not be read: {code}: "
            f"{one_line(err.response.get('Error', {}).get('Message', ''))}"
        ) from None


@operation
def parse_assignment(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` -> (KEY, VALUE); ``ParameterError`` otherwise."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ParameterError(f"{text!r} is not accepted: accepted KEY=VALUE, e.g. lustreStorageCapacity=4800")
    return key.strip(), value.strip()


def _typed_value(mode: str, key: str, value: str) -> Any:
    """One runtime parameter's value, typed; ``ParameterError`` naming key, value and what is accepted."""
    runtime = [p.name for p in parameters_for(mode, runtime=True)]
    parameter = BY_NAME.get(key)
    if parameter is None or not parameter.applies_to(mode):
        raise ParameterError(
            f"{show_key(key)} is not a runtime parameter of mode {mode}: accepted keys {', '.join(runtime)}"
        )
    if not parameter.is_runtime(mode):
        raise ParameterError(
            f"{key} is a stack config parameter, not a runtime one: change it with "
            f"`pulumi config set {PROJECT}:{key} VALUE` and deploy; accepted keys {', '.join(runtime)}"
        )
    return validate_value(parameter, value)


def _mode_defaults(mode: str) -> dict[str, Any]:
    """The runtime parameters of ``mode`` at their defaults (the secret a stack with no config override gets)."""
    return {p.name: p.defaults[mode] for p in parameters_for(mode, runtime=True)}


def _checked_secret(
    mode: str, assignments: Mapping[str, str], max_vcpus: int | None, current: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the assignments typed, the whole secret they make, validated as a run's start validates it)."""
    typed = {key: _typed_value(mode, key, value) for key, value in assignments.items()}
    base = _mode_defaults(mode) if current is None else dict(current)
    limit = BY_NAME["computeEnvironmentMaxvCpus"].defaults[mode] if max_vcpus is None else max_vcpus
    return typed, validate_runtime({**base, **typed}, mode, limit)


@operation
def check_assignments(
    mode: str,
    assignments: Mapping[str, str],
    *,
    max_vcpus: int | None = None,
    current: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``assignments`` (KEY -> VALUE text) typed, checked as ``params set`` (``update_parameters``) checks an edit.

    Each key must be a runtime parameter of ``mode`` and each value of its type and range; then the whole
    secret they make (``current`` with them; default: the mode's defaults) must be accepted at the start of a
    run (``parameters.validate_runtime``): the rules between parameters, and jobDefinitionVcpus at most
    ``max_vcpus`` (the compute environment's maxvCpus; default: the mode's default computeEnvironmentMaxvCpus).
    ``ParameterError`` (one line: key, value, what is accepted) for a refusal.
    """
    return _checked_secret(mode, assignments, max_vcpus, current)[0]


@operation
def check_assignment(
    mode: str, key: str, value: str, *, max_vcpus: int | None = None, current: Mapping[str, Any] | None = None
) -> Any:
    """The typed value of runtime parameter ``key``, checked as ``check_assignments`` checks it (so as
    ``params set`` does: ``check_assignment("taskexport", "jobDefinitionVcpus", "300")`` is refused, 300 vCPUs
    being more than the default computeEnvironmentMaxvCpus)."""
    return check_assignments(mode, {key: value}, max_vcpus=max_vcpus, current=current)[key]


@operation
def update_parameters(
    stack: str,
    assignments: Mapping[str, str],
    *,
    secret_id: str | None = None,
    outputs_file: Path | None = None,
    client: Any | None = None,
    work_dir: Path | None = None,
) -> tuple[RuntimeParameters, dict[str, Any]]:
    """Set runtime parameters in the stack's secret; returns (before, the new document written).

    The edit is checked with ``check_assignments`` against the stack's computeEnvironmentMaxvCpus: first on
    the stack config's values (``Pulumi.<stack>.yaml``, before any call to Pulumi or AWS), then on the secret
    as read. A refused edit raises ``ParameterError`` and leaves the secret as it was.
    """
    settings = stack_settings(stack, work_dir)
    limit = settings.compute_environment_max_vcpus
    _checked_secret(settings.mode, assignments, limit, settings.runtime_defaults)
    secrets_manager = client or clients.aws_client("secretsmanager", stack_region(stack, work_dir))
    before = read_parameters(
        stack, secret_id=secret_id, outputs_file=outputs_file, client=secrets_manager, work_dir=work_dir
    )
    _, document = _checked_secret(settings.mode, assignments, limit, before.current)
    secrets_manager.put_secret_value(SecretId=before.secret_id, SecretString=json.dumps(document, sort_keys=True))
    return before, document


@operation
def reset_parameters(
    stack: str,
    *,
    secret_id: str | None = None,
    outputs_file: Path | None = None,
    client: Any | None = None,
    work_dir: Path | None = None,
) -> tuple[RuntimeParameters, dict[str, Any]]:
    """Write the runtime parameters as stack config sets them (``Pulumi.<stack>.yaml``) into the stack's secret, over
    every edit: a new version, current from now on (the edited one stays readable as AWSPREVIOUS); returns (before,
    the document written). ``pulumi up`` never does this (the secret's version is in its ``ignore_changes``)."""
    settings = stack_settings(stack, work_dir)
    secrets_manager = client or clients.aws_client("secretsmanager", stack_region(stack, work_dir))
    before = read_parameters(
        stack, secret_id=secret_id, outputs_file=outputs_file, client=secrets_manager, work_dir=work_dir
    )
    document = settings.runtime_defaults
    secrets_manager.put_secret_value(SecretId=before.secret_id, SecretString=json.dumps(document, sort_keys=True))
    return before, document

"""The Secrets Manager secret holding the run-time parameters every run starts from."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from batch_lustre.program.components import named


@dataclass
class RuntimeSecretArgs:
    """Inputs of :class:`RuntimeSecret`.

    ``values``: the runtime parameters and their values from validated stack config
    (``Settings.runtime_defaults``).
    """

    values: Mapping[str, Any]
    tags: Mapping[str, str] = field(default_factory=dict)


def secret_content(values: Mapping[str, Any]) -> str:
    """The secret's JSON text: stable key order, so equal values give an equal string (no diff)."""
    return json.dumps(dict(values), sort_keys=True)


class RuntimeSecret(pulumi.ComponentResource):
    """A secret whose JSON object holds the runtime parameters, and the version Pulumi
    writes from stack config. Each run reads the secret's current version
    (ExtractParameters validates it), so a parameter can be changed for the next runs by
    editing the secret, without ``pulumi up``.

    Who wins, a console edit or stack config: Pulumi diffs the program's inputs against
    the inputs recorded in its state, not against the live secret (only ``pulumi refresh``
    or ``up --refresh`` reads the live resource, and even then the provider reads back the
    version Pulumi created, by its version id, which an edit does not change: an edit
    adds a new version and moves AWSCURRENT to it). So:

    - ``pulumi up`` with no change to any runtime parameter's stack config leaves the
      secret alone: console edits survive.
    - ``pulumi up`` after a runtime parameter's stack config changed replaces the secret
      version (``secret_string`` forces a new version in the provider): the new version,
      holding ALL runtime parameters as in stack config, becomes AWSCURRENT and every
      console edit is superseded (it stays readable as AWSPREVIOUS).

    The secret keeps Secrets Manager's default recovery window, so a deleted stack's
    secret can be restored for 30 days.

    Outputs: ``secret_arn``, ``secret_name``.
    """

    def __init__(self, name: str, args: RuntimeSecretArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("batchlustre:index:RuntimeSecret", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        self.secret = self._create_secret()
        self.version = self._create_version()

        self.secret_arn = self.secret.arn
        self.secret_name = self.secret.name
        self.register_outputs({"secret_arn": self.secret_arn, "secret_name": self.secret_name})

    def _create_secret(self) -> aws.secretsmanager.Secret:
        return aws.secretsmanager.Secret(
            f"{self._name}-runtime-parameters",
            description="Run-time parameters of the Batch + Lustre workflow (JSON); read at the start of every run",
            tags=named(self._args.tags, f"{self._name}-runtime-parameters"),
            opts=self._child,
        )

    def _create_version(self) -> aws.secretsmanager.SecretVersion:
        return aws.secretsmanager.SecretVersion(
            f"{self._name}-runtime-parameters",
            secret_id=self.secret.id,
            secret_string=secret_content(self._args.values),
            opts=self._child,
        )

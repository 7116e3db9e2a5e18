"""The Secrets Manager secret holding the run-time parameters every run starts from."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from batch_lustre.program.components import Tags, named


@dataclass
class RuntimeSecretArgs:
    """Inputs of :class:`RuntimeSecret`.

    ``values``: the runtime parameters and their values from validated stack config
    (``Settings.runtime_defaults``).
    """

    values: Mapping[str, Any]
    label: str = ""  # what each Name tag starts with (envName in lower case); the component's name when empty
    tags: Tags = field(default_factory=dict)


# The staging label of the version Pulumi writes: a label it keeps whatever the edits (see RuntimeSecret).
INITIAL_STAGE = "batch-lustre-initial"
CURRENT_STAGE = "AWSCURRENT"
# What ``pulumi up`` and ``pulumi refresh`` leave to the secret's users (Pulumi property paths).
IGNORED_SECRET_CHANGES = ("secretString", "versionStages")


def secret_content(values: Mapping[str, Any]) -> str:
    """The secret's JSON text: stable key order, so equal values give an equal string (no diff)."""
    return json.dumps(dict(values), sort_keys=True)


class RuntimeSecret(pulumi.ComponentResource):
    """A secret whose JSON object holds the runtime parameters, and its first version, written
    from stack config. Each run reads the secret's current version (ExtractParameters
    validates it), so a parameter can be changed for the next runs by editing the secret,
    without ``pulumi up``; ``batch-lustre params reset`` writes stack config into it again,
    on purpose.

    Edits survive every later ``pulumi up`` and ``pulumi refresh`` (docs/aws-rules.md,
    "Secrets Manager: the secret's versions"):

    - ``secretString`` and ``versionStages`` are in ``ignore_changes``: a changed runtime
      parameter in stack config, or a refresh that read the version's labels after an edit
      moved AWSCURRENT away, sends nothing.
    - The version carries its own staging label (``INITIAL_STAGE``) besides AWSCURRENT, so
      it never becomes a version without labels, which Secrets Manager may delete and which
      a refresh would then drop from the state, for the next ``up`` to create it again from
      stack config (reverting the edits).

    The secret keeps Secrets Manager's default recovery window, so a deleted stack's
    secret can be restored for 30 days.

    Outputs: ``secret_arn``, ``secret_name``.
    """

    def __init__(self, name: str, args: RuntimeSecretArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("batchlustre:index:RuntimeSecret", name, None, opts)
        self._name = name
        self._label = args.label or name
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
            tags=named(self._args.tags, f"{self._label}-runtime-parameters"),
            opts=self._child,
        )

    def _create_version(self) -> aws.secretsmanager.SecretVersion:
        return aws.secretsmanager.SecretVersion(
            f"{self._name}-runtime-parameters",
            secret_id=self.secret.id,
            secret_string=secret_content(self._args.values),
            version_stages=[CURRENT_STAGE, INITIAL_STAGE],
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=list(IGNORED_SECRET_CHANGES)),
        )

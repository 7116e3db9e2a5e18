"""Secrets Manager's staging labels as AWS moves them, and the deletion of deprecated versions.

- PutSecretValue that makes a new version current moves AWSCURRENT to it and AWSPREVIOUS to the version it came
  from; the other labels stay where they are (Secrets Manager API reference, PutSecretValue ``VersionStages``:
  "Secrets Manager also moves the staging label AWSPREVIOUS to the version that AWSCURRENT was removed from").
  moto replaces the previous version's labels with AWSPREVIOUS alone: patched here (``install``).
- "Versions that don't have staging labels are considered deprecated and Secrets Manager can delete them"
  (DescribeSecret, ``VersionIdsToStages``): ``delete_deprecated_versions`` does it, when a test says so.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from batch_lustre.emulation import moto_seam
from batch_lustre.emulation.clients import client
from batch_lustre.emulation.moto_seam import FakeSecret, secretsmanager_backends

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"


def install(stack: ExitStack) -> None:
    """Patch moto's move of AWSCURRENT so that it keeps the previous version's other labels."""

    def reset_default_version(self: FakeSecret, secret_version: dict[str, Any], version_id: str) -> None:
        for old_version in self.versions.values():
            if PREVIOUS in old_version["version_stages"]:
                old_version["version_stages"].remove(PREVIOUS)
        if self.default_version_id:
            previous = self.versions[self.default_version_id]["version_stages"]
            previous[:] = [PREVIOUS, *(s for s in previous if s not in (CURRENT, PREVIOUS))]
        self.versions[version_id] = secret_version
        self.default_version_id = version_id

    moto_seam.patch(stack, FakeSecret, "reset_default_version", reset_default_version)


def delete_deprecated_versions(region: str, secret_id: str) -> list[str]:
    """Delete the secret's versions that have no staging label, as Secrets Manager may; their ids."""
    arn = client("secretsmanager", region).describe_secret(SecretId=secret_id)["ARN"]
    secret = secretsmanager_backends[arn.split(":")[4]][region].secrets[arn]
    gone = [v for v, version in secret.versions.items() if not version.get("version_stages")]
    for version_id in gone:
        del secret.versions[version_id]
    return gone

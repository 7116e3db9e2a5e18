"""Bucket policies evaluated with their conditions (docs/aws-rules.md, "The deployed stack").

The program's bucket denies every request made without TLS (``aws:SecureTransport`` false). moto evaluates a
bucket policy's statements without their conditions, so that Deny would refuse every object request; here the
policy is evaluated as IAM does (``emulation.iam.Policy``), with the request's context: every request in the
emulation is made by boto3 over HTTPS (its default endpoints), so ``aws:SecureTransport`` is true.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from batch_lustre.emulation import moto_seam
from batch_lustre.emulation.iam import Policy
from batch_lustre.emulation.moto_seam import FakeBucket, PermissionResult

REQUEST_CONTEXT = {"aws:securetransport": ("true",)}


def install(stack: ExitStack) -> None:
    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        return Policy(self.policy.decode()).evaluate(action, resource, REQUEST_CONTEXT)

    moto_seam.patch(stack, FakeBucket, "get_permission", get_permission)

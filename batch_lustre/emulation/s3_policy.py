"""Bucket policies evaluated with their conditions (docs/aws-rules.md, "The deployed stack").

The program's bucket denies every request made without TLS (``aws:SecureTransport`` false). moto evaluates a
bucket policy's statements without their conditions, so that Deny would refuse every object request; here the
policy is evaluated as IAM does (``emulation.iam.Policy``), with the request's context: every request in the
emulation is made by boto3 over HTTPS (its default endpoints), so ``aws:SecureTransport`` is true.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any
from unittest import mock

from moto.s3.models import FakeBucket

from batch_lustre.emulation.iam import Policy

REQUEST_CONTEXT = {"aws:securetransport": ("true",)}


def install(stack: ExitStack) -> None:
    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        from moto.iam.access_control import PermissionResult

        if self.policy is None:
            return PermissionResult.NEUTRAL
        return Policy(self.policy.decode()).evaluate(action, resource, REQUEST_CONTEXT)

    stack.enter_context(mock.patch.object(FakeBucket, "get_permission", get_permission))

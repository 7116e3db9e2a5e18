"""boto3 clients for the run and parameter operations (moto intercepts them in tests and in the demo)."""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3

from batch_lustre.automation.boundary import operation

# What a session's credentials come from: a change of any of these in the process gets a new session.
CREDENTIAL_SOURCES = ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_DEFAULT_REGION")


@operation
def aws_client(service: str, region: str | None = None) -> Any:
    """A boto3 client of ``service`` in ``region`` (None: boto3's default region).

    Sessions are reused (loading botocore's service models is what makes a new session slow), one per
    region and credential source.
    """
    source = tuple(os.environ.get(k) for k in CREDENTIAL_SOURCES)
    return _session(region, source).client(service)


@functools.lru_cache(maxsize=16)
def _session(region: str | None, credential_source: tuple[str | None, ...]) -> boto3.session.Session:
    return boto3.session.Session(region_name=region)


@operation
def region_of(arn: str) -> str | None:
    """The region of an ARN (``arn:aws:states:<region>:...``), None if it has none."""
    parts = arn.split(":")
    return parts[3] or None if len(parts) > 3 else None

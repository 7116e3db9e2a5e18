"""boto3 clients for the emulation's own calls, created once per process (creating one costs 10-50 ms).

moto intercepts every client while an emulation is active, and the patches of the active emulation apply to
each call whenever the client was created, so a client outlives the emulation it was first made in.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any

import boto3
import botocore
from botocore.config import Config

_LOCK = threading.Lock()
_CLIENTS: dict[tuple[str, ...], Any] = {}


@functools.cache
def shared_session() -> boto3.Session:
    """One boto3 session for the process: botocore's service models are parsed once, not once per emulation."""
    return boto3.Session()


def cached(key: tuple[str, ...], create: Callable[[], Any]) -> Any:
    """The client stored under ``key``; ``create()`` makes it the first time."""
    with _LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = create()
        return _CLIENTS[key]


# The emulation's own calls (deploying the stack, reading what a run did) are not signed: the emulated AWS
# authorises by principal (emulation/iam.py), not by signature, and signing is a third of a call's cost. The
# Lambda handlers and the operator's tools make signed calls, as they would on AWS.
UNSIGNED = Config(signature_version=botocore.UNSIGNED)


def client(service: str, region: str) -> Any:
    """An unsigned client of the shared session, for the emulation's own calls."""
    key = ("session", service, region, os.environ.get("AWS_ACCESS_KEY_ID", ""))
    return cached(key, lambda: shared_session().client(service, region_name=region, config=UNSIGNED))

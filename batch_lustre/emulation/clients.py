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


def client(service: str, region: str) -> Any:
    """A client of the shared session, with the credentials of the environment it is first asked for in."""
    key = ("session", service, region, os.environ.get("AWS_ACCESS_KEY_ID", ""))
    return cached(key, lambda: shared_session().client(service, region_name=region))

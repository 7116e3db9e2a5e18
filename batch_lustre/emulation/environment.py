"""The process environment the emulated AWS runs in: fake credentials, no real account, a quiet interpreter.

Standard library only, and importable before moto: moto cannot even be imported while AWS_PROFILE names a
profile this machine lacks, so callers enter this environment first and import the emulation inside it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

# Variables that would send boto3 to a real account, or to a profile this machine may not have.
REAL_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


@contextmanager
def offline_environment(region: str) -> Iterator[None]:
    """Fake credentials and no profile while it lasts (moto answers every call).

    moto's Step Functions interpreter logs every error a state catches, with the whole state as text;
    a run's own report says what matters, so those logs are silenced meanwhile.
    """
    cleared = {k: v for k, v in os.environ.items() if k not in REAL_AWS_VARIABLES}
    cleared.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": region,
        }
    )
    interpreter_log = logging.getLogger("moto.stepfunctions.parser")
    level = interpreter_log.level
    interpreter_log.setLevel(logging.CRITICAL)
    try:
        with mock.patch.dict(os.environ, cleared, clear=True):
            yield
    finally:
        interpreter_log.setLevel(level)

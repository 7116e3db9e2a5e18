"""The process environment the emulated AWS runs in: fake credentials, no real account, a quiet interpreter.

Standard library only, and importable before moto: moto cannot even be imported while AWS_PROFILE names a
profile this machine lacks, so callers enter this environment first and import the emulation inside it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

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
def environment_variables(values: dict[str, str | None]) -> Iterator[None]:
    """``values`` in ``os.environ`` while it lasts (``None``: unset); on leaving, those keys alone are restored.

    Unlike ``mock.patch.dict``, it restores no snapshot of the whole environment, so a variable another party
    set or removed meanwhile (a test's ``monkeypatch`` undone first) stays as that party left it.
    """
    previous = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            _set(key, value)
        yield
    finally:
        for key, value in previous.items():
            _set(key, value)


def _set(key: str, value: str | None) -> None:
    if value is not None:
        os.environ[key] = value
    elif key in os.environ:
        del os.environ[key]


@contextmanager
def offline_environment(region: str) -> Iterator[None]:
    """Fake credentials and no profile while it lasts (moto answers every call).

    moto's Step Functions interpreter logs every error a state catches, with the whole state as text;
    a run's own report says what matters, so those logs are silenced meanwhile.
    """
    values: dict[str, str | None] = dict.fromkeys(REAL_AWS_VARIABLES)
    values.update(
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
        with environment_variables(values):
            yield
    finally:
        interpreter_log.setLevel(level)

"""Lambda invoke without docker: run the real handler module from ``lambda/`` in-process.

moto's ``LambdaFunction._invoke_lambda`` (which starts a docker container) is
replaced, so ``lambda:Invoke`` through boto3 and the Step Functions
``arn:aws:states:::lambda:invoke`` integration both run
``<source_dir>/<module>.py:<function>`` (from the function's ``Handler``) with the
function's ``Environment.Variables`` set in ``os.environ`` for the call. An
exception becomes a function error whose payload is Lambda's
``{"errorMessage", "errorType", "stackTrace"}``.

While a handler runs, every boto3 call it makes is authorised against the function's execution role
(``emulation.iam.acting_as``; the check itself is installed by ``emulation.iam.install``), with the
function's name as the role session, as Lambda names it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import traceback
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

from moto.awslambda.models import LambdaFunction

from batch_lustre.emulation.iam import acting_as

_ENV_LOCK = threading.Lock()  # os.environ is process-wide: one handler at a time


@dataclass
class Invocation:
    function_name: str
    event: Any
    result: Any
    error: str | None  # errorType when the handler raised


@dataclass
class LambdaRunner:
    source_dir: Path
    extra_paths: list[Path] = field(default_factory=list)  # also importable (e.g. the project root: parameters.py)
    invocations: list[Invocation] = field(default_factory=list)
    _warm: dict[tuple[str, float], ModuleType] = field(default_factory=dict)

    def load(self, module_name: str) -> ModuleType:
        """``<source_dir>/<module_name>.py``, loaded once per emulation and file version (a warm Lambda)."""
        path = self.source_dir / f"{module_name}.py"
        if not path.is_file():
            raise FileNotFoundError(f"Lambda handler module {path} does not exist")
        key = (str(path), path.stat().st_mtime)
        if key not in self._warm:
            spec = importlib.util.spec_from_file_location(f"emulated_lambda_{module_name}_{uuid.uuid4().hex}", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._warm[key] = module
        return self._warm[key]

    def invoke(self, fn: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        """Run the handler; returns (payload JSON, errored, log text) like moto's docker path."""
        module_name, _, function = str(fn.handler).rpartition(".")
        env = {
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            **{k: str(v) for k, v in (fn.environment_vars or {}).items()},
        }
        context = _Context(fn)
        with (
            _ENV_LOCK,
            mock.patch.dict(os.environ, env),
            _on_path([self.source_dir, *self.extra_paths]),
            acting_as(str(fn.role), fn.function_name),
        ):
            try:
                handler: Callable[[Any, Any], Any] = getattr(self.load(module_name), function)
                result = handler(event, context)
                payload, errored, error = json.dumps(result), False, None
            except Exception as err:  # the function's own error: reported, as Lambda does
                error = type(err).__name__
                payload = json.dumps(
                    {
                        "errorMessage": str(err),
                        "errorType": error,
                        "stackTrace": traceback.format_exception(err)[-3:],
                    }
                )
                result, errored = None, True
        self.invocations.append(Invocation(fn.function_name, event, result, error))
        return payload, errored, ""


class _Context:
    def __init__(self, fn: LambdaFunction) -> None:
        self.function_name = fn.function_name
        self.function_version = str(fn.version)
        self.invoked_function_arn = fn.function_arn
        self.memory_limit_in_mb = fn.memory_size
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.function_name}"
        self.log_stream_name = "emulated"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class _on_path:
    def __init__(self, paths: list[Path]) -> None:
        self.added = [str(p) for p in paths if str(p) not in sys.path]

    def __enter__(self) -> None:
        sys.path[:0] = self.added

    def __exit__(self, *exc: object) -> None:
        for p in self.added:
            if p in sys.path:
                sys.path.remove(p)


def install(stack: ExitStack, runner_for: Callable[[], LambdaRunner]) -> None:
    def _invoke_lambda(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        return runner_for().invoke(self, {} if event is None else event)

    stack.enter_context(mock.patch.object(LambdaFunction, "_invoke_lambda", _invoke_lambda))

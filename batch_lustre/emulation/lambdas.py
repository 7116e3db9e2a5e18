"""Lambda invoke without docker: run the real handler module from ``lambda/`` in-process.

moto's ``LambdaFunction._invoke_lambda`` (which starts a docker container) is
replaced, so ``lambda:Invoke`` through boto3 and the Step Functions
``arn:aws:states:::lambda:invoke`` integration both run
``<source_dir>/<module>.py:<function>`` (from the function's ``Handler``) with the
function's ``Environment.Variables`` set in ``os.environ`` for the call. An
exception becomes a function error whose payload is Lambda's
``{"errorMessage", "errorType", "stackTrace"}``.

A handler's ``time.sleep`` waits on the emulated clock as a Wait state of that length would in the Task's
execution (``emulation.sfn.emulated_wait``: Parallel siblings act first, the clock's events apply in order), with
the process-wide environment released meanwhile so other handlers run; ``context.get_remaining_time_in_millis``
reads the clock. A handler still running at its function's timeout is stopped there, as Lambda does: the
invocation fails, and Step Functions names the error ``Lambda.Unknown`` (docs/aws-rules.md). A handler sleeping in a Task whose
execution has ended (stopped, timed out) is ended at once, its result discarded (on AWS it would run on, but its
result goes nowhere and the emulation may be gone by then).

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
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

from batch_lustre.emulation import moto_seam
from batch_lustre.emulation.clock import EmulatedClock
from batch_lustre.emulation.iam import acting_as
from batch_lustre.emulation.moto_seam import LambdaFunction
from batch_lustre.emulation.sfn import current_task_env, emulated_wait
from batch_lustre.program.asl.naming import LAMBDA_FILES

_ENV_LOCK = threading.Lock()  # os.environ is process-wide: one handler at a time


@dataclass
class Invocation:
    function_name: str
    event: Any
    result: Any
    error: str | None  # errorType when the handler raised
    version: str = "$LATEST"  # the function version Lambda ran


class _Abandoned(BaseException):
    """The execution whose Task invoked the handler ended while it slept (a BaseException: the handler cannot catch it)."""


class _TimedOut(BaseException):
    """The function's timeout came while its handler ran (a BaseException: the handler cannot catch it)."""


TIMED_OUT_ERROR = "Lambda.Unknown"  # what Step Functions reports a function timeout as


@dataclass
class LambdaRunner:
    source_dir: Path
    extra_paths: list[Path] = field(default_factory=list)  # also importable (e.g. the project root: parameters.py)
    clock: EmulatedClock | None = None  # handlers' sleeps and timeouts run on it (None: no sleeping allowed)
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
            if getattr(module, "time", None) is time:
                module.time = EMULATED_TIME  # type: ignore[attr-defined]  # its sleeps wait on the emulated clock
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
        clock, timeout = self.clock, float(fn.timeout or 3)
        deadline = clock.seconds() + timeout if clock is not None else None
        context = _Context(fn, clock, deadline)
        paths = [self.source_dir, *self.extra_paths]
        held: list[ExitStack] = []

        def enter() -> None:
            _ENV_LOCK.acquire()
            scope = ExitStack()
            scope.enter_context(_environment(env))
            scope.enter_context(_on_path(paths))
            held.append(scope)

        def leave() -> None:
            held.pop().close()
            _ENV_LOCK.release()

        def sleep(seconds: float) -> None:
            """``time.sleep`` in the handler: the Task's execution waits, the environment released meanwhile."""
            if clock is None or deadline is None:
                raise RuntimeError("an emulated Lambda sleeps only on an emulation's clock")
            now = clock.seconds()
            span = min(max(0.0, float(seconds)), max(0.0, deadline - now))
            task_env = current_task_env()
            leave()
            try:
                if task_env is not None:
                    emulated_wait(clock, span, task_env)
                else:
                    clock.skip_wait(span)
            finally:
                enter()
            if task_env is not None and not task_env.is_running():
                raise _Abandoned()
            if now + float(seconds) > deadline:
                raise _TimedOut()

        enter()
        previous = getattr(_running, "invocation", None)
        _running.invocation = _Running(sleep, clock)
        try:
            with acting_as(str(fn.role), fn.function_name):
                module = self.load(module_name)
                try:
                    handler: Callable[[Any, Any], Any] = getattr(module, function)
                    result = handler(event, context)
                    if deadline is not None and clock is not None and clock.seconds() > deadline:
                        raise _TimedOut()
                    payload, errored, error = json.dumps(result), False, None
                except _Abandoned:
                    error = "Abandoned"
                    payload = json.dumps({"errorType": error, "errorMessage": "the execution ended while it slept"})
                    result, errored = None, True
                except _TimedOut:
                    error = TIMED_OUT_ERROR
                    payload = json.dumps(
                        {
                            "errorType": error,
                            "errorMessage": f"RequestId: {context.aws_request_id} Error: Task timed out after "
                            f"{timeout:.2f} seconds",
                        }
                    )
                    result, errored = None, True
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
        finally:
            _running.invocation = previous
            leave()
        self.invocations.append(Invocation(fn.function_name, event, result, error, str(fn.version)))
        return payload, errored, ""


@dataclass
class _Running:
    """The invocation a thread is running: its sleep and its clock."""

    sleep: Callable[[float], None]
    clock: EmulatedClock | None


_running = threading.local()  # .invocation: this thread's _Running (each Task's Lambda runs in its branch's thread)


def invocation_sleep() -> Callable[[float], None] | None:
    """The sleep of the Lambda invocation running on this thread (on the emulated clock), None outside one."""
    invocation = getattr(_running, "invocation", None)
    return None if invocation is None else invocation.sleep


class _EmulatedTime:
    """The ``time`` module as every handler module sees it: the running invocation's sleep and clock.

    One object for every warm module: two invocations of one function may run at once (two Parallel branches), each
    in its own thread, so what ``time.sleep`` does is looked up per thread."""

    @staticmethod
    def _invocation() -> _Running:
        invocation = getattr(_running, "invocation", None)
        if invocation is None:
            raise RuntimeError("an emulated Lambda's time is read only while it runs")
        return invocation

    def sleep(self, seconds: float) -> None:
        self._invocation().sleep(seconds)

    def monotonic(self) -> float:
        clock = self._invocation().clock
        return clock.seconds() if clock is not None else time.monotonic()

    def time(self) -> float:
        clock = self._invocation().clock
        return clock.now().timestamp() if clock is not None else time.time()


EMULATED_TIME = _EmulatedTime()


class _Context:
    def __init__(self, fn: LambdaFunction, clock: EmulatedClock | None = None, deadline: float | None = None) -> None:
        self._clock, self._deadline = clock, deadline
        self.function_name = fn.function_name
        self.function_version = str(fn.version)
        self.invoked_function_arn = fn.function_arn
        self.memory_limit_in_mb = fn.memory_size
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{fn.function_name}"
        self.log_stream_name = "emulated"

    def get_remaining_time_in_millis(self) -> int:
        if self._clock is None or self._deadline is None:
            return 60_000
        return max(0, int((self._deadline - self._clock.seconds()) * 1000))


_THREAD_ENVIRONMENT = threading.local()  # .values: the function variables of the handler running on this thread


class ThreadEnvironment(MutableMapping[str, str]):
    """``os.environ`` during an emulation: on a thread running a handler, its function's variables over the
    process's environment; on every other thread, the process's environment alone.

    A handler's variables are never written into the process's environment, so no other thread (a run being
    followed, copying ``os.environ``) ever sees one appear or vanish, and a handler that sleeps keeps its own.
    """

    def __init__(self, base: MutableMapping[str, str]) -> None:
        self._base = base

    @staticmethod
    def _overlay() -> dict[str, str]:
        values: dict[str, str] | None = getattr(_THREAD_ENVIRONMENT, "values", None)
        return values if values is not None else {}

    def __getitem__(self, key: str) -> str:
        overlay = self._overlay()
        return overlay[key] if key in overlay else self._base[key]

    def __setitem__(self, key: str, value: str) -> None:
        overlay = self._overlay()
        if key in overlay:
            overlay[key] = value
        else:
            self._base[key] = value

    def __delitem__(self, key: str) -> None:
        overlay = self._overlay()
        if key in overlay:
            del overlay[key]
        else:
            del self._base[key]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*list(self._base), *self._overlay()]))

    def __len__(self) -> int:
        return len(dict.fromkeys([*list(self._base), *self._overlay()]))

    def copy(self) -> dict[str, str]:
        return dict(self.items())


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` as the function's variables of the handler on this thread while inside (``ThreadEnvironment``)."""
    previous = getattr(_THREAD_ENVIRONMENT, "values", None)
    _THREAD_ENVIRONMENT.values = dict(values)
    try:
        yield
    finally:
        _THREAD_ENVIRONMENT.values = previous


class _on_path:
    def __init__(self, paths: list[Path]) -> None:
        self.added = [str(p) for p in paths if str(p) not in sys.path]

    def __enter__(self) -> None:
        sys.path[:0] = self.added

    def __exit__(self, *exc: object) -> None:
        for p in self.added:
            if p in sys.path:
                sys.path.remove(p)


def archive_directories(project: Path) -> list[Path]:
    """The directories, besides ``lambda/``, that the Lambda archives' top-level modules come from (asl/lane_queue.py
    ships as ``lane_queue.py``: asl.naming.LAMBDA_FILES), so a handler imports them as it does in its archive."""
    found = {
        project / Path(source).parent
        for files in LAMBDA_FILES.values()
        for member, source in files.items()
        if "/" not in member and Path(source).parent != Path("lambda")
    }
    return sorted(found)


def install(stack: ExitStack, runner_for: Callable[[], LambdaRunner]) -> None:
    def _invoke_lambda(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        return runner_for().invoke(self, {} if event is None else event)

    moto_seam.patch(stack, LambdaFunction, "_invoke_lambda", _invoke_lambda)
    if not isinstance(os.environ, ThreadEnvironment):
        stack.enter_context(mock.patch.object(os, "environ", ThreadEnvironment(os.environ)))

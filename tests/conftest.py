"""Shared test setup: the repository root, lambda/ and the Lambdas' other modules are importable; no AWS credentials
leak in."""

import ast
import gc
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import boto3
import pytest
from hypothesis import HealthCheck, settings

# The emulation allocates many small objects (moto's models, botocore's parsed responses, state data): under
# CPython's default thresholds (700, 10, 10) the cyclic collector took 20% of tests/test_scenarios.py's CPU (13.8 s
# of 69 s, timed with gc.callbacks); collecting less often brings it to about 3 s. It changes no result.
gc.set_threshold(50_000, 50, 100)

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "lambda"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from batch_lustre.emulation.moto_version import check_moto_version  # noqa: E402

check_moto_version()  # another moto release stops the whole suite here, in one line naming both versions

from batch_lustre.emulation.lambdas import archive_directories  # noqa: E402

# A handler imports its archive's other top-level modules (asl/lane_queue.py ships as lane_queue.py): after the
# rest, so they shadow nothing.
sys.path.extend(str(path) for path in archive_directories(ROOT) if str(path) not in sys.path)

# Tests never talk to AWS: fake credentials and a fixed region for boto3 and moto.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)
# The CLI's rich consoles take their width when cli.common is imported: a wide, fixed width keeps
# table cells whole whatever terminal (or pytest-xdist worker) the tests run in.
os.environ["COLUMNS"] = "250"

# Property tests: the same examples on every run and machine (derandomized, no example database), a bounded number
# of them, no per-example deadline (a shared CI machine is slow at times) and no reproduction blobs in the output.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=60,
    deadline=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# --- slowest tests first, so that the pytest-xdist workers finish together ------------------------------------
# Each test's duration (setup + call + teardown) is kept in pytest's cache; tests run slowest first. A test not
# timed yet counts as slow when it runs a whole scenario on the emulation (tests/test_scenarios.py), else as fast.
DURATIONS_KEY = "batch-lustre/durations"
UNTIMED_SCENARIO_SECONDS = 1.0
_durations: dict[str, float] = {}


def pytest_collection_modifyitems(session, config, items) -> None:
    cache = getattr(config, "cache", None)  # absent under -p no:cacheprovider
    known = cache.get(DURATIONS_KEY, {}) if cache is not None else {}

    def expected_seconds(item) -> float:
        if item.nodeid in known:
            return float(known[item.nodeid])
        return UNTIMED_SCENARIO_SECONDS if item.nodeid.startswith("tests/test_scenarios.py::") else 0.0

    items.sort(key=expected_seconds, reverse=True)  # stable: the collection order among equals


def pytest_runtest_logreport(report) -> None:
    _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session) -> None:
    # pytest then collects garbage five times over before the process exits (to report unraisable exceptions):
    # each walked the whole heap the suite built (moto's backends, botocore's models), about 10 s of the suite's
    # wall time on 2 cores. Frozen, what exists now is skipped; an exception raised while freeing a cycle that is
    # still alive here goes unreported (the suite's warnings are the same 26 with and without).
    gc.freeze()
    config = session.config
    if hasattr(config, "workerinput") or getattr(config, "cache", None) is None or not _durations:
        return  # an xdist worker: the controller receives every report and keeps them
    known = config.cache.get(DURATIONS_KEY, {})
    known.update({nodeid: round(seconds, 3) for nodeid, seconds in _durations.items()})
    config.cache.set(DURATIONS_KEY, known)


def sample_refs(mode: str):
    """WorkflowRefs with realistic ARNs, for tests of the pure builders."""
    from batch_lustre.program.asl.refs import LaneRefs, WorkflowRefs

    account, region = "123456789012", "us-east-1"
    lane = LaneRefs(
        compute_environment_arn=f"arn:aws:batch:{region}:{account}:compute-environment/{mode}-ce",
        job_queue_arn=f"arn:aws:batch:{region}:{account}:job-queue/{mode}-queue",
        baseline_launch_template_id="lt-0123456789abcdef0",
        baseline_launch_template_version="1",
    )
    return WorkflowRefs(
        mode=mode,
        stack=mode,
        stack_id="5eed0001",
        name_prefix=f"{mode}-5eed0001",
        region=region,
        account_id=account,
        state_machine_name=f"{mode}-{mode}-workflow",
        run_cleanup_state_machine_name=f"{mode}-{mode}-run-cleanup",
        secret_arn=f"arn:aws:secretsmanager:{region}:{account}:secret:{mode}-params-AbCdEf",
        bucket_name=f"{mode}-data-0123abcd",
        subnet_id="subnet-0123456789abcdef0",
        lustre_security_group_id="sg-0123456789abcdef0",
        lanes=(lane,),
        lane_table_name=f"{mode}-5eed0001-lanes",
        job_repository_url=f"{account}.dkr.ecr.{region}.amazonaws.com/batch-job",
        job_log_group_name=f"/batch-lustre/{mode}-{mode}/jobs",
        extract_parameters_function_arn=f"arn:aws:lambda:{region}:{account}:function:{mode}-extract-parameters",
        summarize_job_function_arn=f"arn:aws:lambda:{region}:{account}:function:{mode}-summarize-job",
        wait_for_function_arn=f"arn:aws:lambda:{region}:{account}:function:{mode}-wait-for",
        check_metrics_function_arn=f"arn:aws:lambda:{region}:{account}:function:{mode}-check-metrics",
    )


def find_python_312() -> str | None:
    """A working Python 3.12 (the Lambda runtime's version): $PYTHON312, python3.12 on PATH or a pyenv build."""
    candidates = [os.environ.get("PYTHON312"), shutil.which("python3.12")]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    for candidate in filter(None, candidates):
        try:
            probe = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except OSError:
            continue
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


def wait_until_held(execution_arn: str, seconds: float = 10.0) -> None:
    """Until the execution waits, held (``Emulation.hold_waits``: a Wait state or a sleeping Lambda), or has ended."""
    from batch_lustre.emulation.sfn import held

    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if held(execution_arn):
            return
        types = {e["type"] for e in sfn.get_execution_history(executionArn=execution_arn)["events"]}
        if types & {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted"}:
            return
        time.sleep(0.01)
    raise AssertionError(f"{execution_arn} reached no held wait within {seconds} s")


def stop_held_runs(emu) -> None:
    """Stop every RUNNING execution, then let held Wait states go: nothing runs on after the emulation."""
    sfn = boto3.client("stepfunctions", region_name=emu.region)
    for machine in sfn.list_state_machines()["stateMachines"]:
        for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")[
            "executions"
        ]:
            wait_until_held(execution["executionArn"])
            sfn.stop_execution(executionArn=execution["executionArn"], error="TestOver", cause="test ended")
    emu.release_waits()


# Modules removed in Python 3.12 (PEP 594 / 632) and datetime calls deprecated in 3.12 (the Lambda runtime).
REMOVED_IN_312 = {"distutils", "imp", "asynchat", "asyncore", "smtpd"}
DEPRECATED_IN_312 = {"utcnow", "utcfromtimestamp"}


def run_lambda_under_python_312(script: str) -> subprocess.CompletedProcess[str]:
    """``script`` run by a Python 3.12 interpreter (the Lambda runtime's) with lambda/ and this venv's pure-Python
    packages (boto3, botocore) on its path and fake credentials; skips the test when no 3.12 is found."""

    python = find_python_312()
    if python is None:
        pytest.skip("no Python 3.12 interpreter on this machine (set PYTHON312 to one)")
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "lambda"), *map(str, archive_directories(ROOT)), sysconfig.get_paths()["purelib"]]
        ),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }
    return subprocess.run([python, "-c", script], env=environment, capture_output=True, text=True, timeout=120)


def python312_scan(path: Path) -> tuple[set[str], set[str]]:
    """The top-level modules a source file imports, and what it uses that Python 3.12 removed or deprecated."""
    tree = ast.parse(path.read_text(), feature_version=(3, 11))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    return imported, (imported & REMOVED_IN_312) | (attributes & DEPRECATED_IN_312)

"""Shared test setup: the repository root and lambda/ are importable; no AWS credentials leak in."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "lambda"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# Tests never talk to AWS: fake credentials and a fixed region for boto3 and moto.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)
# The CLI's rich consoles take their width when cli.common is imported: a wide, fixed width keeps
# table cells whole whatever terminal (or pytest-xdist worker) the tests run in.
os.environ["COLUMNS"] = "250"


def sample_refs(mode: str):
    """WorkflowRefs with realistic ARNs, for tests of the pure builders."""
    from asl.refs import WorkflowRefs

    account, region = "123456789012", "us-east-1"
    return WorkflowRefs(
        mode=mode,
        stack=mode,
        name_prefix=mode,
        region=region,
        account_id=account,
        state_machine_name=f"{mode}-{mode}-workflow",
        secret_arn=f"arn:aws:secretsmanager:{region}:{account}:secret:{mode}-params-AbCdEf",
        bucket_name=f"{mode}-data-0123abcd",
        subnet_id="subnet-0123456789abcdef0",
        lustre_security_group_id="sg-0123456789abcdef0",
        compute_environment_arn=f"arn:aws:batch:{region}:{account}:compute-environment/{mode}-ce",
        baseline_launch_template_id="lt-0123456789abcdef0",
        baseline_launch_template_version="1",
        job_queue_arn=f"arn:aws:batch:{region}:{account}:job-queue/{mode}-queue",
        job_image=f"{account}.dkr.ecr.{region}.amazonaws.com/batch-job:latest",
        extract_parameters_function_arn=f"arn:aws:lambda:{region}:{account}:function:{mode}-extract-parameters",
        check_metrics_function_arn=f"arn:aws:lambda:{region}:{account}:function:{mode}-check-metrics",
    )


def find_python_312() -> str | None:
    """A working Python 3.12 (the Lambda runtime's version): $PYTHON312, python3.12 on PATH or a pyenv build."""
    candidates = [os.environ.get("PYTHON312"), shutil.which("python3.12")]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    for candidate in filter(None, candidates):
        try:
            probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                                   capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None

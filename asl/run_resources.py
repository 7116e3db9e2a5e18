"""What every per-run resource carries: an idempotency token, the run's tags; the file system's ARN and DNS
name built from its id; the data repository association's settings."""

from __future__ import annotations

from batch_lustre.program.asl.naming import TAG_KEPT, TAG_LANE, TAG_MODE, TAG_RUN, TAG_STACK, TAG_STACK_ID
from batch_lustre.program.asl.paths import DERIVED, LANE
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.states import RetryPolicy, State, aws_sdk
from batch_lustre.program.parameters import DATA_REPOSITORY_EVENTS

AUTO_IMPORT_EVENTS = list(DATA_REPOSITORY_EVENTS)


# The run's lane (``LANE``'s index, a number) as a tag value.
LANE_TAG_VALUE = f"States.Format('{{}}', {LANE}.index)"


def client_token(suffix: str) -> str:
    """An idempotency token per run and per operation (so a retried create never makes a second resource)."""
    return f"States.Format('{{}}-{suffix}', $.config.derived.clientRequestToken)"


def tag_list(refs: WorkflowRefs, *, lane: bool = False) -> list[dict[str, str]]:
    """Key/Value tags (FSx, EC2) of every per-run resource; ``lane``: also the run's lane (its compute: the launch
    template and the hosts it starts)."""
    tags = [
        {"Key": TAG_STACK, "Value": refs.stack},
        {"Key": TAG_STACK_ID, "Value": refs.stack_id},
        {"Key": TAG_MODE, "Value": refs.mode},
        {"Key": TAG_RUN, "Value.$": "$$.Execution.Name"},
        {"Key": "Name", "Value.$": f"{DERIVED}.jobName"},
    ]
    return [*tags, {"Key": TAG_LANE, "Value.$": LANE_TAG_VALUE}] if lane else tags


def tag_map(refs: WorkflowRefs) -> dict[str, str]:
    """Map tags (Batch: the job definition and the job) of every per-run resource, the run's lane among them."""
    return {
        TAG_STACK: refs.stack,
        TAG_STACK_ID: refs.stack_id,
        TAG_MODE: refs.mode,
        f"{TAG_RUN}.$": "$$.Execution.Name",
        f"{TAG_LANE}.$": LANE_TAG_VALUE,
    }


def file_system_arn(refs: WorkflowRefs) -> str:
    """The file system's ARN, built from its id (not read back from a response: see ``dns_name_expression``)."""
    partition = "aws-cn" if refs.region.startswith("cn-") else "aws"
    return f"States.Format('arn:{partition}:fsx:{refs.region}:{refs.account_id}:file-system/{{}}', $.fs.FileSystemId)"


def tag_file_system_kept(refs: WorkflowRefs, value: dict[str, str], *, next_state: str, retry: RetryPolicy) -> State:
    """Tag the file system ``TAG_KEPT`` (``value``: ``{"Value": ...}`` or ``{"Value.$": path}``), so a later
    run cleanup leaves it to the user; a refused tag is recorded and the run goes on to ``next_state``."""
    return aws_sdk(
        "fsx",
        "tagResource",
        {"ResourceARN.$": file_system_arn(refs), "Tags": [{"Key": TAG_KEPT, **value}]},
        next_state=next_state,
        result_path=None,
        retry=retry,
        catch_to=next_state,
        catch_path="$.cleanupErrors.tagFileSystemKept",
    )


def dns_name_expression(refs: WorkflowRefs) -> str:
    """The file system's DNS name, built from its id (FSx Lustre names are ``<id>.fsx.<region>.<domain>``).

    Not read from the response: Step Functions spells aws-sdk result members as the Java SDK v2 does
    (``DNSName`` comes back as ``DnsName``), so a path to it is a trap whichever way it is spelt.
    """
    domain = "amazonaws.com.cn" if refs.region.startswith("cn-") else "amazonaws.com"
    return f"States.Format('{{}}.fsx.{refs.region}.{domain}', $.fs.FileSystemId)"

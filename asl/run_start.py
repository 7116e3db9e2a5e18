"""Run start: read the secret, extract and validate the run-time parameters and the run's input
(``InitializeRun`` ... ``AreParametersValid``), resolve the job image's digest (``ResolveJobImage``) and wait in
line for a lane (asl/lane.py: ``FindLane`` ... ``TakeLane``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batch_lustre.program.asl.lane import add_find_lane
from batch_lustre.program.asl.paths import DERIVED
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.sections import record_failure
from batch_lustre.program.asl.states import (
    RETRY_READ,
    Graph,
    aws_sdk,
    choice,
    error_names,
    failure_record,
    invoke_lambda,
    pass_parameters,
    pass_result,
)

# ECR API Reference, DescribeImages, Errors: "ImageNotFoundException: The image requested does not exist in the
# specified repository."
IMAGE_NOT_FOUND = "ImageNotFoundException"


def add_run_start(g: Graph, refs: WorkflowRefs) -> str:
    """Read and validate the parameters and the run's input, resolve the image, take a lane. Returns the start
    state."""
    g.add("InitializeRun", pass_result({}, "$.polls", "GetSecret"))
    add_read_parameters(
        g,
        refs.secret_arn,
        refs.extract_parameters_function_arn,
        {
            "secretString.$": "$.secret.SecretString",
            "executionName.$": "$$.Execution.Name",
            "input.$": "$$.Execution.Input",
        },
        secret_failed_to=lambda: record_failure(g, "GetSecretFailed", "NothingToExport"),
        extract_failed_to=lambda: record_failure(g, "ExtractParametersFailed", "NothingToExport"),
    )
    g.add(
        "AreParametersValid",
        choice(
            [{"Variable": "$.config.ok", "BooleanEquals": True, "Next": "ResolveJobImage"}],
            "ParametersInvalid",
        ),
    )
    g.add("ParametersInvalid", {"Type": "Fail", "Error": "InvalidParameters", "CausePath": "$.config.error"})
    add_resolve_job_image(g, refs)
    add_find_lane(g, refs, "CreateLustreFileSystem")
    return "InitializeRun"


def add_resolve_job_image(g: Graph, refs: WorkflowRefs) -> None:
    """``ResolveJobImage``: the digest the run's image tag names now, read once at run start. The job definition
    names the image by that digest, so a push to the tag during the run (a retry, an array's later children)
    changes nothing. A tag that names no image ends the run before anything is created (``JobImageNotFound``)."""
    resolve = aws_sdk(
        "ecr",
        "describeImages",
        {"RepositoryName": refs.job_repository_name, "ImageIds": [{"ImageTag.$": f"{DERIVED}.imageTag"}]},
        next_state="FindLane",
        result_path="$.image",
        result_selector={"digest.$": "$.ImageDetails[0].ImageDigest"},
        retry=RETRY_READ,
        catch_to=record_failure(g, "ResolveJobImageFailed", "NothingToExport"),
    )
    resolve["Catch"] = [
        {"ErrorEquals": error_names("Ecr", IMAGE_NOT_FOUND), "ResultPath": "$.error", "Next": "JobImageNotFound"},
        *resolve["Catch"],
    ]
    g.add("ResolveJobImage", resolve)
    g.add(
        "JobImageNotFound",
        pass_parameters(
            failure_record(
                "JobImageNotFound",
                f"The job image {refs.job_repository_url}:{{}} is not in the repository: push it, then start the "
                "run again (nothing was created)",
                f"{DERIVED}.imageTag",
            ),
            "$.failure",
            "NothingToExport",
        ),
    )


def add_read_parameters(
    g: Graph,
    secret_arn: str,
    extract_parameters_function_arn: str,
    payload: dict[str, Any],
    *,
    secret_failed_to: Callable[[], str],
    extract_failed_to: Callable[[], str],
) -> None:
    """``GetSecret`` -> ``ExtractParameters`` -> ``AreParametersValid``: the secret's string read into
    ``$.secret``, and ExtractParameters' result (ok, error, params, derived) into ``$.config``. The run reads its
    own parameters with it, the run cleanup those of the run it cleans up (``payload``: the Lambda's input). Each
    ``*_failed_to`` gives its Catch target when its state is added (a target it adds comes just before it)."""
    g.add(
        "GetSecret",
        aws_sdk(
            "secretsmanager",
            "getSecretValue",
            {"SecretId": secret_arn},
            next_state="ExtractParameters",
            result_path="$.secret",
            result_selector={"SecretString.$": "$.SecretString"},
            retry=RETRY_READ,
            catch_to=secret_failed_to(),
        ),
    )
    g.add(
        "ExtractParameters",
        invoke_lambda(
            extract_parameters_function_arn,
            payload,
            next_state="AreParametersValid",
            result_path="$.config",
            result_selector={
                "ok.$": "$.Payload.ok",
                "error.$": "$.Payload.error",
                "params.$": "$.Payload.params",
                "derived.$": "$.Payload.derived",
            },
            catch_to=extract_failed_to(),
        ),
    )

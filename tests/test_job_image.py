"""The job runs the image its tag named when the run started: ``ResolveJobImage`` reads the digest, the job
definition names the image by it, so a push to the tag during the run (or the retry after a lost host) changes
nothing. A tag that names no image ends the run before anything is created (scenario ``job-image-not-pushed``)."""

from __future__ import annotations

from batch_lustre.emulation import Emulation, setup_stack
from batch_lustre.emulation.clients import client
from batch_lustre.emulation.environment import offline_environment
from batch_lustre.emulation.runner import run_workflow
from batch_lustre.emulation.scenario import ATTEMPT_HOST_EC2, BatchScenario, JobAttempt, Scenario
from batch_lustre.emulation.stack import attach_workflow_policy, push_job_image
from batch_lustre.program.asl import build_definition

REGION = "us-east-1"
PUSH_AT = 60.0  # emulated seconds after the start: the file system is CREATING, no job definition yet


def _digest(repository: str, tag: str) -> str:
    found = client("ecr", REGION).describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    return str(found["imageDetails"][0]["imageDigest"])


def test_a_push_during_the_run_changes_neither_the_job_nor_its_retry():
    lost_host_then_success = [JobAttempt(ATTEMPT_HOST_EC2, run_seconds=120.0), JobAttempt()]
    with (
        offline_environment(REGION),
        Emulation(Scenario(batch=BatchScenario(attempts=lost_host_then_success)), region=REGION) as emu,
    ):
        stack = setup_stack(emu, "taskexport", runtime_params={"jobDefinitionRetryAttempts": 2})
        refs = stack.refs
        at_start = _digest(refs.job_repository_name, "latest")
        pushed: list[str] = []
        emu.clock.schedule(PUSH_AT, lambda _at: pushed.append(push_job_image(emu, refs, "latest")), "push latest")
        definition = build_definition(refs)
        attach_workflow_policy(emu, stack, definition)
        result = run_workflow(
            definition, role_arn=stack.role_arn, name=refs.state_machine_name, execution_name="run-1", stack=stack
        )
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert pushed and pushed[0] != at_start and _digest(refs.job_repository_name, "latest") == pushed[0]
        [job] = emu.batch.jobs.values()
        assert len(job.attempts) == 2  # the first host went away: Batch ran the job again
        registered_at = next(v.entered for v in result.visits("CreateJobDefinition"))
        assert registered_at > PUSH_AT  # the definition was registered after the push, and still names the start's
        assert job.job_definition.container_properties["image"] == f"{refs.job_repository_url}@{at_start}"

"""The emulated Batch's compute environments: UpdateComputeEnvironment (UPDATING, then VALID or INVALID),
desiredvCpus within min/max and never lowered, DescribeComputeEnvironments' status, and the launch template new
hosts launch with. The rules and their sources: docs/aws-rules.md, section "Batch"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batch_lustre.emulation.batch_records import (
    CAPACITY_REASON,
    DESIRED_LOWERED_MESSAGE,
    HOST_TERMINATED,
    INVALID_CE_REASON,
    NOT_MIME_REASON,
    REPLACED_REASON,
    UPDATING_REASON,
    VALID_REASON,
    BatchParts,
    ComputeEnvironmentState,
)
from batch_lustre.emulation.batch_roles import check_infrastructure_update
from batch_lustre.emulation.host_user_data import decode_user_data, is_mime_multipart
from batch_lustre.emulation.moto_seam import BatchBackend, ClientException, ec2_backends
from batch_lustre.emulation.scenario import CE_INVALID

# The refusal of an update while UPDATING (Assumed wording: not documented).
UPDATE_WHILE_UPDATING_MESSAGE = "Cannot update the compute environment while it is in the UPDATING state"


class ComputeEnvironments(BatchParts):
    def environment(self, identifier: str) -> ComputeEnvironmentState:
        """The emulated state of a compute environment (name or ARN), made on first use from moto's."""
        env = self.backend().get_compute_environment(identifier)
        if env is None:
            raise ClientException(f"Compute environment {identifier} does not exist")
        state = self.environments.get(env.arn)
        if state is None:
            cr = dict(env.compute_resources or {})
            ref = dict(cr["launchTemplate"]) if cr.get("launchTemplate") else None
            state = ComputeEnvironmentState(
                arn=env.arn,
                name=env.name,
                min_vcpus=int(cr.get("minvCpus") or 0),
                max_vcpus=int(cr.get("maxvCpus") or 0),
                desired_vcpus=int(cr.get("desiredvCpus") or cr.get("minvCpus") or 0),
                instance_types=list(cr.get("instanceTypes") or ["optimal"]),
                template_data=launch_template_data(self.account_id, self.region, cr),
                template_ref=ref,
                original_template_ref=ref,
            )
            self.environments[env.arn] = state
        return state

    def update_environment(
        self,
        backend: BatchBackend,
        identifier: str,
        state: str | None,
        compute_resources: dict[str, Any] | None,
        service_role: str | None,
        original: Callable[..., tuple[str, str]],
    ) -> tuple[str, str]:
        """UpdateComputeEnvironment: validate, apply, UPDATING for ``compute_update_seconds``, then the outcome."""
        if self.scenario.update_compute_environment_error and compute_resources:  # the runs' updates, not a deploy's
            raise ClientException(self.scenario.update_compute_environment_error)
        check_infrastructure_update(backend, identifier, compute_resources, service_role)
        ce = self.environment(identifier)
        if self.scenario.refuse_update_while_updating and compute_resources and ce.status == "UPDATING":
            raise ClientException(UPDATE_WHILE_UPDATING_MESSAGE)
        cr = dict(compute_resources or {})
        new_min = int(cr.get("minvCpus", ce.min_vcpus))
        new_max = int(cr.get("maxvCpus", ce.max_vcpus))
        if new_min > new_max:
            raise ClientException(f"minvCpus ({new_min}) must not be greater than maxvCpus ({new_max})")
        desired = cr.get("desiredvCpus")
        if desired is not None:
            desired = int(desired)
            if desired < ce.desired_vcpus:
                raise ClientException(DESIRED_LOWERED_MESSAGE)
            if not new_min <= desired <= new_max:
                raise ClientException(
                    f"desiredvCpus ({desired}) must be between minvCpus ({new_min}) and maxvCpus ({new_max})"
                )
        template = cr.get("launchTemplate")
        if template:
            _check_launch_template(backend, template)
        name, arn = original(backend, identifier, state, compute_resources, service_role)
        env = backend.get_compute_environment(arn)
        now = self.clock.seconds()
        if compute_resources and env is not None:
            env.compute_resources = {**(env.compute_resources or {}), **compute_resources}
        ce.min_vcpus, ce.max_vcpus = new_min, new_max
        if desired is not None:
            ce.desired_vcpus = desired
        if template:
            self.launch_template_history.append((now, arn, dict(template)))
            # Batch resolves $Latest/$Default once, at the update (the workflow names the version).
            ce.template_data = launch_template_data(self.account_id, self.region, {"launchTemplate": template})
            if not _same_template(template, ce.template_ref):
                ce.generation += 1  # new jobs go to new instances (infrastructure update)
            ce.template_ref = dict(template)
        ce.update_token += 1
        if not compute_resources and state is None and service_role is None:
            # An update of the update policy alone (what the provider sends after CreateComputeEnvironment) changes
            # no infrastructure, and the provider waits until the environment is VALID again before `pulumi up`
            # goes on: a deployed stack's environment is VALID.
            return name, arn
        ce.status, ce.status_reason = "UPDATING", UPDATING_REASON
        token = ce.update_token
        self._sched(
            self.scenario.compute_update_seconds, lambda at: self._update_done(ce, token, at), f"ce {ce.name} updated"
        )
        return name, arn

    def _update_done(self, ce: ComputeEnvironmentState, token: int, at: float) -> None:
        if token != ce.update_token:
            return  # a later update restarted UPDATING
        user_data = (ce.template_data or {}).get("UserData")
        script = decode_user_data(user_data) if user_data else ""
        if self.scenario.compute_environment_outcome == CE_INVALID and not _same_template(
            ce.template_ref, ce.original_template_ref
        ):
            ce.status, ce.status_reason = "INVALID", self.scenario.compute_environment_invalid_reason
        elif script and not is_mime_multipart(script):
            ce.status, ce.status_reason = "INVALID", NOT_MIME_REASON
        else:
            ce.status, ce.status_reason = "VALID", VALID_REASON
        for host in list(ce.hosts):  # instances of an older launch template are replaced
            if host.generation != ce.generation:
                host.retiring = True
                if not host.jobs:
                    self._host_ended(host, HOST_TERMINATED, REPLACED_REASON, at)
        self._set_queue_reasons(ce)
        if ce.status == "VALID":
            self._warm(ce, at)
        self._schedule(ce)

    def _set_queue_reasons(self, ce: ComputeEnvironmentState) -> None:
        reason = None
        if ce.status == "INVALID":
            reason = INVALID_CE_REASON
        elif not self.scenario.capacity_available:
            reason = CAPACITY_REASON.format(ce.instance_types[0])
        for ids in ce.queue.values():
            for job_id in ids:
                job = self.jobs[job_id]
                if job.queued and job.status == "RUNNABLE":
                    job.status_reason = reason

    def describe_environment(self, item: dict[str, Any]) -> dict[str, Any]:
        """DescribeComputeEnvironments: moto's item with the emulated status and desiredvCpus."""
        ce = self.environment(item["computeEnvironmentArn"])
        item["status"], item["statusReason"] = ce.status, ce.status_reason
        if isinstance(item.get("computeResources"), dict):
            item["computeResources"] = {
                **item["computeResources"],
                "desiredvCpus": ce.desired_vcpus,
                "minvCpus": ce.min_vcpus,
                "maxvCpus": ce.max_vcpus,
            }
        return item


def _same_template(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    a, b = a or {}, b or {}
    key_a = a.get("launchTemplateId") or a.get("launchTemplateName")
    key_b = b.get("launchTemplateId") or b.get("launchTemplateName")
    return key_a == key_b and str(a.get("version") or "$Default") == str(b.get("version") or "$Default")


def _check_launch_template(backend: BatchBackend, template: dict[str, Any]) -> None:
    ec2 = ec2_backends[backend.account_id][backend.region_name]
    try:
        if template.get("launchTemplateId"):
            lt = ec2.get_launch_template(template["launchTemplateId"])
        else:
            lt = ec2.get_launch_template_by_name(template.get("launchTemplateName", ""))
        lt.get_version(template.get("version") or "$Default")
    except Exception:
        raise ClientException(f"Launch template {template} does not exist") from None


def launch_template_data(account_id: str, region: str, ce_resources: dict[str, Any]) -> dict[str, Any] | None:
    """The LaunchTemplateData an instance of a compute environment would launch with now."""
    ref = (ce_resources or {}).get("launchTemplate")
    if not ref:
        return None
    ec2 = ec2_backends[account_id][region]
    try:
        lt = (
            ec2.get_launch_template(ref["launchTemplateId"])
            if ref.get("launchTemplateId")
            else ec2.get_launch_template_by_name(ref.get("launchTemplateName", ""))
        )
        return dict(lt.get_version(ref.get("version") or "$Default").data)
    except Exception:
        return None

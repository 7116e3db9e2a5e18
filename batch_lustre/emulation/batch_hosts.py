"""The emulated Batch's hosts: EC2 instances of a compute environment that boot, run their user data (the bounded
Lustre mount of asl/user_data.py), become ready, scale in when idle, or shut down (terminated or STOPPED).
The rules and their sources: docs/aws-rules.md, section "Batch"."""

from __future__ import annotations

import uuid

from batch_lustre.emulation.batch_records import (
    HOST_BOOTING,
    HOST_LIVE,
    HOST_MOUNTING,
    HOST_READY,
    HOST_STOPPED,
    HOST_TERMINATED,
    SCALE_IN_REASON,
    BatchParts,
    ComputeEnvironmentState,
    Host,
    MountProblem,
)
from batch_lustre.emulation.host_user_data import (
    LustreMount,
    decode_user_data,
    immutable_dirs,
    parse_lustre_mount,
    parse_mount_retry,
    shuts_down_without_mount,
)


class Hosts(BatchParts):
    def stopped_instances(self) -> list[Host]:
        """Hosts that shut themselves down and were STOPPED, not terminated: they stay (and bill for their volumes)."""
        return [h for h in self.hosts.values() if h.state == HOST_STOPPED]

    def live_hosts(self) -> list[Host]:
        return [h for h in self.hosts.values() if h.state in HOST_LIVE]

    def _warm(self, ce: ComputeEnvironmentState, at: float) -> None:
        """desiredvCpus above what the live hosts have: launch hosts now (they wait in their user data)."""
        live = sum(h.vcpus for h in ce.hosts if not h.retiring)
        missing = ce.desired_vcpus - live
        while missing > 0 and self.scenario.capacity_available:
            size = self._host_size(missing)
            self._launch(ce, size, warm=True, at=at)
            missing -= size

    def _host_size(self, vcpus: int) -> int:
        """vCPUs of the instance launched to cover ``vcpus``: at least ``host_vcpus``, at most ``max_host_vcpus``
        (the largest instance the environment's types offer): few large instances, as BEST_FIT_PROGRESSIVE picks."""
        sc = self.scenario
        return max(1, min(sc.max_host_vcpus, max(sc.host_vcpus, vcpus)))

    def _launch(self, ce: ComputeEnvironmentState, vcpus: int, *, warm: bool, at: float) -> Host:
        data = ce.template_data or {}
        script = decode_user_data(data["UserData"]) if data.get("UserData") else ""
        host = Host(
            instance_id=f"i-{uuid.uuid4().hex[:17]}",
            compute_environment_arn=ce.arn,
            vcpus=vcpus,
            generation=ce.generation,
            launched_at=at,
            warm=warm,
            script=script,
            terminate_on_shutdown=str(data.get("InstanceInitiatedShutdownBehavior", "")).lower() == "terminate",
        )
        self.hosts[host.instance_id] = host
        ce.hosts.append(host)
        self._sched(self.scenario.host_boot_seconds, lambda t: self._booted(host, t), f"host {host.instance_id} booted")
        return host

    def _booted(self, host: Host, at: float) -> None:
        if host.state != HOST_BOOTING:
            return
        host.state = HOST_MOUNTING
        host.immutable_dirs = tuple(immutable_dirs(host.script))
        mount = parse_lustre_mount(host.script)
        if mount is None:  # no Lustre in the user data: the host runs jobs on its root disk
            self._ready(host, at)
            return
        host.mount_dir = mount.mount_dir
        attempts, interval = parse_mount_retry(host.script)
        self._try_mount(host, mount, 1, attempts, interval, at)

    def _try_mount(
        self, host: Host, mount: LustreMount, attempt: int, attempts: int, interval: float, at: float
    ) -> None:
        if host.state != HOST_MOUNTING:
            return
        fs = self.fsx.by_mount(mount.dns_name, mount.mount_name)
        if fs is not None and fs.lifecycle == "AVAILABLE":
            host.file_system_id = fs.file_system_id
            self._ready(host, at)
            return
        if attempt < attempts:
            self._sched(
                interval,
                lambda t: self._try_mount(host, mount, attempt + 1, attempts, interval, t),
                f"host {host.instance_id} mount",
            )
            return
        if fs is None:
            why = (
                f"no file system answers {mount.dns_name}@tcp:/{mount.mount_name} "
                f"(wrong DNSName/MountName; mount.lustre rc=-22)"
            )
        else:
            why = f"file system {fs.file_system_id} is {fs.lifecycle}"
        why += f" after {attempts} mount attempt(s) over {attempts * interval:.0f} s"

        def give_up(t: float) -> None:
            if host.state != HOST_MOUNTING:
                return
            self.mount_problems.append(MountProblem("", f"host {host.instance_id}: {why}", host.instance_id))
            if shuts_down_without_mount(host.script):
                state = HOST_TERMINATED if host.terminate_on_shutdown else HOST_STOPPED
                self._host_ended(host, state, f"user data shut the host down: {why}", t)
            else:  # no check: the host runs jobs, which write to its root disk
                host.file_system_id = None
                self._ready(host, t)

        self._sched(interval, give_up, f"host {host.instance_id} mount failed")

    def _ready(self, host: Host, at: float) -> None:
        host.state, host.ready_at, host.idle_since = HOST_READY, at, at
        self._idle_check(host)
        self._schedule(self.environments[host.compute_environment_arn])

    def _host_ended(self, host: Host, state: str, reason: str, at: float) -> None:
        if host.state not in HOST_LIVE:
            return
        host.state, host.ended_at, host.end_reason = state, at, reason
        ce = self.environments[host.compute_environment_arn]
        if host in ce.hosts:
            ce.hosts.remove(host)
        ce.desired_vcpus = max(ce.min_vcpus, min(ce.desired_vcpus, sum(h.vcpus for h in ce.hosts)))
        self._schedule(ce)

    def _idle_check(self, host: Host) -> None:
        seconds = self.scenario.idle_scale_in_seconds
        if seconds is None or host.jobs:
            return
        since = host.idle_since

        def check(at: float) -> None:
            ce = self.environments[host.compute_environment_arn]
            if (
                host.state == HOST_READY
                and not host.jobs
                and host.idle_since == since
                and sum(h.vcpus for h in ce.hosts) - host.vcpus >= ce.min_vcpus
            ):
                self._host_ended(host, HOST_TERMINATED, SCALE_IN_REASON, at)

        self._sched(seconds, check, f"host {host.instance_id} idle")

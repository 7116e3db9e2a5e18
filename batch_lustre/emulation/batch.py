"""AWS Batch without docker: compute environments, hosts, jobs and array jobs on the emulated clock.

moto's Batch runs jobs in docker (or, with ``use_docker=False``, marks them SUCCEEDED at
once) and ignores compute environment updates. Here moto's backend and responses are
patched (``batch_api.install``) so that:

- UpdateComputeEnvironment puts the environment in ``UPDATING`` for
  ``BatchScenario.compute_update_seconds``, then ``VALID`` (or ``INVALID``: by scenario, or when
  the launch template's user data is not MIME multipart). desiredvCpus cannot be lowered and must
  be within min/max (ClientException). DescribeComputeEnvironments shows status, statusReason and
  the current desiredvCpus (``batch_environments``).
- Hosts (EC2 instances of the environment) are modelled: raising desiredvCpus launches hosts (warm
  capacity); a RUNNABLE job with no room on a ready host makes the environment launch one. A host
  boots (``host_boot_seconds``), then runs its launch template's user data: it tries to mount the
  Lustre file system it names as often as the user data's retry loop says (``host_user_data``), and
  is ready as soon as the mount succeeds. A host whose mount never succeeds shuts itself down:
  terminated if the template says ``InstanceInitiatedShutdownBehavior: terminate``, else STOPPED
  (EC2's default), which is a leftover (``BatchModel.stopped_instances``). Without capacity
  (``capacity_available=False``) nothing launches (``batch_hosts``).
- Jobs go SUBMITTED -> PENDING -> RUNNABLE -> STARTING -> RUNNING -> SUCCEEDED|FAILED, placed on a
  ready host with room (vCPUs), with ``attempts[]`` (container exit code, statusReason), the retry
  strategy (submit or job definition; attempts, evaluateOnExit) and the attempt timeout
  (``attemptDurationSeconds``: not retried) applied as AWS Batch documents them. A RUNNING attempt
  writes the scenario's files onto the file system its host mounted (``batch_jobs``).
- Array jobs (``arrayProperties.size`` 2..10,000): a parent and ``size`` children ``<id>:<index>``,
  each with ``AWS_BATCH_JOB_ARRAY_INDEX``; the parent is PENDING once a child is RUNNABLE, SUCCEEDED
  if every child succeeded, FAILED otherwise, once all ended; ``arrayProperties.statusSummary``.
- ListJobs by queue (jobStatus, or one filter: any status, newest first) or by array job id, paged;
  TerminateJob/CancelJob (of a parent: of its children) (``batch_api``).

Rules and their sources: docs/aws-rules.md, section "Batch".
"""

from __future__ import annotations

from batch_lustre.emulation.batch_api import JobRendering
from batch_lustre.emulation.batch_environments import ComputeEnvironments
from batch_lustre.emulation.batch_hosts import Hosts
from batch_lustre.emulation.batch_jobs import Jobs


class BatchModel(ComputeEnvironments, Hosts, Jobs, JobRendering):
    """The emulated AWS Batch of one emulation: its parts joined over the state they share (``BatchParts``)."""

"""Paths into a run's state data, which every section of the workflow reads and writes.

State data layout of a run (all under ``$``):
  polls.<loop>         the record of every waiting loop (bounded; schedules in config.derived.waits): {count, wait,
                       limit} of a Wait/Check/Count loop (run cleanup), or what WaitFor returns: {count, wait,
                       waited, Outcome, Last, Seen}; Last holds the last status read (lambda/wait_for.py)
  polls.lane.Last.Lane the lane the run chose (``LANE``: its index and refs, asl/lane.py); {} while it waits
  secret / config      the secret's string / ExtractParameters' result (ok, error, params, derived)
  fs                   {FileSystemId, MountName} from CreateFileSystem (its status: polls.fileSystem.Last)
  dra                  CreateDataRepositoryAssociation result (its status: polls.fileSystem.Last)
  lt, ceUpdate, ce     per-run launch template / compute environment switched to it / latest describe
  jobDefinition        per-run job definition
  job, jobEnd          {JobId} of the job (or array parent); {EndedAt}: when the job's end was seen
  watchdog             {Stuck, Status} when the watchdog ended a job that never started
  failure              {Error, Cause}: the run will fail with this
  jobFailure           {Error, Cause}: the job failed (results are still exported first)
  keep                 {Reason}: the file system must be kept (its data is not provably in S3)
  dataSafe             true once nothing on the file system is missing from S3
  cleanupErrors.<step> errors of cleanup steps (cleanup goes on after each); cleanupErrors.fileSystemKept
                       says the file system was left because DeleteFileSystem was refused
  fileSystemOutcome    {FileSystemDeleted, Reason}
"""

from __future__ import annotations

PARAMS = "$.config.params"  # ExtractParameters' run-time parameters, typed
DERIVED = "$.config.derived"  # and what it derived from them (names, schedules, job overrides)
# The lane the run chose: the last answer of WaitFor's lane check (asl.states.last("lane", "Lane")), read by every
# state that names the lane's compute environment, queue or baseline, and by TakeLane and ReleaseLane.
LANE = "$.polls.lane.Last.Lane"

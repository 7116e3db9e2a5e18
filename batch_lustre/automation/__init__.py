"""Automation API of batch-lustre, for other tools: the stack through Pulumi, the workflow's runs through AWS.

    from batch_lustre import automation

    automation.deploy("taskexport")                    # pulumi up, returns the stack outputs
    outcome = automation.run("taskexport")             # start a run and wait; RunFailed if it fails
    print(outcome.file_system_id, outcome.duration)

This module is the one to import: every public name of the modules below is here.

- ``stacks``: stack operations (``deploy``, ``preview``, ``refresh``, ``destroy``, ``outputs``) run the Pulumi program of the
  project directory (the one ``__main__.py`` runs) through the Automation API: a ``LocalWorkspace`` whose work
  dir is the project directory and whose stack is the one named. They need the ``pulumi`` CLI on PATH
  (``PulumiCliMissing`` otherwise), at least ``pulumi_cli.MINIMUM_PULUMI_CLI`` (``PulumiCliTooOld``). ``stack_settings`` reads ``Pulumi.<stack>.yaml`` as the program reads its
  config (``settings.settings_from_config``); ``load_outputs`` takes the outputs from Pulumi or from a
  ``pulumi stack output --json`` file (``outputs_file``).
- ``guard``: ``deploy``, ``refresh`` and ``destroy`` first check that no run of the stack is RUNNING
  (``check_no_run``) and raise ``StackBusy``, naming the run (name, ARN, start time), while one is. Their keyword
  arguments ``wait_minutes`` (1 to ``MAX_WAIT_MINUTES``: wait for the runs to end, looking every
  ``poll_seconds``, timed by ``time_source``) and ``force`` (go ahead anyway) are the CLI's ``--wait`` and
  ``--force``. A ``pulumi up`` during a run can put the compute environment back on its baseline launch
  template under the run's jobs (README, "Real use").
- ``repository_guard``: ``deploy`` then checks that the stack config names the deployed ECR repository
  (``check_repository_change``, or ``repository_check`` for a stack): a change of ``ecrRepositoryName`` while the
  deployed repository holds images raises ``RepositoryHoldsImages``, naming both repositories, the images and how
  to move them, unless ``force`` (README, "Changing a live stack").
- ``runs``: run operations (``start_run``, ``follow_run``, ``wait_for_run``, ``run``, ``list_runs``,
  ``run_cleanup_of``, ``objects_since``), with boto3 against the resources the stack outputs name;
  ``history``: a run's execution history read into ``RunEvent``s and its ``RunOutcome``.
- ``parameters``: the runtime parameters in the stack's secret (``read_parameters``, ``update_parameters``,
  ``reset_parameters``).
- ``emulated``: the stack deployed in the offline emulated AWS, for another tool's tests (the ``emulation``
  extra; no credentials, no network), used by ``batch-lustre demo`` itself::

      with automation.emulated("taskexport") as stack:          # an EmulatedDeployment
          outcome = stack.run(overrides={"vcpus": 4}, timeout=120)
          stack.outputs["bucketName"], stack.list_runs(), stack.emulation.now()

  ``deploy_emulated`` deploys into an emulation the caller entered.
- ``teardown``: ``destroy`` then checks what it would leave billing or fail on (``destroy_check``, or
  ``check_destroy`` on given outputs): the stack's file systems (kept, in flight or left by a run), images in its
  ECR repository, objects in its bucket; ``DestroyBlocked`` names each with its next step, unless ``force``.
- ``acceptance``: the budget-guarded end-to-end check of a deployed stack (``run_acceptance`` -> an
  ``AcceptanceReport``; ``batch-lustre acceptance`` draws it); ``leftovers``: the per-run resources a run left
  behind (``find_leftovers``, ``to_delete``, ``delete_leftover``; ``batch-lustre sweep``); ``adoption``: file
  systems from before the stack id (``from_before_stack_id``, ``adopt``; ``batch-lustre sweep --adopt``).
- ``lane_view``: the stack's lanes (``lanes`` -> a ``LaneView``: each ``Lane``, free or held by which run since when,
  and the ``WaitingRun``s in line with how many are ahead of each, by the workflow's own queue rule); ``free_lane``
  frees a lane whose owner has ended, only if that owner still holds it (``batch-lustre lanes``, ``status``,
  ``sweep``).
- ``clients``: the boto3 clients (``aws_client``); patch ``batch_lustre.automation.clients.aws_client`` to hand
  every operation another client.
- ``errors``: ``AutomationError`` and its subclasses; ``boundary``: the decorator that makes every public
  function raise only those.

Per-run overrides (docs/workflow-v2.md, "Execution input"): ``start_run`` and ``run`` take
``overrides``, a mapping with any of the keys ``command`` (list of strings), ``environment`` (name ->
value), ``vcpus``, ``memory`` (MiB), ``imageTag``, ``arraySize``, ``warmComputeCapacity``; they become
the execution input, checked first by ``parameters.validate_overrides`` exactly as the workflow's
ExtractParameters checks them (a refused one raises ``ParameterError`` and starts nothing):

    automation.run("taskexport", overrides={"command": ["python", "sim.py", "--steps", "10"],
                                            "environment": {"STEPS": "10"}, "vcpus": 4, "memory": 8192})

``run_input`` is that check alone; ``compute_environment_max_vcpus`` the bound it checks ``vcpus`` against;
``execution_input`` reads what a run was started with; ``run_cleanup_of`` finds the run-cleanup execution
EventBridge started after a run that did not succeed.

Every public function raises only ``AutomationError`` subclasses, whose message is one line saying what was
wrong and what is accepted; nothing is printed. A refused value (a bad stack file included) raises
``ParameterError``, also a subclass of the program's ``parameters.ParameterError``. AWS errors are wrapped with
the operation and botocore's cause: ``NoCredentials``, ``EndpointUnreachable``, ``Throttled`` (past botocore's
retries), ``AccessDenied``, any other ``AwsError``:

    try:
        automation.start_run("taskexport", overrides={"vcpus": 4})
    except automation.ParameterError as refused:   # nothing was started
        ...
    except automation.AutomationError as failed:   # e.g. "start_run: no AWS credentials found (botocore ...)"
        ... The project directory is found by ``batch_lustre.project`` each time an operation runs
(``BATCH_LUSTRE_PROJECT_DIR`` points at another checkout); every operation also takes ``work_dir``.

The execution history (``GetExecutionHistory``) is the source of every run's progress and outcome,
not ``DescribeExecution`` (whose output moto cannot serialise when it holds datetimes).
"""

from __future__ import annotations

from batch_lustre.automation.acceptance import (
    AcceptanceClients,
    AcceptanceReport,
    acceptance_job_command,
    acceptance_marker_content,
    acceptance_marker_key,
    acceptance_overrides,
    check_acceptance_secret,
    new_acceptance_name,
    run_acceptance,
)
from batch_lustre.automation.adoption import NotAdoptable, OldFileSystem, adopt, from_before_stack_id
from batch_lustre.automation.clients import aws_client, region_of
from batch_lustre.automation.emulated import (
    EmulatedDeployment,
    SteppedEmulatedTime,
    deploy_emulated,
    emulated,
    stack_max_vcpus,
)
from batch_lustre.automation.errors import (
    AccessDenied,
    AutomationError,
    AwsError,
    EndpointUnreachable,
    MissingOutput,
    NoCredentials,
    ParameterError,
    PulumiCliMissing,
    PulumiCliTooOld,
    PulumiCommandFailed,
    RepositoryHoldsImages,
    RunFailed,
    RunStillRunning,
    StackBusy,
    Throttled,
    UnknownStack,
    one_line,
)
from batch_lustre.automation.guard import (
    DEFAULT_POLL_SECONDS,
    MAX_WAIT_MINUTES,
    RealTime,
    RunningExecution,
    TimeSource,
    check_no_run,
    check_wait_minutes,
    running_runs,
    stack_state_machines,
)
from batch_lustre.automation.history import (
    FACT_PATHS,
    TERMINAL_EVENTS,
    HistoryReader,
    RunEvent,
    RunOutcome,
    RunTracker,
    execution_input,
    execution_name,
    run_error,
)
from batch_lustre.automation.lane_view import (
    Lane,
    LaneClients,
    LaneView,
    WaitingRun,
    execution_status,
    free_lane,
    lanes,
)
from batch_lustre.automation.leftovers import (
    Leftover,
    LeftoverClients,
    delete_leftover,
    find_leftovers,
    runs_by_name,
    to_delete,
)
from batch_lustre.automation.parameters import (
    RuntimeParameters,
    check_assignment,
    check_assignments,
    parse_assignment,
    read_parameters,
    reset_parameters,
    update_parameters,
)
from batch_lustre.automation.repository_guard import (
    RepositoryChange,
    RepositoryImages,
    check_repository_change,
    repository_change,
    repository_images,
    split_repository_url,
)
from batch_lustre.automation.runs import (
    RunHandle,
    RunSummary,
    StoredObject,
    check_run_input,
    compute_environment_max_vcpus,
    follow_run,
    iter_executions,
    list_runs,
    new_run_name,
    objects_since,
    run,
    run_cleanup_of,
    run_input,
    running_executions,
    start_run,
    wait_for_run,
)
from batch_lustre.automation.stacks import (
    REQUIRED_OUTPUTS,
    ROOT,
    check_stack,
    deploy,
    destroy,
    destroy_check,
    guard_stack,
    known_stacks,
    load_outputs,
    outputs,
    preview,
    project_root,
    pulumi_stack,
    refresh,
    repository_check,
    required_output,
    stack_config,
    stack_region,
    stack_settings,
)
from batch_lustre.automation.teardown import (
    Blocker,
    DestroyBlocked,
    TeardownClients,
    bucket_blocker,
    check_destroy,
    destroy_blockers,
    file_system_blockers,
    protection_blockers,
    repository_blocker,
)

__all__ = [
    "lanes",
    "free_lane",
    "execution_status",
    "WaitingRun",
    "LaneView",
    "LaneClients",
    "Lane",
    "DEFAULT_POLL_SECONDS",
    "FACT_PATHS",
    "MAX_WAIT_MINUTES",
    "REQUIRED_OUTPUTS",
    "ROOT",
    "TERMINAL_EVENTS",
    "AcceptanceClients",
    "AcceptanceReport",
    "AccessDenied",
    "AutomationError",
    "AwsError",
    "Blocker",
    "DestroyBlocked",
    "EmulatedDeployment",
    "EndpointUnreachable",
    "HistoryReader",
    "Leftover",
    "LeftoverClients",
    "MissingOutput",
    "NoCredentials",
    "NotAdoptable",
    "OldFileSystem",
    "ParameterError",
    "PulumiCliMissing",
    "PulumiCliTooOld",
    "PulumiCommandFailed",
    "RealTime",
    "RepositoryChange",
    "RepositoryHoldsImages",
    "RepositoryImages",
    "RunEvent",
    "RunFailed",
    "RunHandle",
    "RunOutcome",
    "RunStillRunning",
    "RunSummary",
    "RunTracker",
    "RunningExecution",
    "RuntimeParameters",
    "StackBusy",
    "SteppedEmulatedTime",
    "StoredObject",
    "TeardownClients",
    "Throttled",
    "TimeSource",
    "UnknownStack",
    "acceptance_job_command",
    "acceptance_marker_content",
    "acceptance_marker_key",
    "acceptance_overrides",
    "adopt",
    "aws_client",
    "bucket_blocker",
    "check_acceptance_secret",
    "check_assignment",
    "check_assignments",
    "check_destroy",
    "check_no_run",
    "check_repository_change",
    "check_run_input",
    "check_stack",
    "check_wait_minutes",
    "compute_environment_max_vcpus",
    "delete_leftover",
    "deploy",
    "deploy_emulated",
    "destroy",
    "destroy_blockers",
    "destroy_check",
    "emulated",
    "execution_input",
    "execution_name",
    "file_system_blockers",
    "find_leftovers",
    "follow_run",
    "from_before_stack_id",
    "guard_stack",
    "iter_executions",
    "known_stacks",
    "list_runs",
    "load_outputs",
    "new_acceptance_name",
    "new_run_name",
    "objects_since",
    "one_line",
    "outputs",
    "parse_assignment",
    "preview",
    "project_root",
    "protection_blockers",
    "pulumi_stack",
    "read_parameters",
    "refresh",
    "region_of",
    "repository_blocker",
    "repository_change",
    "repository_check",
    "repository_images",
    "required_output",
    "reset_parameters",
    "run",
    "run_acceptance",
    "run_cleanup_of",
    "run_error",
    "run_input",
    "running_executions",
    "running_runs",
    "runs_by_name",
    "split_repository_url",
    "stack_config",
    "stack_max_vcpus",
    "stack_region",
    "stack_settings",
    "stack_state_machines",
    "start_run",
    "to_delete",
    "update_parameters",
    "wait_for_run",
]

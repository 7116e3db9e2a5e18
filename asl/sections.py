"""Where the workflow's sections meet: the states one section hands over to, and how a section records the
failure of a step."""

from __future__ import annotations

from batch_lustre.program.asl.states import Graph, ends_branch, pass_parameters

# Entry points that mode-specific sections and the shared part hand over to (a text search for the name finds
# the constant; a search for the constant finds the state).
AFTER_JOB = "AfterJob"  # each variant adds this state (asl/task_export.py, asl/auto_export.py): results into S3
CLEANUP = "Cleanup"  # asl/cleanup.py; run-cleanup has its own (asl/run_cleanup.py)
MARK_DATA_SAFE = "MarkDataSafe"  # asl/cleanup.py


def record_failure(g: Graph, name: str, next_state: str | None) -> str:
    """Pass ``name`` recording that the step before it failed: Error ``name``, Cause the original error and cause.

    A Fail state's error is never a reserved ``States.*`` name, so the original one goes into the Cause.
    ``next_state`` None: the Pass ends its Parallel branch.
    """
    state = pass_parameters(
        {"Error": name, "Cause.$": "States.Format('{}: {}', $.error.Error, $.error.Cause)"},
        "$.failure",
        next_state or "",
    )
    g.add(name, state if next_state else ends_branch(state))
    return name

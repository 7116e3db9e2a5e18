"""Names and tags shared by the stack's resources and every per-run resource."""

from __future__ import annotations

PROJECT = "batch-lustre"
TAG_STACK = f"{PROJECT}:stack"
TAG_MODE = f"{PROJECT}:mode"
TAG_RUN = f"{PROJECT}:run"
# On a file system a run kept (data not provably in S3, deleteLustre=false, delete refused): the run-cleanup
# state machine leaves it to the user.
TAG_KEPT = f"{PROJECT}:kept"

# Where the job sees the file system, and where the host mounts it.
HOST_MOUNT_DIR = "/fsx"
FILE_SYSTEM_PATH = "/scratch"  # the DRA's directory on the file system
HOST_SCRATCH_DIR = HOST_MOUNT_DIR + FILE_SYSTEM_PATH  # /fsx/scratch
CONTAINER_SCRATCH_DIR = "/scratch"


def stack_tags(stack: str, mode: str) -> dict[str, str]:
    """Tags on every resource of the stack."""
    return {TAG_STACK: stack, TAG_MODE: mode}


def state_machine_name(name_prefix: str, stack: str) -> str:
    """The state machine's fixed name (the role's policy names its executions)."""
    return f"{name_prefix}-{stack}-workflow"[:80]

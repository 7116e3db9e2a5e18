"""Pure builders of the two workflow variants' state machine definitions (no Pulumi here)."""

from __future__ import annotations

from typing import Any

from batch_lustre.program.asl.auto_export import build_auto_export
from batch_lustre.program.asl.refs import WorkflowRefs
from batch_lustre.program.asl.task_export import build_task_export
from batch_lustre.program.parameters import AUTO_EXPORT, TASK_EXPORT, check_mode

BUILDERS = {TASK_EXPORT: build_task_export, AUTO_EXPORT: build_auto_export}


def build_definition(refs: WorkflowRefs) -> dict[str, Any]:
    """The state machine definition (ASL as a dict) of ``refs.mode``."""
    check_mode(refs.mode)
    return BUILDERS[refs.mode](refs)


__all__ = ["WorkflowRefs", "build_definition"]

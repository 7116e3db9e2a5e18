"""The run cleanup's output, read back: what one run-cleanup execution did, in one line.

The run cleanup ends with ``fileSystem`` (the run's file system outcome: ``FileSystemDeleted`` and a ``Reason`` or
the ``Lifecycle`` it was left in) and ``actions`` (what else it undid): docs/workflow-v2.md, section "Run cleanup after an
abnormal end"; asl/run_cleanup.py builds it.
"""

from __future__ import annotations

from typing import Any


def run_cleanup_did(output: Any) -> str:
    """One line from a run-cleanup execution's output ("" when it holds neither outcome nor actions)."""
    output = output if isinstance(output, dict) else {}
    fate = output.get("fileSystem") if isinstance(output.get("fileSystem"), dict) else {}
    parts = []
    if fate:
        deleted = fate.get("FileSystemDeleted")
        parts.append(
            "file system "
            + ("deleted" if deleted else f"not deleted ({fate.get('Reason') or fate.get('Lifecycle') or '?'})")
        )
    actions = output.get("actions")
    if isinstance(actions, list):
        parts.append("; ".join(str(a) for a in actions) if actions else "nothing else left to undo")
    return "; ".join(parts)

"""File systems from before the stack id: kept by runs of a release that tagged them with the short stack name only
(``batch-lustre:stack``, ``batch-lustre:mode``, ``batch-lustre:run``), without ``batch-lustre:stack-id``.

The stack's roles act only on resources carrying its id (their IAM conditions), and ``sweep`` looks only at those, so
such a file system would bill unseen. ``from_before_stack_id`` lists the ones carrying this stack's old tags, and
``adopt`` tags one with this stack's id, after checking those tags again (another project's stack of the same name
tags alike: adopting is the operator's decision, never automatic). Once adopted it is one of this stack's leftovers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from batch_lustre.automation.boundary import operation
from batch_lustre.automation.errors import AutomationError
from batch_lustre.automation.stacks import required_output
from batch_lustre.program.asl.naming import OUTPUT_MODE, OUTPUT_STACK_ID, TAG_MODE, TAG_RUN, TAG_STACK, TAG_STACK_ID

GONE_LIFECYCLES = ("DELETING",)


class NotAdoptable(AutomationError):
    """A file system asked to be adopted does not carry this stack's old tags (or carries a stack id already)."""


@dataclass(frozen=True)
class OldFileSystem:
    """A file system with this stack's old tags and no stack id."""

    file_system_id: str
    name: str
    run: str
    lifecycle: str


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def why_not_adoptable(tags: Mapping[str, str], stack: str, mode: str) -> str | None:
    """Why a file system with ``tags`` is not one of ``stack``'s from before the stack id (None: it is)."""
    if TAG_STACK_ID in tags:
        return f"it carries {TAG_STACK_ID}={tags[TAG_STACK_ID]} already"
    expected = {TAG_STACK: stack, TAG_MODE: mode}
    wrong = [f"{key}={tags.get(key, '(none)')}" for key, value in expected.items() if tags.get(key) != value]
    if wrong:
        return f"its tags {', '.join(wrong)} are not stack {stack}'s ({TAG_STACK}={stack}, {TAG_MODE}={mode})"
    if TAG_RUN not in tags:
        return f"it carries no {TAG_RUN} tag: no run of this project made it"
    return None


@operation
def from_before_stack_id(stack: str, stack_outputs: Mapping[str, Any], fsx: Any) -> list[OldFileSystem]:
    """File systems tagged ``batch-lustre:stack`` = ``stack`` and ``batch-lustre:mode`` = the stack's mode, with a
    run tag and no stack id (DescribeFileSystems, every page); those being deleted are left out."""
    mode = required_output(stack_outputs, OUTPUT_MODE, stack)
    found = []
    for page in fsx.get_paginator("describe_file_systems").paginate():
        for fs in page.get("FileSystems", []):
            tags = _tags(fs.get("Tags"))
            lifecycle = fs.get("Lifecycle") or "?"
            if lifecycle not in GONE_LIFECYCLES and why_not_adoptable(tags, stack, mode) is None:
                fs_id = fs["FileSystemId"]
                found.append(OldFileSystem(fs_id, tags.get("Name", fs_id), tags[TAG_RUN], lifecycle))
    return found


@operation
def adopt(stack: str, stack_outputs: Mapping[str, Any], file_system_id: str, fsx: Any) -> None:
    """Tag file system ``file_system_id`` with the stack's id (output ``stackId``), after checking again that it
    carries the stack's old tags and no stack id; ``NotAdoptable`` (nothing changed) otherwise."""
    stack_id = required_output(stack_outputs, OUTPUT_STACK_ID, stack)
    mode = required_output(stack_outputs, OUTPUT_MODE, stack)
    described = fsx.describe_file_systems(FileSystemIds=[file_system_id])["FileSystems"]
    if not described:
        raise NotAdoptable(f"file system {file_system_id} is not adopted: it does not exist")
    why = why_not_adoptable(_tags(described[0].get("Tags")), stack, mode)
    if why is not None:
        raise NotAdoptable(f"file system {file_system_id} is not adopted by stack {stack}: {why}")
    fsx.tag_resource(ResourceARN=described[0]["ResourceARN"], Tags=[{"Key": TAG_STACK_ID, "Value": stack_id}])

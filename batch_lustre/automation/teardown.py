"""What a ``destroy`` would leave billing, or fail on: the check ``destroy`` makes after the run guard.

``pulumi destroy`` deletes only the stack's Pulumi resources. What it cannot delete, or what outlives it:

- **file systems of the stack** (tagged with its id, ``batch-lustre:stack-id``, the output ``stackId``: a run's,
  kept on purpose or in flight, or one a run left; and those from before the stack id, with this stack's old tags
  and no id, which ``batch-lustre sweep --adopt`` adopts): not Pulumi resources. Another stack's, even of the same
  name, are not listed. Each holds network interfaces in the stack's subnet and its Lustre security
  group, so the destroy fails on those after its timeouts while the file system keeps billing;
- **images in the ECR repository**: the repository is not ``force_delete``, and ECR refuses to delete a
  repository that holds images;
- **objects in the bucket** (any version or delete marker: it is versioned): S3 refuses to delete a bucket that
  holds any; the bucket holds the runs' results;
- **a protected bucket or repository** (stack config ``protectBucket``, on by default, and ``protectRepository``):
  Pulumi deletes no protected resource, so the destroy would stop there.

``destroy_blockers`` lists them, each with what to do next; ``check_destroy`` refuses (``DestroyBlocked``, one
line naming each) unless forced. docs/aws-rules.md, "Destroying a stack", has the rules and their sources.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from batch_lustre.automation import clients as aws
from batch_lustre.automation.boundary import operation
from batch_lustre.automation.errors import AutomationError
from batch_lustre.program.asl.naming import (
    OUTPUT_BUCKET_NAME,
    OUTPUT_ECR_REPOSITORY_URL,
    OUTPUT_MODE,
    OUTPUT_STACK_ID,
    TAG_KEPT,
    TAG_MODE,
    TAG_RUN,
    TAG_STACK,
    TAG_STACK_ID,
)

FILE_SYSTEM = "file system"
REPOSITORY = "ECR repository"
BUCKET = "bucket"


class DestroyBlocked(AutomationError):
    """A destroy would leave something billing or fail on something it cannot delete (each named, with what to
    do); nothing was changed."""


@dataclass(frozen=True)
class Blocker:
    """One thing a destroy would leave billing or fail on, and the next step for it."""

    kind: str  # FILE_SYSTEM | REPOSITORY | BUCKET
    name: str  # file system id, repository name, bucket name
    why: str
    next_step: str

    def line(self) -> str:
        """``file system fs-0123 (kept: ...): copy what you need ...``."""
        return f"{self.kind} {self.name} ({self.why}): {self.next_step}"


@dataclass
class TeardownClients:
    """The AWS clients the check reads with (moto intercepts them in the emulation)."""

    fsx: Any
    ecr: Any
    s3: Any

    @classmethod
    def for_region(cls, region: str | None) -> TeardownClients:
        return cls(*(aws.aws_client(service, region) for service in ("fsx", "ecr", "s3")))


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def _error_code(err: Exception) -> str:
    return str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))


def _of_the_stack(tags: Mapping[str, str], stack: str, stack_id: str, mode: str) -> tuple[bool, bool]:
    """(the file system carries ``stack_id``, it is one of ``stack``'s from before the stack id: its old tags and
    no id)."""
    if TAG_STACK_ID in tags:
        return bool(stack_id) and tags[TAG_STACK_ID] == stack_id, False
    old = tags.get(TAG_STACK) == stack and TAG_RUN in tags and (not mode or tags.get(TAG_MODE) == mode)
    return False, old


@operation
def file_system_blockers(
    stack: str, stack_id: str, fsx: Any, running: Collection[str] = (), mode: str = ""
) -> list[Blocker]:
    """Every file system tagged ``batch-lustre:stack-id`` = ``stack_id`` (DescribeFileSystems, every page), and
    every one from before the stack id (``batch-lustre:stack`` = ``stack``, a run tag, ``batch-lustre:mode`` =
    ``mode`` when given, no stack id), with the next step by what it is: kept by its run, of a run still RUNNING
    (``running``: execution names), being deleted, left by an ended run, or to be adopted."""
    found = []
    for page in fsx.get_paginator("describe_file_systems").paginate():
        for fs in page.get("FileSystems", []):
            tags = _tags(fs.get("Tags"))
            ours, old = _of_the_stack(tags, stack, stack_id, mode)
            if not (ours or old):
                continue
            run, lifecycle = tags.get(TAG_RUN, "unknown"), fs.get("Lifecycle") or "?"
            if lifecycle == "DELETING":
                why, step = "DELETING", "wait until it is gone (a few minutes), then destroy"
            elif old:
                why = f"from before the stack id: run {run}"
                step = (
                    f"`batch-lustre sweep -s {stack} --adopt` tags it with this stack's id, then sweep deletes it "
                    "(copy what you need from it first)"
                )
            elif run in running:
                why, step = f"of run {run}, RUNNING", "wait for the run to end (--wait MINUTES), then destroy"
            elif TAG_KEPT in tags:  # the value: why (run cleanup), or "true" (the run's own Cleanup)
                why = f"kept by run {run}" + (f": {tags[TAG_KEPT]}" if tags[TAG_KEPT] not in ("", "true") else "")
                step = f"copy what you need from it, then delete it with `batch-lustre sweep -s {stack}`"
            else:
                why = f"left by run {run}, {lifecycle}"
                step = f"`batch-lustre sweep -s {stack}` deletes it (copy what you need from it first)"
            found.append(Blocker(FILE_SYSTEM, fs["FileSystemId"], why, step))
    return found


@operation
def repository_blocker(repository_url: str, ecr: Any) -> Blocker | None:
    """The ECR repository of ``repository_url`` when it holds images (ListImages, every page)."""
    name = repository_url.split("/", 1)[1] if "/" in repository_url else repository_url
    count = 0
    try:
        for page in ecr.get_paginator("list_images").paginate(repositoryName=name):
            count += len(page.get("imageIds", []))
    except Exception as err:
        if _error_code(err) == "RepositoryNotFoundException":
            return None
        raise
    if not count:
        return None
    return Blocker(
        REPOSITORY,
        name,
        f"holds {count} image(s)",
        "ECR deletes no repository that holds images: copy the images you need elsewhere, then delete them "
        f"(`aws ecr batch-delete-image --repository-name {name} --image-ids ...`)",
    )


@operation
def bucket_blocker(bucket: str, s3: Any) -> Blocker | None:
    """The bucket when it holds any object version or delete marker (ListObjectVersions, one key)."""
    try:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=1)
    except Exception as err:
        if _error_code(err) == "NoSuchBucket":
            return None
        raise
    if not page.get("Versions") and not page.get("DeleteMarkers"):
        return None
    return Blocker(
        BUCKET,
        bucket,
        "holds the runs' results (objects or their versions)",
        "S3 deletes no bucket that holds objects: copy the results you need, then empty it, every version and "
        "delete marker included (it is versioned)",
    )


# The stack config key that sets Pulumi's ``protect`` on each kind of resource (``pulumi destroy`` refuses to
# delete a protected resource: Pulumi docs, "Resource options: protect").
PROTECT_KEYS = {BUCKET: "protectBucket", REPOSITORY: "protectRepository"}


@operation
def protection_blockers(stack: str, stack_outputs: Mapping[str, Any], protected: Mapping[str, bool]) -> list[Blocker]:
    """The bucket and the repository when the stack protects them (``protected``: kind -> its protect key's
    value): ``pulumi destroy`` would stop on them."""
    names = {BUCKET: stack_outputs.get(OUTPUT_BUCKET_NAME), REPOSITORY: stack_outputs.get(OUTPUT_ECR_REPOSITORY_URL)}
    found = []
    for kind, key in PROTECT_KEYS.items():
        name = names[kind]
        if protected.get(kind) and isinstance(name, str) and name:
            found.append(
                Blocker(
                    kind,
                    name.split("/", 1)[-1],
                    f"protected: {key}=true, and pulumi destroy deletes no protected resource",
                    f"`pulumi config set batch-lustre:{key} false -s {stack}` and `batch-lustre deploy -s {stack}` "
                    "first",
                )
            )
    return found


@operation
def destroy_blockers(
    stack: str,
    stack_outputs: Mapping[str, Any],
    clients: TeardownClients,
    running: Collection[str] = (),
    protected: Mapping[str, bool] | None = None,
) -> list[Blocker]:
    """What a destroy of ``stack`` would leave billing or fail on: its file systems (by its id, output ``stackId``,
    and those from before the stack id), then the images in its
    repository and the objects in its bucket (from the stack outputs; an output missing: not checked), and what
    the stack protects (``protected``: kind -> the value of its key in ``PROTECT_KEYS``)."""
    stack_id, mode = stack_outputs.get(OUTPUT_STACK_ID), stack_outputs.get(OUTPUT_MODE)
    found = file_system_blockers(
        stack,
        stack_id if isinstance(stack_id, str) else "",
        clients.fsx,
        running,
        mode if isinstance(mode, str) else "",
    )
    repository = stack_outputs.get(OUTPUT_ECR_REPOSITORY_URL)
    if isinstance(repository, str) and repository:
        found += [b for b in [repository_blocker(repository, clients.ecr)] if b is not None]
    bucket = stack_outputs.get(OUTPUT_BUCKET_NAME)
    if isinstance(bucket, str) and bucket:
        found += [b for b in [bucket_blocker(bucket, clients.s3)] if b is not None]
    return found + protection_blockers(stack, stack_outputs, protected or {})


@operation
def check_destroy(
    stack: str,
    stack_outputs: Mapping[str, Any],
    clients: TeardownClients,
    *,
    force: bool = False,
    running: Collection[str] = (),
    protected: Mapping[str, bool] | None = None,
) -> list[Blocker]:
    """``destroy_blockers``; ``DestroyBlocked`` (one line naming each, with its next step) unless ``force``, when
    they are returned for the caller to say what it went ahead over. [] when there is none."""
    found = destroy_blockers(stack, stack_outputs, clients, running, protected)
    if found and not force:
        raise DestroyBlocked(
            f"destroy refused: {len(found)} thing(s) of stack {stack} would be left billing or block the destroy: "
            + "; ".join(b.line() for b in found)
            + "; or destroy anyway (--force)"
        )
    return found

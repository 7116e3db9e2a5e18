"""An ``ecrRepositoryName`` change is a migration: the check ``deploy`` makes beside the run guard (``guard``).

The repository's name is a replace-only property of ``aws.ecr.Repository``. A deploy whose stack config names
another repository than the deployed one (``ecrRepositoryName``, resolved as the program resolves it:
``Settings.ecr_repository_name``) creates the new repository, empty, points the workflow at it (a run then stops at
ResolveJobImage with ``JobImageNotFound``), and last deletes the old one. The stack declares the repository with
``force_delete=False`` (pulumi-aws: "If `true`, will delete the repository even if it contains images. Defaults to
`false`"), and ECR deletes no repository that holds images without ``force`` (ECR API Reference,
DeleteRepository): that delete fails, so the deploy fails, and Pulumi keeps the old repository in its state as
pending deletion and tries again at the start of every later ``pulumi up`` and ``destroy``, which fail the same
way until the old repository is empty (docs/aws-rules.md, "A live stack").

So ``deploy`` first compares the stack config's repository with the deployed one (the stack output
``ecrRepositoryUrl``) and, when they differ and the old one holds images (``ListImages``, every page), refuses
(``RepositoryHoldsImages``, one line naming both, the images, and how to move them) unless ``force``. An empty old
repository: the change goes ahead. A stack never deployed (no output): nothing to compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from batch_lustre.automation import clients
from batch_lustre.automation.boundary import operation
from batch_lustre.automation.errors import RepositoryHoldsImages
from batch_lustre.program.asl.naming import OUTPUT_ECR_REPOSITORY_URL
from batch_lustre.program.settings import Settings


@dataclass(frozen=True)
class RepositoryImages:
    """What a repository holds: its images (distinct digests), their tags, and how many have no tag."""

    images: int
    tags: tuple[str, ...]
    untagged: int


@dataclass(frozen=True)
class RepositoryChange:
    """The stack config names another ECR repository (``configured``) than the deployed stack's (``deployed``)."""

    stack: str
    configured_value: str  # ecrRepositoryName as the stack config has it ("" derives the name)
    deployed: str
    configured: str
    registry: str  # <account>.dkr.ecr.<region>.amazonaws.com
    held: RepositoryImages

    def url(self, name: str) -> str:
        """``<registry>/<name>``: what ``docker`` pulls from and pushes to."""
        return f"{self.registry}/{name}" if self.registry else name

    def describe(self) -> str:
        """``ecrRepositoryName="new" changes the ECR repository of stack s from old to new; old holds 2 image(s)
        (tags latest, v1)``."""
        held = self.held
        tags = f"tags {', '.join(held.tags)}" if held.tags else "no tag"
        untagged = f", {held.untagged} untagged" if held.untagged and held.tags else ""
        return (
            f'ecrRepositoryName="{self.configured_value}" changes the ECR repository of stack {self.stack} from '
            f"{self.deployed} to {self.configured}; {self.deployed} holds {held.images} image(s) ({tags}{untagged})"
        )

    def refusal(self) -> str:
        """The one line ``deploy`` refuses with: both names, the images, what the deploy would do, how to move."""
        old, new = self.url(self.deployed), self.url(self.configured)
        untagged = " (untagged ones by imageDigest=...)" if self.held.untagged else ""
        return (
            f"deploy refused: {self.describe()}; the deploy would create {self.configured} empty (runs then fail "
            f"with JobImageNotFound) and fail to delete {self.deployed} (the stack does not force_delete it and ECR "
            f"deletes no repository holding images), as would every later deploy and destroy until it is empty: "
            f"to move the images, deploy with --force, then for each tag TAG `docker pull {old}:TAG && docker tag "
            f"{old}:TAG {new}:TAG && docker push {new}:TAG`, delete them from {self.deployed} (`aws ecr "
            f"batch-delete-image --repository-name {self.deployed} --image-ids imageTag=TAG`{untagged}) and deploy "
            f'again; or keep ecrRepositoryName="{self.deployed}"'
        )


def _error_code(err: Exception) -> str:
    return str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))


@operation
def split_repository_url(repository_url: str) -> tuple[str, str]:
    """``(<registry>, <name>)`` of ``<account>.dkr.ecr.<region>.amazonaws.com/<name>`` (a bare name: ``("",
    name)``); the name may hold ``/``."""
    registry, slash, name = repository_url.partition("/")
    return (registry, name) if slash else ("", registry)


@operation
def repository_images(name: str, ecr: Any) -> RepositoryImages:
    """What the repository ``name`` holds (ListImages, every page); a repository that does not exist holds
    nothing."""
    digests: set[str] = set()
    tagged: set[str] = set()
    tags: set[str] = set()
    try:
        for page in ecr.get_paginator("list_images").paginate(repositoryName=name):
            for image in page.get("imageIds", []):
                digest = image.get("imageDigest", "")
                digests.add(digest)
                if image.get("imageTag"):
                    tags.add(image["imageTag"])
                    tagged.add(digest)
    except Exception as err:
        if _error_code(err) == "RepositoryNotFoundException":
            return RepositoryImages(0, (), 0)
        raise
    return RepositoryImages(len(digests), tuple(sorted(tags)), len(digests - tagged))


@operation
def repository_change(
    stack: str, settings: Settings, stack_outputs: Mapping[str, Any], *, ecr: Any | None = None
) -> RepositoryChange | None:
    """The change of ECR repository a deploy of ``stack`` with ``settings`` would make to the deployed stack
    (``stack_outputs``), with what the deployed repository holds; None when there is none (the same name, or a
    stack not deployed yet)."""
    deployed_url = stack_outputs.get(OUTPUT_ECR_REPOSITORY_URL)
    if not isinstance(deployed_url, str) or not deployed_url:
        return None
    registry, deployed = split_repository_url(deployed_url)
    configured = settings.ecr_repository_name(stack)
    if configured == deployed:
        return None
    region = registry.split(".")[3] if registry.count(".") >= 4 else None
    held = repository_images(deployed, ecr or clients.aws_client("ecr", region))
    value = str(settings.values["ecrRepositoryName"])
    return RepositoryChange(stack, value, deployed, configured, registry, held)


@operation
def check_repository_change(
    stack: str,
    settings: Settings,
    stack_outputs: Mapping[str, Any],
    *,
    force: bool = False,
    ecr: Any | None = None,
) -> RepositoryChange | None:
    """Refuse a deploy of ``stack`` whose ``settings`` name another ECR repository than the deployed one while that
    one holds images: ``RepositoryHoldsImages``, one line naming both repositories, the images and how to move
    them, unless ``force`` (then the change is returned, for the caller to say what it went ahead over). None
    when the deploy may go ahead: no change of repository, or the old one is empty."""
    change = repository_change(stack, settings, stack_outputs, ecr=ecr)
    if change is None or not change.held.images:
        return None
    if not force:
        raise RepositoryHoldsImages(change.refusal())
    return change

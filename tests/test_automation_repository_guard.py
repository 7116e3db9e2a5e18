"""An ``ecrRepositoryName`` change on a deployed stack (``automation.repository_guard``): refused while the deployed
repository holds images, naming both and how to move them; forced, or with an empty old repository, it goes ahead;
a stack never deployed has nothing to compare. Against the emulated deploy (moto's ECR), through the Automation
API (the fake ``pulumi`` of test_automation.py) and the command line; a property over stack-config names."""

from __future__ import annotations

import contextlib
import shutil
from types import SimpleNamespace

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters
from hypothesis import given
from hypothesis import strategies as st
from test_automation import FakePulumi
from typer.testing import CliRunner

from batch_lustre import automation
from batch_lustre.automation import deploy_emulated
from batch_lustre.cli.app import app
from batch_lustre.emulation import Emulation, Scenario
from batch_lustre.program.parameters import BY_NAME
from batch_lustre.program.settings import Settings, load_stack_config, settings_from_config

DEPLOYED = "batch-job-with-lustre-task-export"  # Pulumi.taskexport.yaml's ecrRepositoryName
MOVED = "batch-lustre-jobs"
DEFAULT = "taskexport-taskexport"  # ecrRepositoryName "": <envName in lower case>-<stack>
TAGS = ("latest", "v1")


def settings_named(name: str) -> Settings:
    """taskexport's stack config with ``ecrRepositoryName`` set to ``name``."""
    config = load_stack_config("taskexport", automation.ROOT)
    return settings_from_config({**config, "batch-lustre:ecrRepositoryName": name})


@pytest.fixture(scope="module")
def deployed():
    """The taskexport stack deployed in the emulation, its repository holding the images ``TAGS``: (ecr, outputs)."""
    with Emulation(Scenario()) as emu:
        _, outputs = deploy_emulated(emu, "taskexport", job_image_tags=TAGS)
        yield boto3.client("ecr", region_name=emu.region), outputs


def urls(outputs: dict) -> tuple[str, str]:
    old = outputs["ecrRepositoryUrl"]
    return old, old.rsplit("/", 1)[0] + "/" + MOVED


@pytest.mark.parametrize(("value", "new"), [(MOVED, MOVED), ("", DEFAULT)])
def test_a_new_repository_name_is_refused_while_the_deployed_one_holds_images_naming_both(deployed, value, new):
    _, outputs = deployed
    with pytest.raises(automation.RepositoryHoldsImages) as refused:
        automation.check_repository_change("taskexport", settings_named(value), outputs)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(
        f'deploy refused: ecrRepositoryName="{value}" changes the ECR repository of stack taskexport from '
        f"{DEPLOYED} to {new}; {DEPLOYED} holds 2 image(s) (tags latest, v1); the deploy would create {new} empty "
        f"(runs then fail with JobImageNotFound) and fail to delete {DEPLOYED}"
    )
    old = outputs["ecrRepositoryUrl"]
    moved = old.rsplit("/", 1)[0] + "/" + new
    assert f"`docker pull {old}:TAG && docker tag {old}:TAG {moved}:TAG && docker push {moved}:TAG`" in message
    assert "deploy with --force, then for each tag TAG" in message
    assert message.endswith(f'; or keep ecrRepositoryName="{DEPLOYED}"')


def test_forced_the_change_goes_ahead_and_says_what_it_went_ahead_over(deployed):
    ecr, outputs = deployed
    forced = automation.check_repository_change("taskexport", settings_named(MOVED), outputs, force=True)
    assert forced is not None
    assert (forced.deployed, forced.configured, forced.held.images, forced.held.tags) == (DEPLOYED, MOVED, 2, TAGS)
    assert forced.url(MOVED) == urls(outputs)[1]
    assert len(ecr.list_images(repositoryName=DEPLOYED)["imageIds"]) == 2  # nothing was moved or deleted


def test_the_same_repository_a_stack_never_deployed_and_a_repository_deleted_by_hand_have_nothing_to_refuse(deployed):
    _, outputs = deployed
    assert automation.check_repository_change("taskexport", settings_named(DEPLOYED), outputs) is None
    assert automation.check_repository_change("taskexport", settings_named(MOVED), {}) is None
    gone = {"ecrRepositoryUrl": outputs["ecrRepositoryUrl"].replace(DEPLOYED, "deleted-by-hand")}
    assert automation.check_repository_change("taskexport", settings_named(MOVED), gone) is None


def test_what_a_forced_deploy_meets_ecr_deletes_no_repository_holding_images(deployed):
    ecr, _ = deployed  # the delete the provider sends for the replaced repository (force_delete=False: no force)
    with pytest.raises(ClientError) as refused:
        ecr.delete_repository(repositoryName=DEPLOYED)
    assert refused.value.response["Error"]["Code"] == "RepositoryNotEmptyException"
    assert len(ecr.list_images(repositoryName=DEPLOYED)["imageIds"]) == 2


@contextlib.contextmanager
def emptied(ecr):
    """The deployed repository without its images for the block; then they are pushed back."""
    held = ecr.batch_get_image(repositoryName=DEPLOYED, imageIds=[{"imageTag": tag} for tag in TAGS])["images"]
    ecr.batch_delete_image(repositoryName=DEPLOYED, imageIds=[{"imageTag": tag} for tag in TAGS])
    try:
        yield
    finally:
        for image in held:
            ecr.put_image(
                repositoryName=DEPLOYED, imageManifest=image["imageManifest"], imageTag=image["imageId"]["imageTag"]
            )


def test_an_empty_old_repository_lets_the_change_go_ahead(deployed):
    ecr, outputs = deployed
    with emptied(ecr):
        assert automation.check_repository_change("taskexport", settings_named(MOVED), outputs) is None


# --- the Automation API and the command line -------------------------------------------------------------


@pytest.fixture
def moved_stack(deployed, tmp_path, monkeypatch):
    """A project whose Pulumi.taskexport.yaml names ``MOVED``, deployed (fake pulumi) with the emulated outputs."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(automation.ROOT / "Pulumi.yaml", project)
    text = (automation.ROOT / "Pulumi.taskexport.yaml").read_text(encoding="utf-8")
    assert f"ecrRepositoryName: {DEPLOYED}" in text
    (project / "Pulumi.taskexport.yaml").write_text(text.replace(DEPLOYED, MOVED), encoding="utf-8")
    fake = FakePulumi(tmp_path).install(monkeypatch, empty_account=False)  # moto's account: the emulated stack
    fake.deployed("taskexport", outputs=deployed[1])
    monkeypatch.setenv("BATCH_LUSTRE_PROJECT_DIR", str(project))
    return fake, project


def ups(fake: FakePulumi) -> int:
    return sum(1 for c in fake.commands() if c[:1] == ["up"])


def test_deploy_is_refused_before_pulumi_up_and_forced_goes_ahead(moved_stack):
    fake, project = moved_stack
    with pytest.raises(automation.RepositoryHoldsImages) as refused:
        automation.deploy("taskexport", work_dir=project)
    assert f"from {DEPLOYED} to {MOVED}; {DEPLOYED} holds 2 image(s)" in str(refused.value)
    assert ups(fake) == 0
    automation.deploy("taskexport", work_dir=project, force=True)
    assert ups(fake) == 1


def test_deploy_goes_ahead_when_the_old_repository_is_empty(deployed, moved_stack):
    fake, project = moved_stack
    with emptied(deployed[0]):
        automation.deploy("taskexport", work_dir=project)
    assert ups(fake) == 1


def test_the_cli_refuses_in_one_line_before_any_preview_exit_1_and_forced_warns(moved_stack):
    fake, _ = moved_stack
    result = CliRunner().invoke(app, ["deploy", "taskexport", "--yes"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert result.stderr.startswith(f'error: deploy refused: ecrRepositoryName="{MOVED}" changes the ECR repository')
    assert result.stderr.count("\n") == 1
    assert not any(c[:1] in (["preview"], ["up"]) for c in fake.commands())
    result = CliRunner().invoke(app, ["deploy", "taskexport", "--yes", "--force"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert f'warning: deploy forced over ecrRepositoryName="{MOVED}" changes the ECR repository' in result.output
    assert f"fail to delete {DEPLOYED} until it is empty" in result.output
    assert ups(fake) == 1


# --- the property: over every accepted stack-config name ----------------------------------------------------

ECR_MODEL = botocore.session.get_session().get_service_model("ecr")
ACCEPTED = BY_NAME["ecrRepositoryName"].check
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


class ListedImages:
    """ECR's ListImages of one repository holding ``count`` tagged images; each request checked against botocore's
    model; any other repository does not exist."""

    def __init__(self, name: str, count: int) -> None:
        self.name = name
        self.ids = [{"imageDigest": f"sha256:{i:064x}", "imageTag": f"v{i}"} for i in range(count)]

    def get_paginator(self, operation: str) -> SimpleNamespace:
        assert operation == "list_images"
        return SimpleNamespace(paginate=self._paginate)

    def _paginate(self, **request):
        validate_parameters(request, ECR_MODEL.operation_model("ListImages").input_shape)
        if request["repositoryName"] != self.name:
            raise ClientError({"Error": {"Code": "RepositoryNotFoundException", "Message": "none"}}, "ListImages")
        yield {"imageIds": self.ids}


segment = st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True)
repository_names = st.builds(
    lambda parts, seps, nested: "".join(p + s for p, s in zip(parts[:-1], seps, strict=False)) + parts[-1] + nested,
    st.lists(segment, min_size=1, max_size=4),
    st.lists(st.sampled_from(".-_"), min_size=3, max_size=3),
    st.sampled_from(["", "/jobs"]),
).filter(lambda name: ACCEPTED is not None and ACCEPTED(name))


@given(
    value=st.one_of(st.just(""), st.just(DEPLOYED), repository_names),
    deployed=st.one_of(st.just(DEPLOYED), st.just(DEFAULT), repository_names),
    images=st.integers(0, 2),
)
def test_a_deploy_is_refused_exactly_when_the_resolved_name_differs_and_the_old_repository_holds_images(
    value, deployed, images
):
    assert ACCEPTED is not None and ACCEPTED(value)
    resolved = value or DEFAULT
    outputs = {"ecrRepositoryUrl": f"{REGISTRY}/{deployed}"}
    try:
        automation.check_repository_change(
            "taskexport", settings_named(value), outputs, ecr=ListedImages(deployed, images)
        )
    except automation.RepositoryHoldsImages as refused:
        assert resolved != deployed and images > 0
        message = str(refused)
        assert f"from {deployed} to {resolved}; {deployed} holds {images} image(s)" in message and "\n" not in message
        return
    assert resolved == deployed or images == 0

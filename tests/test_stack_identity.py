"""A stack's identity is fixed: logical names do not depend on envName or the mode, and a stack the previous release
deployed (tests/previous_release_urns.txt, a frozen record) is updated in place through aliases, not rebuilt."""

from pathlib import Path

import pytest
from offline_stacks import load_stack_config, run_program

from batch_lustre.program.parameters import AUTO_EXPORT, TASK_EXPORT

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws")

PREVIOUS_RELEASE = Path(__file__).with_name("previous_release_urns.txt")


def previous_release_urns(stack: str) -> tuple[str, set[str]]:
    """The envName and the URNs the previous release deployed for ``stack``'s shipped stack file."""
    env_names, urns = set(), set()
    for line in PREVIOUS_RELEASE.read_text().splitlines():
        if line.startswith("#"):
            continue
        row_stack, env_name, urn = line.split()
        if row_stack == stack:
            env_names.add(env_name)
            urns.add(urn)
    (env_name,) = env_names
    return env_name, urns


@pytest.fixture(scope="module", params=[TASK_EXPORT, AUTO_EXPORT])
def upgrade(request):
    """(URNs the previous release deployed, URN -> aliases of what this program declares) for one stack file."""
    env_name, previous = previous_release_urns(request.param)
    assert load_stack_config(request.param)["batch-lustre:envName"] == env_name
    return previous, run_program(request.param).urns


def test_the_record_of_the_previous_release_covers_every_component_of_both_stacks():
    for stack, workflow in ((TASK_EXPORT, "TaskExportWorkflow"), (AUTO_EXPORT, "AutoExportWorkflow")):
        env_name, urns = previous_release_urns(stack)
        assert f"urn:pulumi:{stack}::batch-lustre::batchlustre:index:{workflow}::{env_name.lower()}" in urns
        assert len(urns) > 70


def test_every_resource_of_the_previous_release_is_one_resource_of_this_one(upgrade):
    previous, urns = upgrade
    claimed: dict[str, list[str]] = {}
    for urn, aliases in urns.items():
        for old in {urn, *aliases}:
            claimed.setdefault(old, []).append(urn)
    for old in previous:
        assert len(claimed.get(old, [])) == 1, (old, claimed.get(old))


def test_the_upgrade_creates_nothing_and_deletes_nothing(upgrade):
    previous, urns = upgrade
    matched = {urn for urn, aliases in urns.items() if urn in previous or previous & set(aliases)}
    assert matched == set(urns)  # nothing created
    assert len(urns) == len(previous)  # and, each old URN claimed by one resource, nothing deleted


@pytest.mark.parametrize("mode", [TASK_EXPORT, AUTO_EXPORT])
def test_no_logical_name_holds_env_name_or_the_mode(mode):
    config = {**load_stack_config(mode), "batch-lustre:envName": "Zq7"}
    urns = [urn for urn in run_program(mode, config=config).urns if "::pulumi:pulumi:Stack::" not in urn]
    names = [urn.rsplit("::", 1)[1] for urn in urns]
    assert all(name.startswith("batch-lustre") or name == "stack-id" for name in names)
    assert all("zq7" not in urn.lower() and mode not in urn.split("::", 2)[2].lower() for urn in urns)


def test_logical_names_are_the_same_in_both_modes_but_the_autoexport_only_function():
    names = {}
    for mode in (TASK_EXPORT, AUTO_EXPORT):
        names[mode] = {urn.split("::", 2)[2] for urn in run_program(mode).urns if "pulumi:pulumi:Stack" not in urn}
    extra = names[AUTO_EXPORT] - names[TASK_EXPORT]
    assert names[TASK_EXPORT] < names[AUTO_EXPORT]
    assert all("check-metrics" in name for name in extra)

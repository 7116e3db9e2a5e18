"""A stack's identity is fixed: logical names do not depend on envName or the mode, and a stack the previous release
deployed (tests/previous_release_urns.txt, a frozen record) is updated in place through aliases, not rebuilt; a
change of envName, mode or aws:region of a deployed stack is refused before anything is declared."""

from pathlib import Path

import pulumi
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from offline_stacks import RecordingMocks, load_stack_config, run_program

from batch_lustre.program.asl import naming
from batch_lustre.program.parameters import AUTO_EXPORT, BY_NAME, ENV_NAME_MAX_LENGTH, TASK_EXPORT, ParameterError
from batch_lustre.program.parameters.validation import validate_value
from batch_lustre.program.settings import check_identity, settings_from_config, stack_identity

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


# What this release adds to a stack of the previous one (type and name of each URN): the lane table, in its component.
NEW_IN_THIS_RELEASE = (
    "batchlustre:index:LaneTable::batch-lustre",
    "batchlustre:index:LaneTable$aws:dynamodb/table:Table::batch-lustre-lanes",
)


def test_the_upgrade_creates_the_lane_table_alone_and_deletes_nothing(upgrade):
    previous, urns = upgrade
    stack = next(iter(previous)).split("::", 2)[0]  # urn:pulumi:<stack>
    matched = {urn for urn, aliases in urns.items() if urn in previous or previous & set(aliases)}
    assert set(urns) - matched == {f"{stack}::batch-lustre::{new}" for new in NEW_IN_THIS_RELEASE}  # created
    assert len(matched) == len(previous)  # and, each old URN claimed by one resource, nothing deleted


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


# --- identity refused ---------------------------------------------------------------------------------------------

DEPLOYED = {"envName": "TaskExport", "mode": TASK_EXPORT, "region": "us-east-1", "bucketName": "batch-lustre-data-1"}
ENV_NAMES = st.from_regex(rf"[A-Za-z][A-Za-z0-9-]{{0,{ENV_NAME_MAX_LENGTH - 1}}}", fullmatch=True)


def identity(**changes: str) -> dict[str, str]:
    config = {**load_stack_config(TASK_EXPORT), **changes}
    return stack_identity(settings_from_config(config), config)


@given(ENV_NAMES, ENV_NAMES)
@example("TaskExport", "taskexport")  # the same resource names (lower case), still another envName
@example("TaskExport", "TaskExport")
def test_a_second_deploy_is_refused_exactly_when_its_env_name_differs(deployed, now):
    validate_value(BY_NAME["envName"], deployed)
    validate_value(BY_NAME["envName"], now)  # both accepted on their own
    outputs = {**DEPLOYED, "envName": deployed}
    try:
        check_identity("dev", outputs, identity(**{"batch-lustre:envName": now}))
        refused = None
    except ParameterError as err:
        refused = str(err)
    assert (refused is not None) == (deployed != now)
    if refused is not None:
        assert refused.startswith(f'batch-lustre:envName="{now}" is not accepted: stack dev was deployed with ')
        assert f'batch-lustre:envName="{deployed}"' in refused and "\n" not in refused


@pytest.mark.parametrize(
    ("key", "value"),
    [("batch-lustre:envName", "Prod"), ("aws:region", "eu-west-1")],
)
def test_the_refusal_names_the_key_both_values_and_the_new_stack_to_make_instead(key, value):
    with pytest.raises(ParameterError) as refused:
        check_identity("taskexport", DEPLOYED, identity(**{key: value}))
    message = str(refused.value)
    before = {"batch-lustre:envName": "TaskExport", "aws:region": "us-east-1"}[key]
    assert message.startswith(f'{key}="{value}" is not accepted: stack taskexport was deployed with {key}="{before}"')
    assert "pulumi stack init" in message and "aws s3 sync s3://batch-lustre-data-1 " in message
    assert message.endswith("then destroy taskexport")


def test_a_mode_change_is_refused():
    autoexport = {**load_stack_config(AUTO_EXPORT), "batch-lustre:envName": "TaskExport"}
    with pytest.raises(ParameterError, match=r'^batch-lustre:mode="autoexport" is not accepted: .*"taskexport"'):
        check_identity("taskexport", DEPLOYED, stack_identity(settings_from_config(autoexport), autoexport))


@pytest.mark.parametrize(
    "deployed",
    [{}, {"mode": TASK_EXPORT, "stateMachineArn": "arn"}, DEPLOYED],
    ids=["never-deployed", "deployed-by-the-previous-release", "same-identity"],
)
def test_nothing_to_compare_or_the_same_identity_is_accepted(deployed):
    check_identity("taskexport", deployed, identity())


def test_the_program_refuses_before_declaring_anything_and_exports_its_identity():
    mocks = RecordingMocks()
    mocks.deployed_outputs = {**DEPLOYED, "envName": "Other"}
    with pytest.raises(pulumi.RunError, match=r'^stack taskexport: batch-lustre:envName="TaskExport" is not accepted'):
        run_program(TASK_EXPORT, mocks=mocks)
    assert mocks.resources == []
    run = run_program(TASK_EXPORT)  # never deployed: accepted
    assert {key: run.outputs[key] for key in ("envName", "mode", "region")} == {
        "envName": "TaskExport",
        "mode": TASK_EXPORT,
        "region": "us-east-1",
    }


class NoBuiltin(RecordingMocks):
    """An engine that fails the readStackOutputs invoke (an engine without the builtin, no backend)."""

    def call(self, args):
        if args.token == naming.READ_STACK_OUTPUTS:
            return {}, [("name", "unknown function pulumi:pulumi:readStackOutputs")]
        return super().call(args)


def test_an_engine_that_cannot_read_the_outputs_gets_a_warning_and_the_deploy_goes_on(monkeypatch):
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warned.append(message))
    mocks = NoBuiltin()
    run_program(TASK_EXPORT, mocks=mocks)
    assert len(warned) == 1 and "a change of envName, mode or aws:region is not checked" in warned[0]
    assert "organization/batch-lustre/taskexport" in warned[0]
    assert len(mocks.resources) > 70

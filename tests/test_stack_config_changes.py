"""What ``pulumi up`` does to a deployed stack for each stack config key changed from its default (the program run
under mocks, each resource classified by the provider's replace rules: ``config_changes``), and the README's table
of it, with what each key does to the lanes: no key but the identity keys replaces the bucket, the secret, a state
machine or a compute environment, and only fewer lanes (maxConcurrentRuns) remove compute environments."""

import re
from pathlib import Path

import pytest
from config_changes import (
    COMPUTE_ENVIRONMENT,
    CREATED,
    DELETED,
    LANE_TYPES,
    NEW_STACK,
    NO_CHANGE,
    REPLACE_FORCING,
    REPLACED,
    UNCHANGED,
    UPDATED,
    Deployed,
    Plan,
    classify,
    deployed,
    effect,
    lanes_effect,
    plan,
    wait_for_runs,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_lustre.program.parameters import AUTO_EXPORT, BY_NAME, MODES, TASK_EXPORT, parameters_for
from batch_lustre.program.settings import CONFIG_PREFIX, accepted_allocation_strategies
from batch_lustre.program.settings import IDENTITY_KEYS as REFUSED_KEYS

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws")

README = Path(__file__).resolve().parent.parent / "README.md"

# Changing these makes another stack: the program refuses them on a deployed stack (settings.check_identity).
IDENTITY_KEYS = tuple(key.removeprefix(CONFIG_PREFIX) for key, _ in REFUSED_KEYS)
# What no stack config key but the identity keys may replace or delete: the data, the edited run-time parameters,
# the workflow runs execute, and the compute running jobs.
KEPT = (
    "aws:s3/bucket:Bucket",
    "aws:secretsmanager/secret:Secret",
    "aws:sfn/stateMachine:StateMachine",
    COMPUTE_ENVIRONMENT,
)
# (key, type token) -> why AWS cannot do otherwise: a key allowed to replace or delete a kept resource.
KEPT_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("maxConcurrentRuns", COMPUTE_ENVIRONMENT): "fewer lanes: the lanes past the new number are removed",
}

# key -> another accepted value (stack config text), per mode where it differs; None: no other accepted value.
OTHER_VALUES: dict[str, str | dict[str, str | None]] = {
    "ecrRepositoryName": "other-repository",
    "ecrUntaggedImageExpiryDays": "30",
    "protectBucket": "false",
    "protectRepository": "true",
    "computeEnvironmentType": "EC2",
    "computeEnvironmentAllocationStrategy": "SPOT_PRICE_CAPACITY_OPTIMIZED",
    "computeEnvironmentInstanceTypes": '["c6i", "m6i.4xlarge"]',
    "computeEnvironmentMinvCpus": "2",
    "computeEnvironmentMaxvCpus": "512",
    "computeEnvironmentDesiredvCpus": "2",
    "dataRepositoryInputPrefix": "input/",
    "dataRepositoryResultsPrefix": "results/",
    "bucketNoncurrentVersionExpiryDays": "30",
    "autoExport": {TASK_EXPORT: "true", AUTO_EXPORT: None},  # autoexport accepts true only
    "deleteLustre": "false",
    "lustreFileSystemTypeVersion": "2.12",
    "lustreStorageCapacity": "4800",
    "lustreImportedFileChunkSize": "2048",
    "jobDefinitionRetryAttempts": "3",
    "jobDefinitionVcpus": "16",
    "jobDefinitionMemory": "16000",
    "warmComputeCapacity": "false",
    "waitForLustreCreationSeconds": "60",
    "waitForJobCompletionSeconds": "600",
    "waitForDataRepositoryTaskSeconds": "600",
    "waitForCheckMetricsSeconds": "120",
    "lambdaPeriodSeconds": "120",
    "lambdaTimeDiffMinutes": "30",
    "lustreCreationTimeoutMinutes": "30",
    "jobTimeoutMinutes": "2880",
    "jobRunnableTimeoutMinutes": "40",
    "exportTimeoutMinutes": "120",
    "laneWaitTimeoutMinutes": "120",
    "lustrePricePerGibMonthUsd": "0.154",
    "jobLogRetentionDays": "30",
    "maxConcurrentRuns": "3",
}
# Keys whose change back to the default does another thing than the change (more lanes are added, fewer removed):
# their row says both, "to <other value>: ...; back to <default>: ...".
BOTH_WAYS = ("maxConcurrentRuns",)
# Set beside a key whose other value needs it (min <= desired vCPUs); desiredvCpus is ignored after creation.
ALONGSIDE = {"computeEnvironmentMinvCpus": {"computeEnvironmentDesiredvCpus": "2"}}
# A key that does something only beside another's non-default value: changed on a stack deployed with it.
DEPLOYED_WITH = {"dataRepositoryResultsPrefix": {"dataRepositoryInputPrefix": "input/"}}


def other_value(key: str, mode: str) -> str | None:
    value = OTHER_VALUES[key]
    return value.get(mode) if isinstance(value, dict) else value


def changed_config(key: str, mode: str) -> dict[str, str]:
    """The stack config keys (full) that change ``key`` of a ``mode`` stack to its other value."""
    value = other_value(key, mode)
    assert value is not None
    return {f"{CONFIG_PREFIX}{k}": v for k, v in {key: value, **ALONGSIDE.get(key, {})}.items()}


# --- the README's table ---

ROW = re.compile(
    r"^\| `(?P<key>[^`]+)` \| (?P<effect>[^|]+?) \| (?P<wait>[^|]+?) \| (?P<lanes>[^|]+?) \|$", re.MULTILINE
)
Row = tuple[str, str, str]  # what ``pulumi up`` does, wait for runs, what it does to the lanes


def readme_rows() -> dict[str, Row]:
    """The README table's rows: key -> (what ``pulumi up`` does, wait for runs, lanes)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("#### What `pulumi up` does when a stack config key changes", 1)[1].split("\n#", 1)[0]
    return {m["key"]: (m["effect"].strip(), m["wait"].strip(), m["lanes"].strip()) for m in ROW.finditer(section)}


def expected_row(plans: dict[str, Plan]) -> Row:
    """A key's row from its plans per mode: in each column, one text when every mode agrees, else each mode's."""
    columns = (
        {mode: effect(p) for mode, p in plans.items()},
        {mode: "yes" if wait_for_runs(p) else "no" for mode, p in plans.items()},
        {mode: lanes_effect(p) for mode, p in plans.items()},
    )
    if all(len(set(column.values())) == 1 for column in columns):
        effects, waits, lanes = (next(iter(column.values())) for column in columns)
        return effects, waits, lanes
    effects, waits, lanes = ("; ".join(f"{mode}: {text}" for mode, text in column.items()) for column in columns)
    return effects, waits, lanes


def both_ways_row(key: str, there: dict[str, Plan], back: dict[str, Plan]) -> Row:
    """The row of a ``BOTH_WAYS`` key: each column says the change and the change back."""
    mode = next(iter(there))
    to, default = other_value(key, mode), BY_NAME[key].defaults[mode]
    pairs = zip(expected_row(there), expected_row(back), strict=True)
    effects, waits, lanes = (f"to {to}: {a}; back to {default}: {b}" for a, b in pairs)
    return effects, waits, lanes


def quiet_keys() -> set[str]:
    """The keys the README says change nothing: each mode's are checked together in one run, and one by one only
    when that run changes something."""
    return {key for key, (text, _, _) in readme_rows().items() if text == NO_CHANGE}


@pytest.fixture(scope="module")
def bases() -> dict[str, Deployed]:
    return {mode: deployed(mode) for mode in MODES}


@pytest.fixture(scope="module")
def plans(bases) -> dict[str, dict[str, Plan]]:
    """key -> mode -> what ``pulumi up`` does when the key changes (modes where it has another accepted value)."""
    found: dict[str, dict[str, Plan]] = {}
    quiet = quiet_keys()
    for mode, base in bases.items():
        keys = [p.name for p in parameters_for(mode) if p.name not in IDENTITY_KEYS]
        keys = [k for k in keys if other_value(k, mode) is not None]
        together = [k for k in keys if k in quiet and k not in DEPLOYED_WITH]
        grouped = plan(base, {c: v for k in together for c, v in changed_config(k, mode).items()})
        for key in keys:
            if key in DEPLOYED_WITH:
                beside = {f"{CONFIG_PREFIX}{k}": v for k, v in DEPLOYED_WITH[key].items()}
                found.setdefault(key, {})[mode] = plan(deployed(mode, beside), changed_config(key, mode))
            elif key not in together or grouped.acting() or grouped.protected_before != grouped.protected_after:
                found.setdefault(key, {})[mode] = plan(base, changed_config(key, mode))
            else:
                found.setdefault(key, {})[mode] = grouped
    return found


@pytest.fixture(scope="module")
def plans_back(plans) -> dict[str, dict[str, Plan]]:
    """key -> mode -> what ``pulumi up`` does when a ``BOTH_WAYS`` key changed goes back to its default (from the
    stack its change deployed: no more program runs than the change back)."""
    found: dict[str, dict[str, Plan]] = {}
    for key in BOTH_WAYS:
        for mode, there in plans[key].items():
            assert there.after is not None
            default = {f"{CONFIG_PREFIX}{key}": str(BY_NAME[key].defaults[mode])}
            found.setdefault(key, {})[mode] = plan(there.after, default)
    return found


def test_every_parameter_has_another_accepted_value_or_says_why_not():
    names = {p.name for mode in MODES for p in parameters_for(mode)} - set(IDENTITY_KEYS)
    assert set(OTHER_VALUES) == names
    missing = {
        (k, m) for k in names for m in MODES if k in {p.name for p in parameters_for(m)} and not other_value(k, m)
    }
    assert missing == {("autoExport", AUTO_EXPORT)}


def test_no_key_but_the_identity_keys_replaces_or_deletes_what_runs_and_data_rely_on(plans, plans_back):
    found = {
        (key, change.type): f"{mode}: {change.name} {change.action} ({', '.join(change.paths)})"
        for every in (plans, plans_back)
        for key, by_mode in every.items()
        for mode, p in by_mode.items()
        for change in p.of(REPLACED) + p.of(DELETED)
        if change.type in KEPT
    }
    assert set(found) == set(KEPT_EXCEPTIONS), found


def test_the_readme_table_says_what_pulumi_up_does_for_each_key(plans, plans_back):
    expected: dict[str, Row] = {key: (NEW_STACK, "-", "-") for key in IDENTITY_KEYS}
    expected.update({key: expected_row(by_mode) for key, by_mode in plans.items()})
    expected.update({key: both_ways_row(key, plans[key], back) for key, back in plans_back.items()})
    rows = readme_rows()
    stale = {key: row for key, row in expected.items() if rows.get(key) != row}
    table = "\n".join(f"| `{key}` | {text} | {wait} | {lanes} |" for key, (text, wait, lanes) in expected.items())
    assert not stale and set(rows) == set(expected), f"README table is stale; the rows as they are now:\n{table}"


def test_more_lanes_are_added_and_fewer_removed_the_other_lanes_and_everything_else_kept(plans, plans_back):
    for mode in MODES:
        there, back = plans["maxConcurrentRuns"][mode], plans_back["maxConcurrentRuns"][mode]
        for p, action in ((there, CREATED), (back, DELETED)):
            lanes = sorted((c.type, c.name) for c in p.acting() if c.type in LANE_TYPES)
            assert lanes == sorted(
                (t, f"batch-lustre-lane-{k}-{suffix}")
                for k in (1, 2)
                for t, suffix in zip(LANE_TYPES, ("ce", "queue", "baseline"), strict=True)
            )
            assert {c.action for c in p.acting() if c.type in LANE_TYPES} == {action}
        assert (lanes_effect(there), lanes_effect(back)) == ("added", "removed")
        assert (wait_for_runs(there), wait_for_runs(back)) == (False, True)  # a removed lane may be a run's


def test_compute_changes_update_the_compute_environment_in_place_without_replacing_anything(plans):
    for key in ("computeEnvironmentType", "computeEnvironmentAllocationStrategy", "computeEnvironmentInstanceTypes"):
        for mode, p in plans[key].items():
            assert [(c.type, c.action) for c in p.acting()] == [(COMPUTE_ENVIRONMENT, UPDATED)], (key, mode)


def test_a_property_that_forces_a_new_resource_replaces_it_and_ignored_changes_are_none():
    queue = {"name": "q-1", "priority": 1}
    assert classify("aws:batch/jobQueue:JobQueue", queue, {**queue, "priority": 2}).action == UPDATED
    assert classify("aws:batch/jobQueue:JobQueue", queue, {**queue, "name": "q-2"}).action == REPLACED
    ce = {"computeResources": {"allocationStrategy": "BEST_FIT_PROGRESSIVE", "instanceTypes": ["optimal"]}}
    c5 = {"computeResources": {"allocationStrategy": "BEST_FIT_PROGRESSIVE", "instanceTypes": ["c5"]}}
    assert classify(COMPUTE_ENVIRONMENT, ce, c5).action == UPDATED
    # Not updatable (BEST_FIT before or after): the provider's CustomizeDiff replaces it for the same change.
    best_fit = {"computeResources": {"allocationStrategy": "BEST_FIT", "instanceTypes": ["optimal"]}}
    c5_best_fit = {"computeResources": {"allocationStrategy": "BEST_FIT", "instanceTypes": ["c5"]}}
    assert classify(COMPUTE_ENVIRONMENT, best_fit, c5_best_fit).action == REPLACED
    template_1 = {"computeResources": {"launchTemplate": {"version": "1"}}}
    template_2 = {"computeResources": {"launchTemplate": {"version": "2"}}}
    assert classify(COMPUTE_ENVIRONMENT, template_1, template_2).action == REPLACED
    ignored = ["computeResources.launchTemplate"]
    assert classify(COMPUTE_ENVIRONMENT, template_1, template_2, ignored).action == UNCHANGED


def test_every_declared_resource_type_has_its_replace_rules(bases):
    declared = {type_token for base in bases.values() for type_token, _ in base.resources}
    assert declared <= set(REPLACE_FORCING)
    verified = {t for t, rules in REPLACE_FORCING.items() if rules and not any(r.assumed for r in rules)}
    assert set(KEPT) - {"aws:s3/bucket:Bucket", "aws:secretsmanager/secret:Secret"} <= verified


_instance_types = st.lists(
    st.sampled_from(["optimal", "c6i", "m6i.4xlarge", "r6i", "c7g.large"]), min_size=1, max_size=3
)


@settings(max_examples=5, deadline=None)
@given(
    compute_type=st.sampled_from(["EC2", "SPOT"]),
    instance_types=_instance_types,
    max_vcpus=st.integers(min_value=32, max_value=4096),
    data=st.data(),
)
def test_any_accepted_compute_config_updates_the_compute_environment_in_place(
    bases, compute_type, instance_types, max_vcpus, data
):
    strategy = data.draw(st.sampled_from(accepted_allocation_strategies(compute_type)))
    changed = {
        f"{CONFIG_PREFIX}computeEnvironmentType": compute_type,
        f"{CONFIG_PREFIX}computeEnvironmentAllocationStrategy": strategy,
        f"{CONFIG_PREFIX}computeEnvironmentInstanceTypes": ", ".join(dict.fromkeys(instance_types)),
        f"{CONFIG_PREFIX}computeEnvironmentMaxvCpus": str(max_vcpus),
    }
    p = plan(bases[TASK_EXPORT], changed)
    assert not [c for c in p.of(REPLACED) + p.of(DELETED) if c.type in KEPT]

"""The catalogue's scenarios of runs in line for the stack's lanes (docs/design.md, "The run queue"); run and judged
by ``emulation.catalogue_lane_runs``."""

from __future__ import annotations

from batch_lustre.emulation.catalogue_base import (
    HOLDER_ABORTED,
    LANE_HELD_TOO_LONG,
    MANY_AT_ONCE,
    OWNER_ENDED,
    PREFIX_LAYOUT,
    Expected,
    NamedScenario,
)
from batch_lustre.emulation.scenario import DEFAULT_FILES, Scenario

# How many runs ``many-runs-at-once`` starts, and on how many lanes.
MANY_RUNS = 10
MANY_LANES = 3
# Each run's results land under runs/<run>/ (a prefix layout), so that no run's results overwrite another's.
OWN_RESULTS = tuple(f"runs/{{run}}/{key.removeprefix('results/')}" for key in DEFAULT_FILES)
SUCCEEDS = Expected(says=('"FileSystemDeleted": true',), lands_at=OWN_RESULTS, run_cleanup=None)
# The holder's lane is held about 25 emulated minutes (file system, job of 10 minutes, export); the next run in
# line waits 10.
SHORT_LANE_WAIT = {"laneWaitTimeoutMinutes": 10}
# The last of 10 runs on 3 lanes waits 3 rounds of about 30 emulated minutes each: longer than the default bound
# (60 minutes), as a user who starts that many runs at once sets it.
LONG_LANE_WAIT = {"laneWaitTimeoutMinutes": 180}

LANE_SCENARIOS: dict[str, NamedScenario] = {
    "many-runs-at-once": NamedScenario(
        f"{MANY_RUNS} runs start in the same second on {MANY_LANES} lanes (maxConcurrentRuns={MANY_LANES}, "
        "laneWaitTimeoutMinutes=180): they wait in line and go as lanes free up; every run succeeds with its results in S3, none is refused, no two "
        "runs are ever on one lane at once (from Batch's records), nothing is left",
        Scenario,
        stack_config={**PREFIX_LAYOUT, "maxConcurrentRuns": MANY_LANES},
        runtime_params=LONG_LANE_WAIT,
        runs=MANY_AT_ONCE,
        expected=SUCCEEDS,
        label=f"all {MANY_RUNS} SUCCEEDED, at most {MANY_LANES} at once, one per lane",
    ),
    "lane-freed-after-abort": NamedScenario(
        "one lane: run-1 takes it, run-2 waits in line; a person stops run-1 during its job, and EventBridge starts "
        "the run cleanup 5 minutes later: run-2 leaves the lane to it meanwhile; the run cleanup takes the lane for "
        "itself, puts its compute environment back and frees it, and run-2 takes it and succeeds",
        Scenario,
        stack_config=PREFIX_LAYOUT,
        runs=HOLDER_ABORTED,
        expected=SUCCEEDS,
        label="run-1 ABORTED, run cleanup SUCCEEDED; run-2 SUCCEEDED on the lane after it",
    ),
    "lane-owner-ended-without-release": NamedScenario(
        "one lane, left held by run-1, which ended without releasing it and without an event (a lost release): "
        "run-2 finds the lane held, asks Step Functions for the owner's status (ended), takes the lane over and "
        "succeeds",
        Scenario,
        stack_config=PREFIX_LAYOUT,
        runs=OWNER_ENDED,
        expected=SUCCEEDS,
        label="run-2 SUCCEEDED, having taken the lane over from ended run-1",
    ),
    "no-lane-available": NamedScenario(
        "one lane, held by run-1 longer than laneWaitTimeoutMinutes=10: run-2 waits in line its whole bound, then "
        "fails with NoLaneAvailable naming the lane's owner, having created nothing; run-1 succeeds",
        Scenario,
        stack_config=PREFIX_LAYOUT,
        runtime_params=SHORT_LANE_WAIT,
        runs=LANE_HELD_TOO_LONG,
        expected=Expected("FAILED", "NoLaneAvailable", says=("run-1",), creates_nothing=True),
        label="run-1 SUCCEEDED; run-2 FAILED: NoLaneAvailable, nothing created",
    ),
}

"""Every scenario of the catalogue (emulation/catalogue.py), in every mode it applies to, end to end.

Each run starts the real generated state machine on a fresh emulated stack and is judged twice: against
the scenario's own expectation (status, Error, what the Cause or output says, file system kept or not,
what the run saw on its way) and against the rules every run keeps (emulation/catalogue_run.py, RULES).
A scenario that fails here is a defect of the workflow (or of the emulation), never a reason to relax it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from emulation.catalogue import SCENARIOS, cases
from emulation.catalogue_run import run_scenario
from parameters import AUTO_EXPORT, TASK_EXPORT

ISSUE_LIST = {  # the scenarios issue 3 asks for, by catalogue name, with the modes each must cover
    "success": 2, "keep-file-system": 2, "invalid-capacity": 2, "invalid-type": 2, "invalid-unknown-key": 2,
    "invalid-missing-key": 2, "secret-not-json": 2, "file-system-fails": 2, "association-misconfigured": 2,
    "association-fails": 2, "file-system-never-available": 2, "compute-update-refused": 2, "job-fails": 2,
    "spot-reclaimed-then-succeeds": 2, "spot-reclaimed-always": 2, "export-fails": 1,
    "import-running-at-export": 1, "no-metrics": 1, "metric-drains-after-job": 1, "export-queue-stuck": 1,
    "throttled-describe": 2, "second-run-refused": 2, "two-runs-at-once": 2,
}


@pytest.mark.parametrize(("name", "mode"), cases(), ids=[f"{n}-{m}" for n, m in cases()])
def test_scenario_ends_as_expected_and_keeps_every_rule(name, mode):
    result = run_scenario(name, mode)
    assert result.passed, f"{name} ({mode}) got {result.got}, Cause {result.cause!r}:\n" + "\n".join(result.problems)
    assert result.transitions > 0 and result.calls


def test_the_catalogue_holds_every_scenario_of_the_issue_in_the_modes_it_applies_to():
    for name, modes in ISSUE_LIST.items():
        assert len(SCENARIOS[name].modes) == modes, name
    assert SCENARIOS["export-fails"].modes == (TASK_EXPORT,)
    assert SCENARIOS["no-metrics"].modes == (AUTO_EXPORT,)
    assert len({n for n, _ in cases()}) == len(SCENARIOS)


def _broken(change: Any):
    def transform(definition: dict[str, Any]) -> dict[str, Any]:
        changed = copy.deepcopy(definition)
        change(changed["States"])
        return changed
    return transform


def test_the_rules_catch_a_file_system_deleted_before_its_data_is_in_s3():
    def skip_export(states: dict[str, Any]) -> None:
        states["AfterJob"] = {"Type": "Pass", "Next": "MarkDataSafe"}

    result = run_scenario("success", TASK_EXPORT, transform=_broken(skip_export))
    assert not result.passed
    assert any("DeleteFileSystem" in v and "accepted while" in v and "not in S3" in v for v in result.violations), \
        result.violations


def test_the_rules_catch_a_cleanup_that_leaves_the_run_s_resources():
    def skip_cleanup(states: dict[str, Any]) -> None:
        states["Cleanup"] = {"Type": "Pass", "Next": "ShouldDeleteLustre"}

    result = run_scenario("success", AUTO_EXPORT, transform=_broken(skip_cleanup))
    assert result.got == "SUCCEEDED" and not result.passed
    text = "\n".join(result.violations)
    assert "launch template left" in text and "ACTIVE job definition left" in text
    assert "compute environment not back on its baseline" in text
    assert any(line.startswith("launch template ") for line in result.leftovers)


def test_the_expectation_catches_a_file_system_kept_without_a_reason():
    def never_delete(states: dict[str, Any]) -> None:
        states["ShouldDeleteLustre"]["Default"] = "Finish"

    result = run_scenario("success", TASK_EXPORT, transform=_broken(never_delete))
    assert not result.passed
    assert any("left and the run's Cause does not say it was kept" in v for v in result.violations)
    assert any("kept, expected deleted" in m for m in result.mismatches)

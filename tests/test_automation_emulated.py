"""automation.emulated: another tool's tests deploy the stack in the emulated AWS and run it through the API."""

from __future__ import annotations

import pytest

from batch_lustre import automation

QUICK = {"waitForLustreCreationSeconds": 30, "waitForJobCompletionSeconds": 30}


def test_a_tool_deploys_the_emulated_stack_and_runs_it_with_overrides():
    with automation.emulated("taskexport", runtime_params=QUICK) as stack:
        assert stack.mode == "taskexport"
        assert stack.outputs["stateMachineArn"].endswith(":stateMachine:taskexport-taskexport-workflow")
        assert "runCleanupStateMachineArn" in stack.outputs
        outcome = stack.run(overrides={"vcpus": 4, "environment": {"STEPS": "10"}}, timeout=120)
        assert outcome.succeeded and outcome.file_system_id
        assert stack.handles[-1].execution_input == {"vcpus": 4, "environment": {"STEPS": "10"}}
        exported = automation.objects_since(stack.bucket_name, outcome.started_at)
        assert exported, "the run exported nothing"
        with pytest.raises(automation.ParameterError, match="computeEnvironmentMaxvCpus=256"):
            stack.run(overrides={"vcpus": 300})
        assert [r.status for r in stack.list_runs()] == ["SUCCEEDED"]
        stack.start_run()  # left RUNNING: stopped on exit, and the emulation ends cleanly


def test_a_scenario_that_is_not_in_the_catalogue_is_refused_in_one_line():
    with pytest.raises(automation.AutomationError, match=r"^scenario='no-such' is not accepted in mode taskexport"):
        with automation.emulated("taskexport", scenario="no-such"):
            pass


def test_an_unknown_stack_is_refused_before_anything_is_emulated():
    with pytest.raises(automation.UnknownStack):
        with automation.emulated("no-such-stack"):
            pass


def test_without_the_emulation_extra_the_error_says_which_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "batch_lustre.emulation", None)  # as if moto were not installed
    with pytest.raises(automation.AutomationError, match=r"^emulated: the emulated AWS needs the 'emulation' extra"):
        with automation.emulated("taskexport"):
            pass

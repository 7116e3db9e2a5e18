"""The SubmitJob request of a run against Batch's 30 KiB payload limit (parameters/payload.py): refused in one line
before anything runs, and every request the validation accepts is one the emulated SubmitJob accepts."""

from __future__ import annotations

import dataclasses
import json

import botocore.session
import extract_parameters
import pytest
from botocore.validate import ParamValidator
from conftest import sample_refs
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_lustre.emulation.batch_api import refuse_oversize_payload
from batch_lustre.emulation.batch_quotas import MAX_COMPUTE_ENVIRONMENTS
from batch_lustre.emulation.moto_seam import ClientException
from batch_lustre.program.asl import build_definition
from batch_lustre.program.asl.lane import lane_list
from batch_lustre.program.asl.states import all_states
from batch_lustre.program.parameters import MODES, ParameterError, parameters_for, validate_overrides
from batch_lustre.program.parameters.payload import (
    SUBMIT_JOB_PAYLOAD_LIMIT_BYTES,
    api_request,
    payload_bytes,
    resolve,
    worst_case_request,
)

MAX_VCPUS = 256


def runtime_defaults(mode: str) -> dict:
    return {p.name: p.defaults[mode] for p in parameters_for(mode, runtime=True)}


SUBMIT_JOB = botocore.session.get_session().get_service_model("batch").operation_model("SubmitJob").input_shape


def test_a_32_kb_command_is_refused_in_one_line_naming_the_limit_and_its_source():
    with pytest.raises(ParameterError) as refused:
        validate_overrides({"command": ["x" * 4000] * 8}, MAX_VCPUS)
    message = str(refused.value)
    assert len(message.splitlines()) == 1
    assert "SubmitJob request of" in message and "at most 30720 bytes" in message
    assert "AWS Batch service quotas" in message


def test_extract_parameters_refuses_an_oversize_run_before_anything_is_created(monkeypatch):
    monkeypatch.setenv("MODE", "taskexport")
    monkeypatch.setenv("MAX_VCPUS", str(MAX_VCPUS))
    monkeypatch.setenv("NAME_PREFIX", "batch-lustre")
    secret = json.dumps(runtime_defaults("taskexport"))
    big = {"environment": {f"V{i}": "y" * 400 for i in range(90)}}
    out = extract_parameters.handler({"secretString": secret, "executionName": "run-1", "input": big}, None)
    assert out["ok"] is False and "at most 30720 bytes" in out["error"] and "\n" not in out["error"]


def test_the_worst_case_request_is_a_submit_job_request_of_the_batch_model():
    request = worst_case_request({"command": ["run"], "environment": {"A": "1"}, "arraySize": 5}, 604_800)
    report = ParamValidator().validate(request, SUBMIT_JOB)
    assert not report.has_errors(), report.generate_report()
    assert set(request) == {
        "jobName", "jobQueue", "jobDefinition", "containerOverrides", "timeout", "propagateTags", "tags",
        "arrayProperties",
    }  # fmt: skip


def _sent_request(mode: str, overrides: dict, name: str) -> dict:
    """The SubmitJob request the generated definition sends for a run with these overrides (the sample stack)."""
    derived = extract_parameters.derive(runtime_defaults(mode), mode, f"batch-lustre-{name}", overrides, max_vcpus=256)
    array = derived["arraySize"] >= 2
    refs = sample_refs(mode)
    state = {
        "config": {"derived": derived},
        "jobDefinition": {"JobDefinitionArn": f"arn:aws:batch:us-east-1:123456789012:job-definition/{name}:1"},
        "polls": {"lane": {"Last": {"Lane": lane_list(refs)[0]}}},  # paths.LANE
    }
    task = all_states(build_definition(refs))["SubmitArrayJob" if array else "SubmitJob"]
    return api_request(resolve(task["Parameters"], state, {"Execution": {"Name": name}}))


ITEMS = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=4096)


@settings(max_examples=30)
@given(
    st.sampled_from(MODES),
    st.lists(ITEMS, min_size=1, max_size=12),
    st.dictionaries(st.from_regex(r"[A-Z][A-Z0-9_]{0,30}", fullmatch=True), ITEMS, max_size=8),
    st.integers(1, 10_000),
)
def test_any_overrides_pass_and_the_emulated_submit_job_accepts_or_get_one_refusal_line(mode, command, env, size):
    overrides = {"command": command, "environment": env, "arraySize": size}
    try:
        typed = validate_overrides(overrides, MAX_VCPUS)
    except ParameterError as err:
        assert len(str(err).splitlines()) == 1
        assert payload_bytes(worst_case_request(overrides, 604_800)) > SUBMIT_JOB_PAYLOAD_LIMIT_BYTES
        return
    refuse_oversize_payload(json.dumps(_sent_request(mode, typed, "run-1")))  # raises ClientException if refused


def test_the_emulated_rule_refuses_one_byte_over_the_limit():
    refuse_oversize_payload(b"x" * SUBMIT_JOB_PAYLOAD_LIMIT_BYTES)
    with pytest.raises(ClientException):
        refuse_oversize_payload(b"x" * (SUBMIT_JOB_PAYLOAD_LIMIT_BYTES + 1))


def test_a_run_accepted_at_the_very_edge_fits_a_stack_whose_names_and_tags_are_the_longest_aws_takes():
    """The stack's parts are counted at their largest: a command that fills the limit exactly is accepted, and the
    request a stack with a 128-character queue name and 256-character tag values sends still fits."""
    items = ["x" * 4096] * 7 + [""]  # then the last item fills the worst-case request to the limit exactly
    items[-1] = "x" * (SUBMIT_JOB_PAYLOAD_LIMIT_BYTES - payload_bytes(worst_case_request({"command": items}, 604_800)))
    assert 1 <= len(items[-1]) <= 4096
    accepted = validate_overrides({"command": items}, MAX_VCPUS)
    with pytest.raises(ParameterError):
        validate_overrides({"command": [*items[:-1], items[-1] + "x"]}, MAX_VCPUS)
    arn = "arn:aws:batch:ap-southeast-5:123456789012:job-queue/" + "q" * 128
    for mode in MODES:
        sample = sample_refs(mode)
        # The 50th lane (the most a stack has: Batch's quota), on a queue with the longest name.
        lanes = sample.lanes * (MAX_COMPUTE_ENVIRONMENTS - 1) + (
            dataclasses.replace(sample.lanes[0], job_queue_arn=arn),
        )
        refs = dataclasses.replace(sample, lanes=lanes, stack="s" * 256)
        derived = extract_parameters.derive(runtime_defaults(mode), mode, "r" * 128, accepted, max_vcpus=256)
        derived["jobTimeoutSeconds"] = 604_800
        state = {
            "config": {"derived": derived},
            "jobDefinition": {"JobDefinitionArn": arn.replace("queue", "def")},
            "polls": {"lane": {"Last": {"Lane": lane_list(refs)[-1]}}},  # paths.LANE
        }
        task = all_states(build_definition(refs))["SubmitJob"]
        sent = api_request(resolve(task["Parameters"], state, {"Execution": {"Name": "e" * 80}}))
        refuse_oversize_payload(json.dumps(sent))

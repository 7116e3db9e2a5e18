"""The data layout the stack config chooses (asl/data_layout.py, README "Your data"): the associations the workflow
creates, the export task's path and where the job's files land, from one description; the two stack config keys
at their trust boundary."""

from __future__ import annotations

import dataclasses
import itertools
import re

import aws_calls
import botocore.session
import find_run_resources as frr
import pytest
import wait_for
from botocore.exceptions import ClientError
from conftest import sample_refs
from hypothesis import given
from hypothesis import strategies as st
from test_emulation_layer import client, create_fs

from batch_lustre.emulation import Emulation
from batch_lustre.emulation.catalogue import PREFIX_LAYOUT
from batch_lustre.emulation.catalogue_run import run_scenario
from batch_lustre.program.asl import build_definition, iam
from batch_lustre.program.asl.data_layout import DataLayout
from batch_lustre.program.asl.states import all_states
from batch_lustre.program.parameters import AUTO_EXPORT, MODES, TASK_EXPORT, ParameterError
from batch_lustre.program.settings import load_settings

FSX = botocore.session.get_session().get_service_model("fsx")
CREATE_DRA = FSX.operation_model("CreateDataRepositoryAssociation").input_shape


def associations(layout: DataLayout, mode: str = TASK_EXPORT) -> list[dict]:
    refs = dataclasses.replace(sample_refs(mode), data_layout=layout)
    machine = all_states(build_definition(refs))
    return [
        s["Parameters"] for s in machine.values() if s.get("Resource", "").endswith("createDataRepositoryAssociation")
    ]


def test_the_seeds_layout_links_the_whole_bucket_at_scratch_and_exports_scratch():
    (dra,) = associations(DataLayout())
    assert (dra["FileSystemPath"], dra["DataRepositoryPath"]) == ("/scratch", "s3://taskexport-data-0123abcd/")
    assert dra["BatchImportMetaDataOnCreate"] is True
    assert DataLayout().export_path() == "scratch"


def test_a_prefix_layout_imports_the_inputs_and_exports_each_run_under_its_own_prefix():
    layout = DataLayout("input/", "runs/")
    inputs, results = associations(layout)
    assert (inputs["FileSystemPath"], inputs["DataRepositoryPath"]) == (
        "/scratch/input",
        "s3://taskexport-data-0123abcd/input/",
    )
    assert inputs["BatchImportMetaDataOnCreate"] is True and inputs["S3"]["AutoExportPolicy"] == {"Events": []}
    assert results["FileSystemPath"] == "/scratch/results" and results["BatchImportMetaDataOnCreate"] is False
    assert (
        results["DataRepositoryPath.$"] == "States.Format('s3://taskexport-data-0123abcd/runs/{}/', $$.Execution.Name)"
    )
    assert layout.export_path() == "scratch/results"


PREFIXES = st.text(st.sampled_from("ab1.-_*()!/'\\ \n"), max_size=12) | st.sampled_from(["", "input/", "runs/", "./"])


@given(st.sampled_from(MODES), PREFIXES, PREFIXES)
def test_any_layout_config_gives_associations_fsx_accepts_or_one_refusal_line(mode, inputs, results):
    try:
        layout = load_settings(
            mode, {"dataRepositoryInputPrefix": inputs, "dataRepositoryResultsPrefix": results}
        ).data_layout
    except ParameterError as err:
        message = str(err)
        assert len(message.splitlines()) == 1 and "dataRepository" in message and "accepted" in message
        return
    linked = []
    for dra in associations(layout, mode):
        path = dra.get("DataRepositoryPath") or dra["DataRepositoryPath.$"].split("'")[1].replace("{}", "run-1")
        for member, value in (("DataRepositoryPath", path), ("FileSystemPath", dra["FileSystemPath"])):
            shape = CREATE_DRA.members[member]
            assert re.fullmatch(shape.metadata["pattern"], value), (member, value)
            assert shape.metadata.get("min", 0) <= len(value) <= shape.metadata["max"]
        assert "//" not in path[len("s3://") :] and "/../" not in path and "/./" not in path
        linked.append((dra["FileSystemPath"] + "/", path))
    # FSx's rules between a file system's associations (docs/aws-rules.md): neither path holds the other.
    for (fs_a, s3_a), (fs_b, s3_b) in itertools.combinations(linked, 2):
        assert not (fs_a.startswith(fs_b) or fs_b.startswith(fs_a)), (fs_a, fs_b)
        assert not (s3_a.startswith(s3_b) or s3_b.startswith(s3_a)), (s3_a, s3_b)


@pytest.mark.parametrize("prefix", ["input", "/input/", "in put/", "a//", "../", "it's/"])
def test_an_input_prefix_that_is_not_a_clean_key_prefix_is_refused(prefix):
    with pytest.raises(ParameterError, match="dataRepositoryInputPrefix"):
        load_settings(TASK_EXPORT, {"dataRepositoryInputPrefix": prefix})


def test_the_export_task_exports_the_results_association_only_in_a_prefix_layout():
    for mode in MODES:
        refs = dataclasses.replace(sample_refs(mode), data_layout=DataLayout("input/", "runs/"))
        (export,) = [
            s["Parameters"]
            for s in all_states(build_definition(refs)).values()
            if s.get("Resource", "").endswith("createDataRepositoryTask")
        ]
        assert export["Paths"] == ["scratch/results"]


def test_the_role_reaches_only_the_linked_prefixes_of_the_bucket():
    bucket = "arn:aws:s3:::taskexport-data-0123abcd"

    def objects(layout: DataLayout) -> list[str]:
        refs = dataclasses.replace(sample_refs(TASK_EXPORT), data_layout=layout)
        policy = iam.state_machine_policy(refs, build_definition(refs))
        (statement,) = [s for s in policy["Statement"] if "s3:GetObject" in s["Action"]]
        return statement["Resource"]

    assert objects(DataLayout()) == [f"{bucket}/*"]
    assert objects(DataLayout("input/", "runs/")) == [f"{bucket}/input/*", f"{bucket}/runs/*"]


# --- the Lambdas: every association of the run ------------------------------------------------------------


class _Fsx:
    """A DescribeDataRepositoryAssociations that answers the associations given."""

    def __init__(self, *associations: dict) -> None:
        self.associations = list(associations)

    def describe_data_repository_associations(self, AssociationIds=None, Filters=None, **_):  # noqa: N803
        found = [a for a in self.associations if AssociationIds is None or a["AssociationId"] in AssociationIds]
        return {"Associations": found}


def _dra(dra_id: str, lifecycle: str = "AVAILABLE", *, exports: bool = False, imports: bool = False) -> dict:
    events = ["NEW", "CHANGED", "DELETED"] if exports else []
    return {
        "AssociationId": dra_id,
        "Lifecycle": lifecycle,
        "BatchImportMetaDataOnCreate": imports,
        "S3": {"AutoExportPolicy": {"Events": events}},
    }


@pytest.mark.parametrize(
    ("lifecycles", "expected"),
    [
        (("AVAILABLE", "CREATING"), "CREATING"),
        (("AVAILABLE", "AVAILABLE"), "AVAILABLE"),
        (("MISCONFIGURED", "FAILED"), "FAILED"),
    ],
)
def test_wait_for_waits_until_every_association_of_the_run_is_available(monkeypatch, lifecycles, expected):
    fsx = _Fsx(*(_dra(f"dra-{i}", lifecycle) for i, lifecycle in enumerate(lifecycles)))
    monkeypatch.setitem(wait_for._clients, "fsx", fsx)
    done, described = wait_for._association({"associationIds": ["dra-0", "dra-1"]})
    assert described == {"AssociationLifecycle": expected}
    assert done == (expected in ("AVAILABLE", "FAILED"))


def test_wait_for_ends_at_once_when_one_association_of_the_run_is_gone(monkeypatch):
    monkeypatch.setitem(wait_for._clients, "fsx", _Fsx(_dra("dra-0")))
    with pytest.raises(aws_calls.ResourceGone, match="dra-1"):
        wait_for._association({"associationIds": ["dra-0", "dra-1"]})


def test_the_run_cleanup_works_on_the_results_association_of_a_prefix_layout():
    inputs, results = _dra("dra-in", imports=True), _dra("dra-out")
    report = frr.Report()
    assert frr.find_association(_Fsx(inputs, results), "fs-1", report) == "dra-out"
    assert frr.find_association(_Fsx(results, inputs), "fs-1", report) == "dra-out"
    exporting = _dra("dra-out", "UPDATING", exports=True)
    assert frr.find_association(_Fsx(inputs, exporting), "fs-1", report) == "dra-out"
    assert frr.find_association(_Fsx(_dra("dra-only", imports=True)), "fs-1", report) == "dra-only"  # the seeds'


# --- the emulation enforces FSx's association rules (docs/aws-rules.md, "FSx for Lustre") -------------------


def _associate(fs_id: str, fs_path: str, repo_path: str) -> str:
    return client("fsx").create_data_repository_association(
        FileSystemId=fs_id, FileSystemPath=fs_path, DataRepositoryPath=repo_path
    )["Association"]["AssociationId"]


def _refused(fs_id: str, fs_path: str, repo_path: str) -> str:
    with pytest.raises(ClientError) as err:
        _associate(fs_id, fs_path, repo_path)
    return f"{err.value.response['Error']['Code']}: {err.value.response['Error']['Message']}"


def test_fsx_refuses_an_association_whose_file_system_path_overlaps_another():
    with Emulation() as emu:
        fs_id = create_fs(emu)
        emu.advance(emu.scenario.fsx.creation_seconds)
        _associate(fs_id, "/scratch/input", "s3://data/input/")
        assert "FileSystemPath /scratch/input/a overlaps" in _refused(fs_id, "/scratch/input/a", "s3://data/a/")
        assert "FileSystemPath /scratch overlaps" in _refused(fs_id, "/scratch", "s3://data/b/")
        assert "FileSystemPath / overlaps" in _refused(fs_id, "/", "s3://data/c/")  # "/": only as the only one
        _associate(fs_id, "/scratch/results", "s3://data/runs/run-1/")


def test_fsx_refuses_an_association_whose_bucket_prefix_another_links_or_holds():
    with Emulation() as emu:
        fs_id = create_fs(emu)
        emu.advance(emu.scenario.fsx.creation_seconds)
        _associate(fs_id, "/scratch/input", "s3://data/input/")
        for repo_path in ("s3://data/input/", "s3://data/", "s3://data/input/more/"):
            assert f"DataRepositoryPath {repo_path} overlaps" in _refused(fs_id, "/scratch/x", repo_path)
        _associate(fs_id, "/scratch/inputs", "s3://data/inputs/")  # a sibling prefix, not a nested one


def test_fsx_takes_at_most_8_associations_and_works_on_one_at_a_time():
    with Emulation() as emu:
        fs_id = create_fs(emu)
        emu.advance(emu.scenario.fsx.creation_seconds)
        ids = [_associate(fs_id, f"/scratch/d{i}", f"s3://data/d{i}/") for i in range(8)]
        assert _refused(fs_id, "/scratch/d8", "s3://data/d8/").startswith("ServiceLimitExceeded")
        emu.advance(emu.scenario.fsx.association_seconds)
        lifecycles = [a.lifecycle for a in (emu.fsx.associations[i] for i in ids)]
        assert lifecycles == ["AVAILABLE"] + ["CREATING"] * 7
        emu.advance(emu.scenario.fsx.association_seconds)
        assert emu.fsx.associations[ids[1]].lifecycle == "AVAILABLE"
        assert emu.fsx.associations[ids[2]].lifecycle == "CREATING"


def test_the_run_cleanup_exports_and_deletes_what_an_aborted_run_made_in_a_prefix_layout():
    """Aborted during its job (autoexport: the run cleanup turns auto export off on the results' association, then
    exports /scratch/results): the results land under runs/<run name>/, the file system is deleted."""
    result = run_scenario("aborted-during-job", AUTO_EXPORT, stack_config=PREFIX_LAYOUT)
    assert result.passed, "\n".join(result.problems)
    assert result.calls["fsx:createDataRepositoryAssociation"] == 2
    (cleanup,) = result.run_cleanups
    assert cleanup.status == "SUCCEEDED"
    assert cleanup.calls.get("fsx:updateDataRepositoryAssociation") and cleanup.calls.get(
        "fsx:createDataRepositoryTask"
    )


def test_a_failed_association_of_a_prefix_layout_ends_the_run_naming_both_before_the_job():
    result = run_scenario("association-fails", TASK_EXPORT, stack_config=PREFIX_LAYOUT)
    assert result.passed, "\n".join(result.problems)
    assert re.search(r"became FAILED \(inputs dra-[0-9a-f]+, results dra-[0-9a-f]+\)", result.cause or "")

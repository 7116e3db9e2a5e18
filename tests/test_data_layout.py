"""The data layout the stack config chooses (asl/data_layout.py, README "Your data"): the associations the workflow
creates, the export task's path and where the job's files land, from one description; the two stack config keys
at their trust boundary."""

from __future__ import annotations

import dataclasses
import re

import botocore.session
import pytest
from conftest import sample_refs
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_lustre.program.asl import build_definition
from batch_lustre.program.asl.data_layout import DataLayout
from batch_lustre.program.asl.states import all_states
from batch_lustre.program.parameters import MODES, TASK_EXPORT, ParameterError
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
    assert DataLayout().bucket_key("/scratch/results/out.txt", "run-1") == "results/out.txt"


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
    assert layout.bucket_key("/scratch/results/a/out.txt", "run-1") == "runs/run-1/a/out.txt"
    assert layout.bucket_key("/scratch/input/part-0.csv", "run-1") == "input/part-0.csv"
    assert layout.bucket_key("/scratch/tmp/x", "run-1") is None  # scratch space: never exported


PREFIXES = st.text(st.sampled_from("ab1.-_*()!/'\\ \n"), max_size=12) | st.sampled_from(["", "input/", "runs/", "./"])


@settings(max_examples=60)
@given(st.sampled_from(MODES), PREFIXES, PREFIXES)
def test_any_layout_config_gives_associations_fsx_accepts_or_one_refusal_line(mode, inputs, results):
    try:
        layout = load_settings(
            mode, {"dataRepositoryInputPrefix": inputs, "dataRepositoryResultsPrefix": results}
        ).data_layout
    except ParameterError as err:
        assert len(str(err).splitlines()) == 1 and "dataRepository" in str(err)
        return
    for dra in associations(layout, mode):
        path = dra.get("DataRepositoryPath") or dra["DataRepositoryPath.$"].split("'")[1].replace("{}", "run-1")
        for member, value in (("DataRepositoryPath", path), ("FileSystemPath", dra["FileSystemPath"])):
            shape = CREATE_DRA.members[member]
            assert re.fullmatch(shape.metadata["pattern"], value), (member, value)
            assert shape.metadata.get("min", 0) <= len(value) <= shape.metadata["max"]
        assert "//" not in path[len("s3://") :] and "/../" not in path and "/./" not in path
    assert not (layout.input_prefix and layout.input_prefix.startswith(layout.results_prefix))


@pytest.mark.parametrize("prefix", ["input", "/input/", "in put/", "a//", "../", "it's/"])
def test_an_input_prefix_that_is_not_a_clean_key_prefix_is_refused(prefix):
    with pytest.raises(ParameterError, match="dataRepositoryInputPrefix"):
        load_settings(TASK_EXPORT, {"dataRepositoryInputPrefix": prefix})

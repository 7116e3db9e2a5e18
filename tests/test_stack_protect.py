"""The data bucket and the ECR repository are protected (Pulumi's protect resource option) as stack config says:
the bucket by default, the repository when asked."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from offline_stacks import load_stack_config, run_program

from batch_lustre.program.parameters import AUTO_EXPORT, TASK_EXPORT, ParameterError
from batch_lustre.program.settings import settings_from_config

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws")


@pytest.mark.parametrize("mode", [TASK_EXPORT, AUTO_EXPORT])
def test_by_default_the_bucket_alone_is_protected(mode):
    run = run_program(mode)
    assert run.protected == {run.one("aws:s3/bucket:Bucket").name}


def test_stack_config_moves_protection_from_the_bucket_to_the_repository():
    config = {
        **load_stack_config(TASK_EXPORT),
        "batch-lustre:protectBucket": "false",
        "batch-lustre:protectRepository": "true",
    }
    run = run_program(TASK_EXPORT, config=config)
    assert run.protected == {run.one("aws:ecr/repository:Repository").name}


@given(st.text(max_size=12).filter(lambda t: t.strip().lower() not in ("true", "false")))
def test_a_protect_key_takes_true_or_false_only(text):
    for key in ("protectBucket", "protectRepository"):
        with pytest.raises(ParameterError, match=rf"^{key}=.* is not accepted: accepted true or false"):
            settings_from_config({**load_stack_config(TASK_EXPORT), f"batch-lustre:{key}": text})

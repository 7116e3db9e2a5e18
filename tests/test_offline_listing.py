"""The listing script (``python -m tests.offline_stacks``) prints the same text whatever order the engine
registered the resources in (Pulumi registers them as their inputs resolve, which varies from run to run)."""

from __future__ import annotations

import dataclasses
import random

import pulumi
import pytest
from offline_stacks import OfflineRun, describe, run_program


@pytest.mark.parametrize("stack", ["taskexport", "autoexport"])
def test_the_listing_does_not_depend_on_registration_order(stack):
    run = run_program(stack)
    shuffled = list(run.resources)
    random.Random(7).shuffle(shuffled)
    reordered = [
        dataclasses.replace(r, inputs={k: _reversed_archive(v) for k, v in reversed(list(r.inputs.items()))})
        for r in reversed(shuffled)
    ]
    assert describe(OfflineRun(run.stack, reordered, dict(reversed(list(run.outputs.items()))))) == describe(run)


def _reversed_archive(value: object) -> object:
    if isinstance(value, pulumi.AssetArchive):
        return pulumi.AssetArchive(dict(reversed(list(value.assets.items()))))
    return value

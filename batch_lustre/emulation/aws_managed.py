"""AWS managed policies in the emulated account: the ones the program attaches, from moto's copy of AWS's.

moto loads AWS's managed policies into a new account only when asked, and then all of them (about 1,400, a few
seconds per emulation); a role attachment needs just the one it names, so that one is added when attached.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from batch_lustre.emulation.moto_seam import AWSManagedPolicy, aws_managed_policies_data, iam_backends


@cache
def _policies() -> dict[str, Any]:
    return json.loads(aws_managed_policies_data)


def ensure_aws_managed_policy(policy_arn: str, region: str, account: str) -> None:
    """Make AWS managed policy ``policy_arn`` exist in emulated account ``account`` (no-op when it does)."""
    name = policy_arn.rsplit("/", 1)[-1]
    data = _policies().get(name)
    if data is None:
        return  # not an AWS managed policy moto knows: AttachRolePolicy answers NoSuchEntity, as AWS would
    backend = iam_backends[account]["aws"]
    if policy_arn not in backend.managed_policies:
        policy = AWSManagedPolicy.from_data(name, account, region, data)
        backend.managed_policies[policy.arn] = policy

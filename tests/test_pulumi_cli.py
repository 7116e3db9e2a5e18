"""The Automation API runs a Pulumi CLI of at least the documented minimum (the Pulumi SDK version the project
requires), and refuses an older one in one line; the version is injected here, no CLI is run."""

import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch_lustre.automation.errors import PulumiCliTooOld
from batch_lustre.automation.pulumi_cli import MINIMUM_PULUMI_CLI, check_pulumi_cli

ROOT = Path(__file__).resolve().parent.parent


def test_the_minimum_is_the_pulumi_sdk_version_the_project_requires():
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    bound = next(re.match(r"pulumi>=([\d.]+)", d) for d in dependencies if re.match(r"pulumi>=", d))
    assert tuple(int(p) for p in (bound.group(1) + ".0.0").split(".")[:3]) == MINIMUM_PULUMI_CLI
    assert re.search(r"Pulumi CLI.*3\.272", (ROOT / "README.md").read_text()), "README names the minimum"


def test_the_minimum_and_newer_are_accepted():
    assert check_pulumi_cli("v3.272.0") == (3, 272, 0)
    assert check_pulumi_cli("v3.300.1-alpha.x\n") == (3, 300, 1)
    assert check_pulumi_cli("4.0.0") == (4, 0, 0)


def test_an_older_cli_is_refused_in_one_line_naming_both_versions():
    with pytest.raises(PulumiCliTooOld) as refused:
        check_pulumi_cli("v3.200.0")
    message = str(refused.value)
    assert message.startswith("the pulumi CLI is version 3.200.0: accepted 3.272.0 or newer")
    assert "\n" not in message and "pulumi.com/docs/install" in message


@given(st.tuples(st.integers(0, 9), st.integers(0, 400), st.integers(0, 20)))
def test_a_version_is_accepted_exactly_when_it_is_at_least_the_minimum(version):
    text = "v" + ".".join(map(str, version))
    if version >= MINIMUM_PULUMI_CLI:
        assert check_pulumi_cli(text) == version
    else:
        with pytest.raises(PulumiCliTooOld):
            check_pulumi_cli(text)


def test_text_that_is_no_version_is_refused_naming_it():
    with pytest.raises(PulumiCliTooOld, match=r"^the pulumi CLI's version 'warning: x' is not accepted"):
        check_pulumi_cli("warning: x")

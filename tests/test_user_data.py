"""The per-run launch template's user data and metadata options."""

import email
import shutil
import subprocess

import pytest
from conftest import sample_refs
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_lustre.emulation.host_user_data import (
    LustreMount,
    is_mime_multipart,
    parse_lustre_mount,
    parse_mount_retry,
    shuts_down_without_mount,
)
from batch_lustre.program.asl import build_definition
from batch_lustre.program.asl.naming import HOST_MOUNT_DIR
from batch_lustre.program.asl.states import all_states
from batch_lustre.program.asl.user_data import (
    MOUNT_ATTEMPTS,
    MOUNT_RETRY_SECONDS,
    TEMPLATE,
    render,
    user_data_expression,
)

DNS, MOUNT = "fs-0123456789abcdef0.fsx.us-east-1.amazonaws.com", "abcdefgh"


def script():
    message = email.message_from_string(render(DNS, MOUNT))
    assert message.is_multipart()
    parts = [p for p in message.walk() if p.get_content_type() == "text/x-shellscript"]
    assert len(parts) == 1
    return parts[0].get_payload()


def test_user_data_is_mime_multipart_with_one_shell_script_part():
    assert script().startswith("#!/bin/bash")


def test_installs_the_lustre_client_on_al2023_and_al2():
    text = script()
    assert "dnf install -y lustre-client" in text
    assert "amazon-linux-extras install -y lustre" in text


def test_mounts_by_dns_name_and_mount_name_with_the_documented_options():
    text = script()
    assert f'DNS_NAME="{DNS}"' in text and f'MOUNT_NAME="{MOUNT}"' in text
    assert 'mount -t lustre -o noatime,flock "$DNS_NAME@tcp:/$MOUNT_NAME" "$MOUNT_DIR"' in text


def test_host_fails_loudly_when_the_mount_is_missing():
    text = script()
    assert 'mountpoint -q "$MOUNT_DIR" || fail_loudly' in text
    assert "shutdown -h now" in text


def test_never_starts_or_restarts_ecs():
    text = script()
    assert "systemctl" not in text and "ecs.service" not in text and "service ecs" not in text


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is needed to parse the script")
def test_script_is_valid_bash():
    result = subprocess.run(["bash", "-n"], input=script(), text=True, capture_output=True)
    assert result.returncode == 0, result.stderr


def test_the_template_needs_no_intrinsic_escapes():
    """States.Format literals would need escapes for these; moto mishandles escaped braces."""
    assert "'" not in TEMPLATE and "\\" not in TEMPLATE
    assert TEMPLATE.count("{") == TEMPLATE.count("{}") == 2


def test_launch_template_renders_the_user_data_from_the_described_file_system():
    state = all_states(build_definition(sample_refs("taskexport")))["CreateLaunchTemplate"]
    data = state["Parameters"]["LaunchTemplateData"]
    # The mount name comes from CreateFileSystem's response: the launch template is made while the file
    # system is still CREATING.
    assert data["UserData.$"] == user_data_expression(
        "States.Format('{}.fsx.us-east-1.amazonaws.com', $.fs.FileSystemId)", "$.fs.MountName"
    )
    assert data["MetadataOptions"]["HttpTokens"] == "required"


def test_dns_name_follows_the_partition_of_the_region():
    import dataclasses

    from batch_lustre.program.asl.run_resources import dns_name_expression

    refs = dataclasses.replace(sample_refs("taskexport"), region="cn-north-1")
    assert dns_name_expression(refs) == "States.Format('{}.fsx.cn-north-1.amazonaws.com.cn', $.fs.FileSystemId)"


# --- the emulation reads what the renderer writes -----------------------------------------------------------------

LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
DNS_LABEL = st.text(LOWER_ALNUM + "-", min_size=1, max_size=20).map(lambda label: f"x{label}0")
FSX_DNS_NAME = st.builds(
    "fs-{}.fsx.{}.amazonaws.com".format,
    st.text("0123456789abcdef", min_size=17, max_size=17),
    st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1"]),
)
DNS_NAME = st.one_of(FSX_DNS_NAME, st.lists(DNS_LABEL, min_size=2, max_size=5).map(".".join))
MOUNT_NAME = st.text(LOWER_ALNUM, min_size=1, max_size=12)


@settings(max_examples=50, derandomize=True, deadline=None)
@given(dns_name=DNS_NAME, mount_name=MOUNT_NAME)
def test_the_emulated_host_mounts_exactly_what_the_rendered_user_data_names(dns_name, mount_name):
    script = render(dns_name, mount_name)
    assert parse_lustre_mount(script) == LustreMount(dns_name, mount_name, HOST_MOUNT_DIR)
    assert parse_mount_retry(script) == (MOUNT_ATTEMPTS, float(MOUNT_RETRY_SECONDS))
    assert shuts_down_without_mount(script)
    assert is_mime_multipart(script)

"""The per-run launch template's user data: mount the run's Lustre file system or fail loudly.

Batch needs MIME multipart user data (else the compute environment goes
INVALID). The shell part runs in cloud-final, before ecs.service starts, so
the mount is in place before any job can be placed on the host; it never
starts or restarts ECS itself.

The text is filled in by ``States.Format`` inside the state machine (DNSName
and MountName come from DescribeFileSystems), so it must hold no braces,
single quotes or backslashes: those would need intrinsic-function escapes.
"""

from __future__ import annotations

from batch_lustre.program.asl.naming import HOST_MOUNT_DIR, HOST_SCRATCH_DIR

BOUNDARY = "==BATCHLUSTREBOUNDARY=="
# A host may boot before the file system is AVAILABLE (warm capacity): it keeps trying to mount for
# MOUNT_ATTEMPTS x MOUNT_RETRY_SECONDS (30 minutes), then shuts down. The launch template sets
# InstanceInitiatedShutdownBehavior=terminate, so such a host is terminated, not stopped.
MOUNT_ATTEMPTS = 120
MOUNT_RETRY_SECONDS = 15

# The two {} are DNSName and MountName, in that order.
TEMPLATE = f"""MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="{BOUNDARY}"

--{BOUNDARY}
Content-Type: text/x-shellscript; charset="us-ascii"

#!/bin/bash
# Mount the run FSx for Lustre file system at {HOST_MOUNT_DIR} before the ECS agent starts.
set -euxo pipefail
DNS_NAME="{{}}"
MOUNT_NAME="{{}}"
MOUNT_DIR="{HOST_MOUNT_DIR}"
fail_loudly () (
  echo "batch-lustre: $1; shutting this host down so no job writes to the root disk" | tee /dev/console >&2
  shutdown -h now
  exit 1
)
if command -v dnf >/dev/null 2>&1; then
  dnf install -y lustre-client || fail_loudly "dnf could not install lustre-client (AL2023)"
elif command -v amazon-linux-extras >/dev/null 2>&1; then
  amazon-linux-extras install -y lustre || fail_loudly "amazon-linux-extras could not install lustre (AL2)"
else
  fail_loudly "neither dnf (AL2023) nor amazon-linux-extras (AL2) is here to install the Lustre client"
fi
mkdir -p "$MOUNT_DIR"
for attempt in $(seq 1 {MOUNT_ATTEMPTS}); do
  mount -t lustre -o noatime,flock "$DNS_NAME@tcp:/$MOUNT_NAME" "$MOUNT_DIR" && break
  echo "batch-lustre: mount attempt $attempt failed (the file system may still be being created)" >&2
  sleep {MOUNT_RETRY_SECONDS}
done
mountpoint -q "$MOUNT_DIR" || fail_loudly "$DNS_NAME@tcp:/$MOUNT_NAME is not mounted at $MOUNT_DIR"
mkdir -p "{HOST_SCRATCH_DIR}"
echo "batch-lustre: $DNS_NAME@tcp:/$MOUNT_NAME mounted at $MOUNT_DIR"

--{BOUNDARY}--
"""

FORBIDDEN = ("'", "\\")


def _check_template(template: str) -> None:
    if any(c in template for c in FORBIDDEN):
        raise ValueError("the user data template must hold no single quotes or backslashes")
    if template.replace("{}", "").count("{") or template.replace("{}", "").count("}"):
        raise ValueError("the user data template must hold no braces other than the two {} placeholders")
    if template.count("{}") != 2:
        raise ValueError("the user data template needs exactly two {} placeholders")


_check_template(TEMPLATE)


def user_data_expression(dns_name: str, mount_name: str) -> str:
    """The intrinsic that renders the user data, base64-encoded, from two intrinsic arguments (paths or calls)."""
    return f"States.Base64Encode(States.Format('{TEMPLATE}', {dns_name}, {mount_name}))"


def render(dns_name: str, mount_name: str) -> str:
    """The user data as the state machine renders it (for tests and the emulation)."""
    return TEMPLATE.replace("{}", dns_name, 1).replace("{}", mount_name, 1)

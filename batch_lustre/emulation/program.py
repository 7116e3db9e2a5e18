"""The Pulumi program run in-process under Pulumi's mocks: the one runner for the offline listing and the
emulation's deploy.

``pulumi.runtime.set_mocks`` plays the engine and the provider: every resource the program declares reaches
``Mocks.new_resource`` with its inputs resolved (as the engine would send them to the provider), and the state
returned becomes the resource's outputs. No Pulumi CLI and no AWS account are used. The stack config is handed
over with ``pulumi.runtime.set_all_config``, as the language host does (mocks do not read stack files).
"""

from __future__ import annotations

import base64
import gc
import hashlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from batch_lustre.program.asl import naming


def plain(value: Any) -> Any:
    """An input value as the program meant it: secret wrappers removed and numbers that went through protobuf
    (always floats) back to int when integral."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return plain(value["value"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def auto_name(stack: str, logical_name: str) -> str:
    """The physical name Pulumi gives a resource declared without one: its logical name and 7 characters
    (random in Pulumi; here derived from the stack and the name, so every emulated deploy names alike)."""
    digest = hashlib.sha256(f"{stack}/{logical_name}".encode()).hexdigest()[:7]
    return f"{logical_name}-{digest}"


ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def engine_urn(mock_urn: str) -> str:
    """A URN as the Pulumi engine writes it: a resource parented to the stack has no ``pulumi:pulumi:Stack$`` in
    its type (the mock monitor and the SDK add it, as for any other parent)."""
    return mock_urn.replace(f"::{ROOT_STACK_TYPE}$", "::", 1)


RANDOM_ID = "random:index/randomId:RandomId"


def stack_outputs_answer(args: pulumi.runtime.MockCallArgs, stack: str, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's answer to ``readStackOutputs`` (``naming.READ_STACK_OUTPUTS``) when the program reads its own
    stack, ``stack``: the outputs of its last deploy (``outputs``, empty for a stack never deployed). The program
    names its stack in full, ``<organization>/<project>/<stack>``; any other name is refused."""
    name = args.args.get("name")
    expected = f"{naming.DIY_ORGANIZATION}/{naming.PROJECT}/{stack}"
    if name != expected:
        raise ValueError(f"{naming.READ_STACK_OUTPUTS} of {name!r}: the program reads its own stack, {expected}")
    return {"name": name, "outputs": dict(outputs), "secretOutputNames": []}


def random_id_outputs(physical: str, byte_length: int) -> tuple[str, dict[str, Any]]:
    """The id and outputs of a ``random.RandomId`` (``hex``, ``dec``, ``b64Url``, ``b64Std``; its id is the
    ``b64Url``): random bytes in Pulumi; here derived from the resource's physical name (``auto_name``, so from the
    stack), so every deploy of a stack gets the same id and two stacks get different ones."""
    drawn = hashlib.sha256(physical.encode()).digest()[:byte_length]
    b64_url = base64.urlsafe_b64encode(drawn).decode().rstrip("=")
    return b64_url, {
        "byteLength": byte_length,
        "hex": drawn.hex(),
        "dec": str(int.from_bytes(drawn, "big")),
        "b64Url": b64_url,
        "b64Std": base64.b64encode(drawn).decode(),
    }


class OptionsRecordingMonitor(MockMonitor):
    """Pulumi's mock monitor, also recording each resource's options as the engine receives them, into the mocks'
    ``ignore_changes`` (logical name -> Pulumi property paths; the emulated ``pulumi up`` honours them,
    ``emulation.pulumi_state``), ``protected`` (the logical names of the protected resources), ``dependencies``
    (logical name -> the logical names it depends on, its inputs' and its ``depends_on``) and ``urns`` (each
    resource's URN -> the URNs of its aliases, as the engine writes them), when they keep them.

    The monitor does not take alias specifications, so the SDK itself turns each alias, and each alias a child
    inherits from its parent's, into a full URN (``pulumi.runtime.resource.all_aliases``): what is recorded is what
    the engine would match against the previous state.
    """

    def GetDeploymentInfo(self, request: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        info = super().GetDeploymentInfo(request)
        features = [f for f in info.supportedFeatures if f != resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS]
        return resource_pb2.DeploymentInfo(supportedFeatures=features)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        urns = getattr(self.mocks, "urns", None)
        if isinstance(urns, dict):
            urn = engine_urn(self.make_urn(request.parent, request.type, request.name))
            urns[urn] = tuple(sorted({engine_urn(alias) for alias in request.aliasURNs}))
        recorded = getattr(self.mocks, "ignore_changes", None)
        if isinstance(recorded, dict):
            recorded[request.name] = tuple(request.ignoreChanges)
        protected = getattr(self.mocks, "protected", None)
        if isinstance(protected, set) and request.protect:
            protected.add(request.name)
        dependencies = getattr(self.mocks, "dependencies", None)
        if isinstance(dependencies, dict):  # the URNs' last part: the logical names
            dependencies[request.name] = tuple(urn.rsplit("::", 1)[-1] for urn in request.dependencies)
        return super().RegisterResource(request)


def run_program(
    stack: str,
    config: Mapping[str, str],
    mocks: pulumi.runtime.Mocks,
    program: Callable[[], Any],
) -> dict[str, Any]:
    """Run ``program`` as stack ``stack`` of this project with ``config`` (full keys, e.g.
    ``batch-lustre:mode``) under ``mocks``; return the stack outputs, resolved.

    Applies run (``preview=False``), as in ``pulumi up``. An exception raised by the program, inside an apply or
    by the mocks is re-raised here, after the engine has settled.
    """
    runtime_settings.ROOT.set(None)  # a fresh root Stack resource for each run
    pulumi.runtime.set_all_config(dict(config))
    pulumi.runtime.set_mocks(
        mocks,
        project=naming.PROJECT,
        stack=stack,
        preview=False,
        monitor=OptionsRecordingMonitor(mocks),
        organization=naming.DIY_ORGANIZATION,
    )
    runtime_settings.SETTINGS.rpc_manager.clear()
    runtime_settings.SETTINGS.outputs.clear()
    root = runtime_settings.get_root_resource()

    try:
        _sync_await(run_pulumi_func(program))
    except BaseException:
        _forget_failed_registrations()
        raise

    return {name: resolve(value) for name, value in getattr(root, "outputs", {}).items()}


def _forget_failed_registrations() -> None:
    """After a failed run the engine's other registrations failed in turn (their inputs never resolved); the one
    error that counts is being raised: drop theirs now, quietly, rather than have asyncio log each at collection."""
    runtime_settings.SETTINGS.rpc_manager.clear()
    runtime_settings.SETTINGS.outputs.clear()
    asyncio_log = logging.getLogger("asyncio")
    level = asyncio_log.level
    asyncio_log.setLevel(logging.CRITICAL)
    try:
        gc.collect()
    finally:
        asyncio_log.setLevel(level)


def resolve(value: Any) -> Any:
    """The value of a Pulumi output (or plain value) once the program has run."""
    return _sync_await(pulumi.Output.from_input(value).future())

"""Wire ``emulation.fsx.FsxModel`` into moto's FSx backend and responses.

Patched at the backend/response level (not at boto3), so the test's own boto3
calls and the Step Functions ``aws-sdk:fsx:*`` tasks see the same behaviour and
the same error codes (moto turns ``FsxError`` into ``{"__type": code}``, which
botocore maps to the modeled exception class).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from batch_lustre.emulation import moto_seam
from batch_lustre.emulation.fsx import FsxError, FsxModel
from batch_lustre.emulation.moto_seam import FileSystem, FSxBackend, FSxResponse, ec2_backends, fsx_backends


def install(stack: ExitStack, model_for: Callable[[], FsxModel], lock: Any) -> None:
    """Patch moto's FSx for the duration of ``stack``; ``model_for()`` is the active model."""
    original_create = FSxBackend.create_file_system
    original_describe = FSxBackend.describe_file_systems
    original_to_dict = FileSystem.to_dict

    def create_file_system(self: FSxBackend, **kwargs: Any) -> FileSystem:
        with lock:
            model = model_for()
            model.clock.settle()
            token = kwargs.get("client_request_token")
            if token and ("fs", token) in model.tokens:
                return self.file_systems[model.tokens[("fs", token)]]
            if model.scenario.create_error:
                raise FsxError(*model.scenario.create_error)
            _check_network(self, kwargs.get("subnet_ids") or [], kwargs.get("security_group_ids") or [])
            fs = original_create(self, **kwargs)
            lustre = dict(fs.lustre_configuration or {})
            state = model.file_system_created(fs.file_system_id, kwargs.get("file_system_type_version"), lustre)
            lustre.setdefault("DeploymentType", state.deployment_type)
            lustre["MountName"] = state.mount_name
            lustre.setdefault("DataCompressionType", "NONE")
            fs.lustre_configuration = lustre
            if token:
                model.tokens[("fs", token)] = fs.file_system_id
            return fs

    def describe_file_systems(self: FSxBackend, file_system_ids: list[str] | None = None, **kwargs: Any) -> Any:
        with lock:
            model = model_for()
            model.clock.settle()
            for fs_id in file_system_ids or []:
                model.get(fs_id)  # FileSystemNotFound, as AWS does for an unknown or deleted id
            return original_describe(self, file_system_ids=file_system_ids, **kwargs)

    def delete_file_system(self: FSxBackend, file_system_id: str, **kwargs: Any) -> tuple[Any, ...]:
        with lock:
            model = model_for()
            model.clock.settle()
            if file_system_id not in self.file_systems:
                raise FsxError("FileSystemNotFound", f"File system '{file_system_id}' does not exist.")
            fs = model.request_delete(file_system_id)
            kind = self.file_systems[file_system_id].file_system_type
            response = {"FinalBackupId": "", "FinalBackupTags": []}
            return (
                fs.file_system_id,
                fs.lifecycle,
                response if kind == "WINDOWS" else None,
                response if kind == "LUSTRE" else None,
                response if kind == "OPEN_ZFS" else None,
            )

    def to_dict(self: FileSystem) -> dict[str, Any]:
        out = original_to_dict(self)
        model = model_for()
        if self.file_system_id in model.file_systems:
            out.update(model.describe_extras(self.file_system_id))
        return out

    moto_seam.patch(stack, FSxBackend, "create_file_system", create_file_system)
    moto_seam.patch(stack, FSxBackend, "describe_file_systems", describe_file_systems)
    moto_seam.patch(stack, FSxBackend, "delete_file_system", delete_file_system)
    moto_seam.patch(stack, FileSystem, "to_dict", to_dict)
    for name, handler in _handlers(model_for, lock).items():
        moto_seam.patch(stack, FSxResponse, name, handler, create=True)


def _check_network(backend: FSxBackend, subnet_ids: list[str], security_group_ids: list[str]) -> None:

    ec2 = ec2_backends[backend.account_id][backend.region_name]
    for subnet_id in subnet_ids:
        try:
            ec2.get_subnet(subnet_id)
        except Exception:
            raise FsxError("InvalidNetworkSettings", f"Subnet {subnet_id} does not exist.") from None
    for group_id in security_group_ids:
        if ec2.get_security_group_from_id(group_id) is None:
            raise FsxError("InvalidNetworkSettings", f"Security group {group_id} does not exist.")


def _handlers(model_for: Callable[[], FsxModel], lock: Any) -> dict[str, Callable[[FSxResponse], str]]:
    """FSxResponse methods for the operations moto lacks (dispatched by snake_case action name)."""

    def call(fn: Callable[[FsxModel, dict[str, Any], FSxResponse], Any]) -> Callable[[FSxResponse], str]:
        def handler(self: FSxResponse) -> str:
            params = json.loads(self.body or "{}")
            with lock:
                model = model_for()
                model.clock.settle()
                return json.dumps(fn(model, params, self))

        return handler

    def create_dra(model: FsxModel, p: dict[str, Any], r: FSxResponse) -> dict[str, Any]:
        return {"Association": model.create_association(p, r.region, r.current_account).to_api()}

    def describe_dras(model: FsxModel, p: dict[str, Any], r: FSxResponse) -> dict[str, Any]:
        found = model.describe_associations(p.get("AssociationIds"), p.get("Filters"))
        return {"Associations": [a.to_api() for a in found]}

    def update_dra(model: FsxModel, p: dict[str, Any], r: FSxResponse) -> dict[str, Any]:
        return {"Association": model.update_association(p).to_api()}

    def create_task(model: FsxModel, p: dict[str, Any], r: FSxResponse) -> dict[str, Any]:
        return {"DataRepositoryTask": model.task_to_api(model.create_task(p, r.region, r.current_account))}

    def describe_tasks(model: FsxModel, p: dict[str, Any], r: FSxResponse) -> dict[str, Any]:
        found = model.describe_tasks(p.get("TaskIds"), p.get("Filters"))
        return {"DataRepositoryTasks": [model.task_to_api(t) for t in found]}

    return {
        "create_data_repository_association": call(create_dra),
        "describe_data_repository_associations": call(describe_dras),
        "update_data_repository_association": call(update_dra),
        "create_data_repository_task": call(create_task),
        "describe_data_repository_tasks": call(describe_tasks),
    }


def remover(account_id: str, region: str) -> Callable[[str], None]:
    """Drop a deleted file system from moto's backend (DescribeFileSystems no longer lists it)."""

    def remove(file_system_id: str) -> None:
        fsx_backends[account_id][region].file_systems.pop(file_system_id, None)

    return remove

"""FSx for Lustre behaviour moto lacks: lifecycles, data repository associations and tasks, file contents.

Pure model on the emulated clock; ``emulation.fsx_api`` wires it into moto's FSx
backend and responses. Facts relied on are in /work/shared/AWS_FACTS.md ("FSx for
Lustre"): DRAs need Lustre 2.12/2.15 and not SCRATCH_1; BatchImportMetaDataOnCreate
starts an IMPORT task; DeleteFileSystem is refused while a task is PENDING/EXECUTING;
auto export must be off before an EXPORT_TO_REPOSITORY task.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from batch_lustre.emulation.clock import EmulatedClock
from batch_lustre.emulation.moto_seam import JsonRESTError
from batch_lustre.emulation.scenario import (
    DRA_FAILED,
    DRA_MISCONFIGURED_THEN_AVAILABLE,
    FS_AVAILABLE,
    FS_FAILED,
    FsxScenario,
)
from batch_lustre.program.parameters import EVENT_CHANGED as EXPORT_EVENTS_CHANGED
from batch_lustre.program.parameters import EVENT_NEW as EXPORT_EVENTS_NEW

TASK_RUNNING = ("PENDING", "EXECUTING")
# Metadata import speed: about 2,000 objects a second (public measurements, not documented: Assumed;
# docs/aws-rules.md, "FSx for Lustre"). The association's import lasts FsxScenario.import_seconds plus one second
# per this many objects under the linked path.
IMPORT_OBJECTS_PER_SECOND = 2000.0
DRA_TYPE_VERSIONS = ("2.12", "2.15")
MAX_ASSOCIATIONS = 8


class FsxError(JsonRESTError):
    """An FSx API error with its real error code (BadRequest, FileSystemNotFound, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


def _rand(n: int, alphabet: str = string.ascii_lowercase + string.digits) -> str:
    return "".join(random.choice(alphabet) for _ in range(n))


@dataclass
class LustreFile:
    path: str  # absolute on the file system, e.g. /scratch/results/out.txt
    data: bytes
    version: int = 1
    exported_version: int = 0  # version last copied to S3 (0: never)
    written_at: float = 0.0


@dataclass
class FileSystemState:
    file_system_id: str
    created_at: float
    type_version: str
    deployment_type: str
    mount_name: str
    lifecycle: str = "CREATING"
    available_at: float | None = None
    failure: str | None = None
    delete_requested_at: float | None = None
    deleted_at: float | None = None
    legacy_repository: bool = False  # ImportPath/ExportPath set on the file system itself
    files: dict[str, LustreFile] = field(default_factory=dict)
    queue: list[tuple[str, float]] = field(default_factory=list)  # auto export: (path, enqueued_at)
    queue_last_done: float = 0.0
    queue_drained_at: float | None = None  # last time the auto export queue became empty
    # When DeleteFileSystem was accepted: path of each file on it -> its content was in S3 at that moment.
    in_s3_at_delete: dict[str, bool] | None = None

    @property
    def gone(self) -> bool:
        return self.deleted_at is not None


@dataclass
class Association:
    association_id: str
    resource_arn: str
    file_system_id: str
    file_system_path: str
    data_repository_path: str
    batch_import: bool
    chunk_size: int
    s3: dict[str, Any]
    created_at: float
    tags: list[dict[str, str]]
    lifecycle: str = "CREATING"
    failure: str | None = None
    pending_s3: dict[str, Any] | None = None  # applied when an update completes
    available_at: float | None = None  # first time AVAILABLE (emulated second)

    def export_events(self) -> list[str]:
        return list(((self.s3 or {}).get("AutoExportPolicy") or {}).get("Events") or [])

    def covers(self, path: str) -> bool:
        root = self.file_system_path.rstrip("/")
        return path == root or path.startswith(root + "/") or root == ""

    def s3_location(self, path: str) -> tuple[str, str]:
        """Bucket and key of file ``path`` under this association's path mapping."""
        bucket, _, prefix = self.data_repository_path[len("s3://") :].partition("/")
        relative = path[len(self.file_system_path.rstrip("/")) :].lstrip("/")
        prefix = prefix.rstrip("/")
        return bucket, f"{prefix}/{relative}" if prefix else relative

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "AssociationId": self.association_id,
            "ResourceARN": self.resource_arn,
            "FileSystemId": self.file_system_id,
            "Lifecycle": self.lifecycle,
            "FileSystemPath": self.file_system_path,
            "DataRepositoryPath": self.data_repository_path,
            "BatchImportMetaDataOnCreate": self.batch_import,
            "ImportedFileChunkSize": self.chunk_size,
            "S3": self.s3,
            "Tags": self.tags,
        }
        if self.failure:
            out["FailureDetails"] = {"Message": self.failure}
        return out


@dataclass
class RepositoryTask:
    task_id: str
    resource_arn: str
    file_system_id: str
    task_type: str
    paths: list[str]
    report: dict[str, Any]
    created_at: float
    tags: list[dict[str, str]]
    lifecycle: str = "PENDING"
    start_time: float | None = None
    end_time: float | None = None
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    failure: str | None = None
    selected: list[str] = field(default_factory=list)  # files the task works on


@dataclass
class FsxModel:
    """Every FSx resource the emulation adds to moto, keyed by id."""

    clock: EmulatedClock
    scenario: FsxScenario
    put_object: Callable[[str, str, bytes], None]  # bucket, key, body -> moto S3
    list_objects: Callable[[str, str], dict[str, bytes]]  # bucket, prefix -> key: body
    bucket_exists: Callable[[str], bool]
    metrics_stuck: bool = False  # METRIC_NEVER_ZERO: the auto export queue never drains
    on_queue_active: Callable[[str], None] | None = None  # file system id: its queue got an entry
    file_systems: dict[str, FileSystemState] = field(default_factory=dict)
    associations: dict[str, Association] = field(default_factory=dict)
    tasks: dict[str, RepositoryTask] = field(default_factory=dict)
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, client token) -> id
    removed: list[str] = field(default_factory=list)  # file systems whose deletion completed
    # Associations and tasks of deleted file systems (records for the run figures; not in the API any more).
    removed_associations: dict[str, Association] = field(default_factory=dict)
    removed_tasks: dict[str, RepositoryTask] = field(default_factory=dict)
    remove_from_backend: Callable[[str], None] | None = None
    bucket_seeded: bool = False  # the scenario's bucket_objects were put (with the first association)
    association_work_ends: dict[str, float] = field(default_factory=dict)  # file system id -> when FSx is free

    # --- file systems ----------------------------------------------------------------------------
    def file_system_created(
        self, file_system_id: str, type_version: str | None, lustre: dict[str, Any] | None
    ) -> FileSystemState:
        lustre = lustre or {}
        deployment = lustre.get("DeploymentType") or "SCRATCH_1"
        state = FileSystemState(
            file_system_id=file_system_id,
            created_at=self.clock.seconds(),
            # The API default is 2.10, which has no DRAs (AWS_FACTS.md).
            type_version=type_version or "2.10",
            deployment_type=deployment,
            mount_name="fsx" if deployment == "SCRATCH_1" else _rand(8),
            legacy_repository=bool(lustre.get("ImportPath") or lustre.get("ExportPath")),
        )
        self.file_systems[file_system_id] = state
        sc = self.scenario
        if sc.outcome == FS_AVAILABLE:
            self.clock.schedule_in(sc.creation_seconds, lambda at: self._fs_available(state, at), "fs available")
        elif sc.outcome == FS_FAILED:
            self.clock.schedule_in(sc.creation_seconds, lambda at: self._fs_failed(state), "fs failed")
        return state

    def _fs_available(self, fs: FileSystemState, at: float) -> None:
        if fs.lifecycle == "CREATING":
            fs.lifecycle, fs.available_at = "AVAILABLE", at

    def _fs_failed(self, fs: FileSystemState) -> None:
        if fs.lifecycle == "CREATING":
            fs.lifecycle = "FAILED"
            fs.failure = "Amazon FSx could not create the file system (emulated failure)."

    def get(self, file_system_id: str) -> FileSystemState:
        fs = self.file_systems.get(file_system_id)
        if fs is None or fs.gone:
            raise FsxError("FileSystemNotFound", f"File system '{file_system_id}' does not exist.")
        return fs

    def describe_extras(self, file_system_id: str) -> dict[str, Any]:
        """Fields moto's FileSystem.to_dict lacks."""
        fs = self.file_systems[file_system_id]
        extras: dict[str, Any] = {
            "Lifecycle": fs.lifecycle,
            "CreationTime": self.clock.at(fs.created_at).timestamp(),
            "FileSystemTypeVersion": fs.type_version,
        }
        if fs.failure:
            extras["FailureDetails"] = {"Message": fs.failure}
        return extras

    def request_delete(self, file_system_id: str) -> FileSystemState:
        fs = self.get(file_system_id)
        if fs.lifecycle == "DELETING":
            raise FsxError("BadRequest", f"File system {file_system_id} is already being deleted.")
        running = [
            t.task_id for t in self.tasks.values() if t.file_system_id == file_system_id and t.lifecycle in TASK_RUNNING
        ]
        if running:
            # AWS_FACTS.md: DeleteFileSystem is refused (HTTP 400) while a data repository task is PENDING/EXECUTING.
            raise FsxError(
                "BadRequest",
                f"Cannot delete file system {file_system_id} while data repository task {running[0]} is in progress.",
            )
        fs.in_s3_at_delete = {path: self.in_s3(fs, path) for path in sorted(fs.files)}
        fs.lifecycle, fs.delete_requested_at = "DELETING", self.clock.seconds()
        for dra in self.associations.values():
            if dra.file_system_id == file_system_id:
                dra.lifecycle = "DELETING"
        self.clock.schedule_in(self.scenario.deletion_seconds, lambda at: self._fs_removed(fs, at), "fs deleted")
        return fs

    def _fs_removed(self, fs: FileSystemState, at: float) -> None:
        fs.deleted_at = at
        fs.queue.clear()
        for dra_id in [a for a, dra in self.associations.items() if dra.file_system_id == fs.file_system_id]:
            self.removed_associations[dra_id] = self.associations.pop(dra_id)
        for task_id in [t for t, task in self.tasks.items() if task.file_system_id == fs.file_system_id]:
            self.removed_tasks[task_id] = self.tasks.pop(task_id)
        self.removed.append(fs.file_system_id)
        if self.remove_from_backend is not None:
            self.remove_from_backend(fs.file_system_id)

    # --- data repository associations ------------------------------------------------------------
    def create_association(self, params: dict[str, Any], region: str, account: str) -> Association:
        token = params.get("ClientRequestToken")
        if token and ("dra", token) in self.tokens:
            return self.associations[self.tokens[("dra", token)]]
        fs = self.get(params.get("FileSystemId", ""))
        if fs.type_version not in DRA_TYPE_VERSIONS or fs.deployment_type == "SCRATCH_1":
            raise FsxError(
                "BadRequest",
                f"Data repository associations are not supported on file system {fs.file_system_id} "
                f"(Lustre {fs.type_version}, {fs.deployment_type}): they need Lustre 2.12 or 2.15 and not SCRATCH_1.",
            )
        if fs.legacy_repository:
            raise FsxError(
                "BadRequest",
                "This file system has a data repository set with ImportPath/ExportPath; "
                "data repository associations cannot be added to it.",
            )
        if fs.lifecycle != "AVAILABLE":
            raise FsxError("BadRequest", f"File system {fs.file_system_id} is {fs.lifecycle}, not AVAILABLE.")
        fs_path = params.get("FileSystemPath") or "/"
        repo_path = params.get("DataRepositoryPath") or ""
        if not fs_path.startswith("/"):
            raise FsxError("BadRequest", f"FileSystemPath {fs_path!r} must start with '/'.")
        if not repo_path.startswith("s3://") or len(repo_path) <= len("s3://"):
            raise FsxError("BadRequest", f"DataRepositoryPath {repo_path!r} must be an s3:// URL.")
        existing = [a for a in self.associations.values() if a.file_system_id == fs.file_system_id]
        if len(existing) >= MAX_ASSOCIATIONS:
            raise FsxError("ServiceLimitExceeded", "A file system can have at most 8 data repository associations.")
        for other in existing:
            # "Two data repository associations cannot have overlapping file system paths" ("/": the only one).
            if other.covers(fs_path) or _covers(fs_path, other.file_system_path):
                raise FsxError("BadRequest", f"FileSystemPath {fs_path} overlaps association {other.association_id}.")
            # "a unique S3 bucket or prefix" per association; nested prefixes refused too (Assumed).
            if _covers(repo_path, other.data_repository_path) or _covers(other.data_repository_path, repo_path):
                raise FsxError(
                    "BadRequest",
                    f"DataRepositoryPath {repo_path} overlaps association {other.association_id} "
                    f"({other.data_repository_path}).",
                )
        dra_id = f"dra-{_rand(17, '0123456789abcdef')}"
        dra = Association(
            association_id=dra_id,
            resource_arn=f"arn:aws:fsx:{region}:{account}:association/{fs.file_system_id}/{dra_id}",
            file_system_id=fs.file_system_id,
            file_system_path=fs_path,
            data_repository_path=repo_path,
            batch_import=bool(params.get("BatchImportMetaDataOnCreate", False)),
            chunk_size=int(params.get("ImportedFileChunkSize") or 1024),
            s3=dict(params.get("S3") or {}),
            created_at=self.clock.seconds(),
            tags=list(params.get("Tags") or []),
        )
        self.associations[dra_id] = dra
        if token:
            self.tokens[("dra", token)] = dra_id
        sc = self.scenario
        # FSx works on one association request of a file system at a time (the others queue, up to 8): this one's
        # creation starts once the previous one's has ended.
        now = self.clock.seconds()
        start = max(now, self.association_work_ends.get(fs.file_system_id, now))
        self.association_work_ends[fs.file_system_id] = start + sc.association_seconds
        queued = start - now
        bucket = repo_path[len("s3://") :].split("/", 1)[0]
        if self.bucket_exists(bucket) and not self.bucket_seeded:
            self.bucket_seeded = True
            for key, body in sc.bucket_objects.items():
                self.put_object(bucket, key, body)
        if sc.association_outcome == DRA_FAILED or not self.bucket_exists(bucket):
            why = f"bucket {bucket} does not exist" if not self.bucket_exists(bucket) else "emulated failure"
            self.clock.schedule_in(queued + sc.association_seconds, lambda at: self._dra_failed(dra, why), "dra failed")
        elif sc.association_outcome == DRA_MISCONFIGURED_THEN_AVAILABLE:
            self.clock.schedule_in(
                queued + sc.association_seconds, lambda at: self._dra_to(dra, "MISCONFIGURED"), "dra misc"
            )
            self.clock.schedule_in(
                queued + sc.association_seconds + sc.misconfigured_seconds,
                lambda at: self._dra_to(dra, "AVAILABLE"),
                "dra available",
            )
        else:
            self.clock.schedule_in(
                queued + sc.association_seconds, lambda at: self._dra_to(dra, "AVAILABLE"), "dra available"
            )
        if dra.batch_import:
            # AWS_FACTS.md: BatchImportMetaDataOnCreate=true starts an IMPORT task with the association.
            self._start_task(
                fs,
                "IMPORT_METADATA_FROM_REPOSITORY",
                [fs_path.lstrip("/")],
                {"Enabled": False},
                [],
                region,
                account,
                association=dra,
            )
        return dra

    def _dra_to(self, dra: Association, lifecycle: str) -> None:
        if dra.lifecycle in ("CREATING", "MISCONFIGURED", "UPDATING"):
            dra.lifecycle = lifecycle
            if lifecycle == "AVAILABLE":
                dra.failure = None
                if dra.available_at is None:
                    dra.available_at = self.clock.seconds()
            elif lifecycle == "MISCONFIGURED":
                dra.failure = "Amazon FSx cannot configure event notifications on the S3 bucket (emulated)."

    def _dra_failed(self, dra: Association, why: str) -> None:
        if dra.lifecycle in ("CREATING", "MISCONFIGURED"):
            dra.lifecycle, dra.failure = "FAILED", f"Data repository association failed: {why}."
            for task in self.tasks.values():
                if task.file_system_id == dra.file_system_id and task.lifecycle in TASK_RUNNING:
                    self._task_end(task, self.clock.seconds(), "FAILED", "The data repository association failed.")

    def association(self, association_id: str) -> Association:
        dra = self.associations.get(association_id)
        if dra is None:
            raise FsxError(
                "DataRepositoryAssociationNotFound", f"Data repository association {association_id} does not exist."
            )
        return dra

    def describe_associations(self, ids: list[str] | None, filters: list[dict[str, Any]] | None) -> list[Association]:
        if ids:
            return [self.association(i) for i in ids]
        found = list(self.associations.values())
        for flt in filters or []:
            values = set(flt.get("Values") or [])
            if flt.get("Name") == "file-system-id":
                found = [a for a in found if a.file_system_id in values]
            elif flt.get("Name") == "data-repository-type":
                found = [a for a in found if "S3" in values]
        return found

    def update_association(self, params: dict[str, Any]) -> Association:
        dra = self.association(params.get("AssociationId", ""))
        if dra.lifecycle != "AVAILABLE":
            raise FsxError(
                "BadRequest", f"Data repository association {dra.association_id} is {dra.lifecycle}, not AVAILABLE."
            )
        dra.lifecycle = "UPDATING"
        if params.get("ImportedFileChunkSize"):
            dra.chunk_size = int(params["ImportedFileChunkSize"])
        if "S3" in params:
            dra.pending_s3 = dict(params["S3"] or {})
        self.clock.schedule_in(
            self.scenario.association_update_seconds, lambda at: self._dra_updated(dra), "dra updated"
        )
        return dra

    def _dra_updated(self, dra: Association) -> None:
        if dra.lifecycle == "UPDATING":
            if dra.pending_s3 is not None:
                dra.s3, dra.pending_s3 = dra.pending_s3, None
            dra.lifecycle = "AVAILABLE"

    # --- data repository tasks -------------------------------------------------------------------
    def create_task(self, params: dict[str, Any], region: str, account: str) -> RepositoryTask:
        token = params.get("ClientRequestToken")
        if token and ("task", token) in self.tokens:
            return self.tasks[self.tokens[("task", token)]]
        fs = self.get(params.get("FileSystemId", ""))
        task_type = params.get("Type", "")
        if task_type not in ("EXPORT_TO_REPOSITORY", "IMPORT_METADATA_FROM_REPOSITORY"):
            raise FsxError("UnsupportedOperation", f"Data repository task type {task_type} is not emulated.")
        if "Report" not in params:
            raise FsxError("BadRequest", "Report is required.")
        if fs.lifecycle != "AVAILABLE":
            raise FsxError("BadRequest", f"File system {fs.file_system_id} is {fs.lifecycle}, not AVAILABLE.")
        dras = [a for a in self.associations.values() if a.file_system_id == fs.file_system_id]
        if not dras:
            raise FsxError("BadRequest", f"File system {fs.file_system_id} has no data repository.")
        running = [
            t for t in self.tasks.values() if t.file_system_id == fs.file_system_id and t.lifecycle in TASK_RUNNING
        ]
        if running:
            raise FsxError(
                "DataRepositoryTaskExecuting",
                f"Data repository task {running[0].task_id} is in progress on {fs.file_system_id}.",
            )
        if task_type == "EXPORT_TO_REPOSITORY":
            auto = [a.association_id for a in dras if a.export_events() or a.lifecycle == "UPDATING"]
            if auto:
                # AWS_FACTS.md: auto export must be turned off before an EXPORT_TO_REPOSITORY task runs.
                raise FsxError(
                    "BadRequest",
                    f"Cannot run an export task while automatic export is enabled (or "
                    f"being updated) on data repository association {auto[0]}.",
                )
        paths = [p.strip("/") for p in params.get("Paths") or []]
        task = self._start_task(
            fs, task_type, paths, dict(params["Report"]), list(params.get("Tags") or []), region, account
        )
        if token:
            self.tokens[("task", token)] = task.task_id
        return task

    def _start_task(
        self,
        fs: FileSystemState,
        task_type: str,
        paths: list[str],
        report: dict[str, Any],
        tags: list[dict[str, str]],
        region: str,
        account: str,
        association: Association | None = None,
        import_duration: float | None = None,
    ) -> RepositoryTask:
        task_id = f"task-{_rand(17, '0123456789abcdef')}"
        task = RepositoryTask(
            task_id=task_id,
            resource_arn=f"arn:aws:fsx:{region}:{account}:task/{task_id}",
            file_system_id=fs.file_system_id,
            task_type=task_type,
            paths=paths,
            report=report,
            created_at=self.clock.seconds(),
            tags=tags,
        )
        self.tasks[task_id] = task
        sc = self.scenario
        # Known once the task has selected its objects (an import: given for one started by someone else).
        duration = import_duration
        if task_type == "IMPORT_METADATA_FROM_REPOSITORY":
            pending = sc.import_pending_seconds
        else:
            pending = sc.export_pending_seconds
        self.clock.schedule_in(
            pending, lambda at: self._task_executing(task, at, association, duration), f"{task_type} executing"
        )
        return task

    def _task_executing(self, task: RepositoryTask, at: float, dra: Association | None, duration: float | None) -> None:
        if task.lifecycle != "PENDING":
            return
        task.lifecycle, task.start_time = "EXECUTING", at
        fs = self.file_systems[task.file_system_id]
        sc = self.scenario
        if task.task_type == "IMPORT_METADATA_FROM_REPOSITORY":
            assert dra is not None
            bucket, prefix = dra.s3_location(dra.file_system_path)
            task.selected = sorted(self.list_objects(bucket, prefix))
            task.total = len(task.selected) + modelled_objects_under(sc.modelled_objects, prefix)
            if duration is None:
                duration = sc.import_seconds + task.total / IMPORT_OBJECTS_PER_SECOND
            outcome = sc.import_outcome
        else:
            task.selected = self._export_selection(fs, task.paths)
            task.total = len(task.selected)
            duration = sc.export_base_seconds + sc.export_seconds_per_file * len(task.selected)
            outcome = sc.export_outcome
        self.clock.schedule_in(
            duration or 0.0, lambda end: self._task_done(task, end, dra, outcome), f"{task.task_type} done"
        )

    def _export_selection(self, fs: FileSystemState, paths: list[str]) -> list[str]:
        roots = ["/" + p for p in paths] or ["/"]
        dras = [a for a in self.associations.values() if a.file_system_id == fs.file_system_id]
        return sorted(
            p
            for p, f in fs.files.items()
            if f.exported_version < f.version and any(_covers(r, p) for r in roots) and any(a.covers(p) for a in dras)
        )

    def _task_done(self, task: RepositoryTask, at: float, dra: Association | None, outcome: str) -> None:
        if task.lifecycle != "EXECUTING":
            return
        fs = self.file_systems[task.file_system_id]
        if task.task_type == "IMPORT_METADATA_FROM_REPOSITORY":
            assert dra is not None
            if outcome == "FAILED":
                self._task_end(task, at, "FAILED", "The import task failed (emulated failure).")
                return
            # Objects appear on the file system once the import has ended, not before.
            bucket, prefix = dra.s3_location(dra.file_system_path)
            for key, body in self.list_objects(bucket, prefix).items():
                path = dra.file_system_path.rstrip("/") + "/" + key[len(prefix) :].lstrip("/")
                fs.files.setdefault(path, LustreFile(path, body, version=1, exported_version=1, written_at=at))
            task.succeeded = task.total
            self._task_end(task, at, "SUCCEEDED")
            later = self.scenario.later_import
            if later is not None:
                self.scenario.later_import = None  # once: not after the later import itself
                region, account = task.resource_arn.split(":")[3:5]

                def start_later_import(_at: float) -> None:
                    tags = [{"Key": "Name", "Value": "operator"}]
                    self._start_task(fs, task.task_type, [], {"Enabled": False}, tags, region, account, dra, later[1])

                self.clock.schedule_in(later[0], start_later_import, "later import")
            return
        if outcome == "FAILED":
            self._task_end(task, at, "FAILED", "The export task failed (emulated failure).")
            return
        exported = task.selected[1:] if outcome == "SUCCEEDED_WITH_FAILED_FILES" else task.selected
        for path in exported:
            self._copy_to_s3(fs, path)
        task.succeeded, task.failed = len(exported), task.total - len(exported)
        if task.failed and task.report.get("Enabled"):
            bucket, _, prefix = str(task.report.get("Path", ""))[len("s3://") :].partition("/")
            lines = "".join(f"{p},FAILED\n" for p in task.selected[: task.failed])
            self.put_object(bucket, f"{prefix.rstrip('/')}/{task.task_id}/failures.csv".lstrip("/"), lines.encode())
        self._task_end(task, at, "SUCCEEDED")

    def _task_end(self, task: RepositoryTask, at: float, lifecycle: str, failure: str | None = None) -> None:
        task.lifecycle, task.end_time, task.failure = lifecycle, at, failure
        if lifecycle == "FAILED":
            task.failed = task.total - task.succeeded

    def task(self, task_id: str) -> RepositoryTask:
        task = self.tasks.get(task_id)
        if task is None:
            raise FsxError("DataRepositoryTaskNotFound", f"Data repository task {task_id} does not exist.")
        return task

    def describe_tasks(self, ids: list[str] | None, filters: list[dict[str, Any]] | None) -> list[RepositoryTask]:
        if ids:
            return [self.task(i) for i in ids]
        found = sorted(self.tasks.values(), key=lambda t: t.created_at)
        for flt in filters or []:
            values = set(flt.get("Values") or [])
            name = flt.get("Name")
            if name == "file-system-id":
                found = [t for t in found if t.file_system_id in values]
            elif name == "task-lifecycle":
                found = [t for t in found if t.lifecycle in values]
        return found

    def task_to_api(self, task: RepositoryTask) -> dict[str, Any]:
        now = self.clock.seconds()
        succeeded = task.succeeded
        if task.lifecycle == "EXECUTING" and task.start_time is not None and task.total:
            per_file = (
                1.0 / IMPORT_OBJECTS_PER_SECOND
                if task.task_type == "IMPORT_METADATA_FROM_REPOSITORY"
                else self.scenario.export_seconds_per_file or 1.0
            )
            succeeded = min(task.total, int((now - task.start_time) / per_file))
        out: dict[str, Any] = {
            "TaskId": task.task_id,
            "Lifecycle": task.lifecycle,
            "Type": task.task_type,
            "CreationTime": self.clock.at(task.created_at).timestamp(),
            "ResourceARN": task.resource_arn,
            "Tags": task.tags,
            "FileSystemId": task.file_system_id,
            "Paths": task.paths,
            "Report": task.report,
            "Status": {
                "TotalCount": task.total,
                "SucceededCount": succeeded,
                "FailedCount": task.failed,
                "LastUpdatedTime": self.clock.at(now).timestamp(),
            },
        }
        if task.start_time is not None:
            out["StartTime"] = self.clock.at(task.start_time).timestamp()
        if task.end_time is not None:
            out["EndTime"] = self.clock.at(task.end_time).timestamp()
        if task.failure:
            out["FailureDetails"] = {"Message": task.failure}
        return out

    # --- file contents, export -------------------------------------------------------------------
    def write_file(self, file_system_id: str, path: str, data: bytes) -> None:
        """A client (the Batch job) writes ``path`` on the file system."""
        fs = self.get(file_system_id)
        now = self.clock.seconds()
        existing = fs.files.get(path)
        if existing is None:
            fs.files[path] = LustreFile(path, data, written_at=now)
            event = EXPORT_EVENTS_NEW
        else:
            existing.data, existing.version, existing.written_at = data, existing.version + 1, now
            event = EXPORT_EVENTS_CHANGED
        dras = [
            a
            for a in self.associations.values()
            if a.file_system_id == file_system_id
            and a.covers(path)
            and a.lifecycle in ("AVAILABLE", "UPDATING")
            and event in a.export_events()
        ]
        if dras:
            self._enqueue(fs, path)

    def _enqueue(self, fs: FileSystemState, path: str) -> None:
        now = self.clock.seconds()
        fs.queue.append((path, now))
        if self.on_queue_active is not None:
            self.on_queue_active(fs.file_system_id)
        if self.metrics_stuck:
            return
        sc = self.scenario
        done = max(now + sc.auto_export_latency_seconds, fs.queue_last_done + sc.auto_export_seconds_per_file)
        fs.queue_last_done = done
        self.clock.schedule(done, lambda at: self._auto_exported(fs, path, at), "auto export")

    def _auto_exported(self, fs: FileSystemState, path: str, at: float) -> None:
        if fs.gone or fs.lifecycle == "DELETING":
            return
        for i, (queued, _) in enumerate(fs.queue):
            if queued == path:
                del fs.queue[i]
                break
        self._copy_to_s3(fs, path)
        if not fs.queue:
            fs.queue_drained_at = at

    def _copy_to_s3(self, fs: FileSystemState, path: str) -> None:
        lustre_file = fs.files.get(path)
        dra = next(
            (a for a in self.associations.values() if a.file_system_id == fs.file_system_id and a.covers(path)), None
        )
        if lustre_file is None or dra is None:
            return
        bucket, key = dra.s3_location(path)
        self.put_object(bucket, key, lustre_file.data)
        lustre_file.exported_version = lustre_file.version

    def in_s3(self, fs: FileSystemState, path: str) -> bool:
        """Whether the bucket holds file ``path`` of ``fs`` now, with the same content."""
        lustre_file = fs.files.get(path)
        dra = next(
            (a for a in self.associations.values() if a.file_system_id == fs.file_system_id and a.covers(path)), None
        )
        if lustre_file is None or dra is None:
            return False
        bucket, key = dra.s3_location(path)
        return self.list_objects(bucket, key).get(key) == lustre_file.data

    def queue_oldest(self, file_system_id: str) -> float | None:
        """When the oldest file still queued for auto export was queued (None: queue empty)."""
        fs = self.file_systems.get(file_system_id)
        if fs is None or fs.gone or not fs.queue:
            return None
        return min(at for _, at in fs.queue)

    def unexported(self, file_system_id: str) -> list[str]:
        fs = self.file_systems[file_system_id]
        return sorted(p for p, f in fs.files.items() if f.exported_version < f.version)

    def by_mount(self, dns_name: str, mount_name: str) -> FileSystemState | None:
        for fs in self.file_systems.values():
            if not fs.gone and fs.mount_name == mount_name and dns_name.startswith(fs.file_system_id + "."):
                return fs
        return None

    def running_tasks(self, file_system_id: str) -> Iterable[RepositoryTask]:
        return (t for t in self.tasks.values() if t.file_system_id == file_system_id and t.lifecycle in TASK_RUNNING)


def modelled_objects_under(modelled: dict[str, int], prefix: str) -> int:
    """How many modelled objects (key prefix -> count) lie under the linked ``prefix`` ("" : the whole bucket)."""
    return sum(count for key_prefix, count in modelled.items() if key_prefix.startswith(prefix))


def _covers(root: str, path: str) -> bool:
    root = root.rstrip("/")
    return root == "" or path == root or path.startswith(root + "/")

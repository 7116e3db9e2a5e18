"""Where a run's data lives: which bucket prefixes are linked where on the file system (README, "Your data").

The one description every part builds from: the data repository associations the workflow creates, the path its
export task exports, and the bucket objects the state machine's role may reach (asl/iam.py).

- The default layout, the original project's (``dataRepositoryInputPrefix`` ""): the whole bucket is linked at ``/scratch``. The job reads
  and writes anywhere there; what it writes lands at the same key in the bucket.
- A prefix layout (``dataRepositoryInputPrefix`` e.g. ``input/``): ``s3://<bucket>/input/`` is linked at
  ``/scratch/input`` (imported, never exported), and ``s3://<bucket>/<dataRepositoryResultsPrefix><run name>/`` at
  ``/scratch/results`` (exported). The import stays the size of the inputs, and nothing a job does reaches another
  run's results. Elsewhere under ``/scratch`` is scratch space: not exported.
"""

from __future__ import annotations

from dataclasses import dataclass

from batch_lustre.program.asl.naming import FILE_SYSTEM_PATH

INPUT_DIR = "input"  # under /scratch, in a prefix layout
RESULTS_DIR = "results"


@dataclass(frozen=True)
class LinkedPath:
    """One data repository association: a file system path and the bucket path it links."""

    file_system_path: str  # e.g. /scratch/input
    bucket_prefix: str  # key prefix in the bucket ("": the whole bucket); a run's own: ends "<run name>/"
    per_run: bool  # the prefix ends with the run's name (then bucket_prefix is what precedes it)
    imports_on_create: bool  # BatchImportMetaDataOnCreate
    exports: bool  # what the job writes here goes to the bucket (auto export or the export task)


@dataclass(frozen=True)
class DataLayout:
    """The layout the stack config chose (``dataRepositoryInputPrefix``, ``dataRepositoryResultsPrefix``)."""

    input_prefix: str = ""
    results_prefix: str = "runs/"

    @property
    def whole_bucket(self) -> bool:
        return not self.input_prefix

    @property
    def inputs(self) -> LinkedPath:
        """Where the inputs come from: the whole bucket at /scratch, or the input prefix at /scratch/input."""
        if self.whole_bucket:
            return LinkedPath(FILE_SYSTEM_PATH, "", per_run=False, imports_on_create=True, exports=True)
        return LinkedPath(
            f"{FILE_SYSTEM_PATH}/{INPUT_DIR}", self.input_prefix, per_run=False, imports_on_create=True, exports=False
        )

    @property
    def results(self) -> LinkedPath:
        """Where the results go: the same association (the whole bucket), or the run's own prefix."""
        if self.whole_bucket:
            return self.inputs
        return LinkedPath(
            f"{FILE_SYSTEM_PATH}/{RESULTS_DIR}",
            self.results_prefix,
            per_run=True,
            imports_on_create=False,
            exports=True,
        )

    @property
    def associations(self) -> tuple[LinkedPath, ...]:
        """Every association a run creates: the results' last (the one the export section works on)."""
        return (self.inputs,) if self.whole_bucket else (self.inputs, self.results)

    def export_path(self) -> str:
        """The export task's path (relative to the mount point, as data repository tasks take it)."""
        return self.results.file_system_path.lstrip("/")

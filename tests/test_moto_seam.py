"""The moto seam (batch_lustre/emulation/moto_seam.py): the supported moto release is checked first, every patched
moto attribute is declared with the signature the emulation expects, and only the seam imports moto."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from batch_lustre.emulation import Emulation, moto_seam, moto_version
from batch_lustre.emulation.moto_version import SUPPORTED_MOTO, UnsupportedMotoError, check_moto_version

ROOT = Path(__file__).resolve().parent.parent
EMULATION = ROOT / "batch_lustre" / "emulation"


@pytest.mark.parametrize("installed", ["5.2.1", "5.2.6", "6.0.0", "5.2.6.dev0"])
def test_an_unsupported_moto_is_refused_in_one_line_naming_both_versions(monkeypatch, installed):
    monkeypatch.setattr(moto_version.metadata, "version", lambda name: installed)
    with pytest.raises(UnsupportedMotoError) as refused:
        check_moto_version()
    message = str(refused.value)
    assert "\n" not in message
    assert f"moto {installed} is installed" in message
    assert f">={SUPPORTED_MOTO[0]},<{SUPPORTED_MOTO[1]}" in message


def test_the_supported_release_passes(monkeypatch):
    monkeypatch.setattr(moto_version.metadata, "version", lambda name: SUPPORTED_MOTO[0])
    assert check_moto_version() == SUPPORTED_MOTO[0]


def test_the_suite_stops_at_once_under_an_unsupported_moto(tmp_path):
    """A fake moto 5.2.1 distribution ahead of the real one on sys.path: conftest refuses it before any test runs."""
    dist = tmp_path / "moto-5.2.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: moto\nVersion: 5.2.1\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-o", f"cache_dir={tmp_path / 'cache'}",
         "tests/test_user_data.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    expected = (
        f"moto 5.2.1 is installed; batch_lustre.emulation supports moto >={SUPPORTED_MOTO[0]},<{SUPPORTED_MOTO[1]}"
    )
    assert expected in output
    assert " passed" not in output
    assert elapsed < 60


def test_every_patched_moto_attribute_has_the_signature_the_emulation_expects():
    assert moto_seam.drift() == []


def test_a_moved_signature_is_reported_with_both_versions_of_it(monkeypatch):
    key = "moto.batch.models:BatchBackend.cancel_job"
    monkeypatch.setitem(moto_seam.PATCHED, key, "(self, job_id: str) -> None")
    monkeypatch.setitem(moto_seam.PATCHED, "moto.batch.models:BatchBackend.no_such_method", "(self) -> None")
    moved = moto_seam.drift()
    assert len(moved) == 2
    assert moved[0].startswith(f"{key}: expected (self, job_id: str) -> None, found (self, job_id: str, reason: str)")
    assert moved[1].startswith("moto.batch.models:BatchBackend.no_such_method: expected (self) -> None, found <absent>")


def test_an_emulation_patches_exactly_the_declared_attributes():
    with Emulation():
        pass
    assert moto_seam.patched_so_far() == set(moto_seam.PATCHED)


def test_patching_an_undeclared_or_missing_attribute_is_an_error_naming_it():
    with ExitStack() as stack, pytest.raises(moto_seam.MotoSeamError, match="BatchBackend.list_jobs is patched but"):
        moto_seam.patch(stack, moto_seam.BatchBackend, "list_jobs", lambda *a: None)
    with pytest.raises(moto_seam.MotoSeamError, match="has no module moto.stepfunctions.nothing_here"):
        moto_seam.modules(("moto.stepfunctions.nothing_here",))
    with pytest.raises(moto_seam.MotoSeamError, match="moto.batch.models:BatchBackend.gone is missing"):
        moto_seam.resolve("moto.batch.models:BatchBackend.gone")


def test_only_the_seam_imports_moto():
    # Line by line, not ast.parse: CPython 3.11.7's AST constructor can fail spuriously when another thread (an
    # emulation of an earlier test winding down) parses at the same time ("recursion depth mismatch").
    importer = re.compile(r"^\s*(from\s+moto(\.|\s)|import\s+moto(\.|\s|$))")
    importers = [
        f"{path.name}:{number}"
        for path in sorted(EMULATION.glob("*.py"))
        if path.name != "moto_seam.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if importer.match(line)
    ]
    assert importers == []


def test_the_active_emulation_is_what_the_package_exports_and_the_extensions_read():
    import batch_lustre.emulation as package
    from batch_lustre.emulation import active, active_emulation

    assert active is active_emulation.active
    with Emulation() as emu:
        assert package.active() is emu
    with pytest.raises(RuntimeError, match="no Emulation is active"):
        active()

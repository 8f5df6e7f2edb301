"""Shared fixtures: real embedded data, and a copy of the project for corruption tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from xscale.data.manifest import project_root

ROOT = project_root()


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of data_manifest.json and data/, selected through $XSCALE_ROOT."""
    dst = tmp_path / "project"
    dst.mkdir()
    shutil.copy2(ROOT / "data_manifest.json", dst / "data_manifest.json")
    shutil.copytree(ROOT / "data", dst / "data")
    monkeypatch.setenv("XSCALE_ROOT", str(dst))
    return dst


@pytest.fixture(scope="session")
def synthetic_adni(tmp_path_factory: pytest.TempPathFactory):
    """A SYNTHETIC ADNI-format cohort (CN 926, AD 426 after exclusions), ADNIMERGE and DXSUM + PTDEMOG."""
    from xscale.data.synthetic import write_synthetic_adni

    return write_synthetic_adni(tmp_path_factory.mktemp("adni") / "synthetic", seed=0, clinical="both")

"""Atomic outputs: nothing half-written survives an error."""

from __future__ import annotations

import json

import pytest

from xscale.rundir import staged_directory, write_json


def test_error_inside_stage_leaves_nothing(tmp_path):
    dest = tmp_path / "run"
    with pytest.raises(RuntimeError):
        with staged_directory(dest) as stage:
            write_json(stage / "metrics.json", {"r2": 1.0})
            raise RuntimeError("interrupted")
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_existing_destination_is_kept_unless_overwrite(tmp_path):
    dest = tmp_path / "run"
    with staged_directory(dest) as stage:
        write_json(stage / "a.json", {"v": 1})
    with pytest.raises(FileExistsError, match="--overwrite"):
        with staged_directory(dest):
            pass
    with pytest.raises(RuntimeError):
        with staged_directory(dest, overwrite=True) as stage:
            write_json(stage / "a.json", {"v": 2})
            raise RuntimeError
    assert json.loads((dest / "a.json").read_text()) == {"v": 1}
    with staged_directory(dest, overwrite=True) as stage:
        write_json(stage / "a.json", {"v": 3})
    assert json.loads((dest / "a.json").read_text()) == {"v": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_nan_is_written_as_null(tmp_path):
    write_json(tmp_path / "m.json", {"r": float("nan"), "x": [1.5]})
    assert json.loads((tmp_path / "m.json").read_text()) == {"r": None, "x": [1.5]}

"""Atomic outputs: nothing half-written survives an error."""

from __future__ import annotations

import json
import os
import stat

import pytest

from xscale.rundir import staged_directory, write_json, write_text_atomic


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


@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700),
                                                       (0o002, 0o664, 0o775)])
def test_outputs_get_the_permissions_of_any_new_file(tmp_path, mask, file_mode, dir_mode):
    """Temporary files and directories are private (mkstemp 0600, mkdtemp 0700); what is renamed into
    place must not be, or colleagues on a shared server cannot read the results."""
    old = os.umask(mask)
    try:
        with staged_directory(tmp_path / "run") as stage:
            write_json(stage / "metrics.json", {"r": 0.5})
            (stage / "plain.txt").write_text("written by open()")
        single = write_text_atomic(tmp_path / "results.md", "# results\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == dir_mode
    for f in (tmp_path / "run" / "metrics.json", tmp_path / "run" / "plain.txt", single):
        assert stat.S_IMODE(f.stat().st_mode) == file_mode, f
